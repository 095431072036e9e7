//! Retry timing shared by the SDK's uploads and the server's deliveries: exponential
//! backoff with jitter, and the peer's `Retry-After`, which wins over it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `base · 2^failures`, capped at `cap`, then moved by up to ±`jitter` (0.1 for ±10 %)
/// so that clients which failed together do not retry together. `failures` counts the
/// failed attempts before the first one (0 after one failure); `random_unit` is a
/// uniform sample in `[0, 1)`. Never more than `cap`.
pub fn backoff(
    failures: u32,
    base: Duration,
    cap: Duration,
    jitter: f64,
    random_unit: f64,
) -> Duration {
    let exponential = base.as_secs_f64() * 2f64.powi(failures.min(62) as i32);
    let capped = exponential.min(cap.as_secs_f64());
    let jitter = jitter.clamp(0.0, 1.0);
    let spread = 1.0 + jitter * (2.0 * random_unit.clamp(0.0, 1.0) - 1.0);
    Duration::from_secs_f64((capped * spread).clamp(0.0, cap.as_secs_f64()))
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A date in
/// the past means "now"; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(500);
    const CAP: Duration = Duration::from_secs(300);

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let no_jitter = |failures| backoff(failures, BASE, CAP, 0.1, 0.5);
        assert_eq!(no_jitter(0), BASE);
        assert_eq!(no_jitter(1), Duration::from_secs(1));
        assert_eq!(no_jitter(3), Duration::from_secs(4));
        assert_eq!(no_jitter(20), CAP);
        assert_eq!(no_jitter(u32::MAX), CAP);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_never_passes_the_cap() {
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999_999] {
            let d = backoff(2, BASE, CAP, 0.1, unit).as_secs_f64();
            assert!((1.8..=2.2).contains(&d), "{d}");
            assert!(backoff(30, BASE, CAP, 0.1, unit) <= CAP);
        }
        // Out-of-range inputs are clamped rather than trusted.
        assert_eq!(backoff(1, BASE, CAP, 5.0, 2.0), Duration::from_secs(2));
    }

    #[test]
    fn parses_both_forms_of_retry_after() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
