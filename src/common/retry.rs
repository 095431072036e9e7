//! Retry timing shared by the SDK's uploads and the server's deliveries: exponential
//! backoff with jitter, and the peer's `Retry-After`, which wins over it. Plain
//! functions: the caller passes the random sample and the clock.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// How long to wait between tries (DESIGN.md §4 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The wait after the first failed try; it doubles after each further one.
    pub base: Duration,
    /// No computed wait is longer.
    pub cap: Duration,
    /// Fraction of the computed wait randomly added or removed (0.1 for ±10 %), so
    /// clients that failed together do not retry together.
    pub jitter: f64,
    /// Upper bound on a peer's `Retry-After`, so a misconfigured server or provider
    /// cannot stall retries for days.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(300),
            jitter: 0.1,
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` consecutive failed tries before the last one (0 after
    /// the first failure). The peer's `Retry-After` is taken as is, without jitter
    /// (waiting less would earn another 429), within `max_retry_after`; otherwise
    /// [`backoff`]. `random_unit` is a uniform sample in `[0, 1)`.
    pub fn delay(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        random_unit: f64,
    ) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => backoff(failures, self.base, self.cap, self.jitter, random_unit),
        }
    }
}

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

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3), in any of the
/// three forms a recipient must accept (§5.6.7): IMF-fixdate, the obsolete RFC 850 form
/// and asctime's. A date in the past means "now"; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = http_date(value, now)?;
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP date, read at `now` (which places RFC 850's two-digit years).
fn http_date(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc2822(value) {
        return Some(date.with_timezone(&Utc));
    }
    // asctime: `Sun Nov  6 08:49:37 1994`, in UTC.
    if let Ok(date) = NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y") {
        return Some(date.and_utc());
    }
    // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. A two-digit year more than 50 years
    // ahead is the last one in the past with those digits. The weekday is not checked:
    // it names a day of the century meant, which the parser cannot know.
    let (_weekday, rest) = value.strip_suffix(" GMT")?.split_once(", ")?;
    let date = NaiveDateTime::parse_from_str(rest, "%d-%b-%y %H:%M:%S").ok()?;
    let two_digits = date.year().rem_euclid(100);
    let mut year = now.year() - now.year().rem_euclid(100) + two_digits;
    if year > now.year() + 50 {
        year -= 100;
    }
    Some(date.with_year(year)?.and_utc())
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

    #[test]
    fn reads_the_obsolete_date_forms_recipients_must_accept() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let thirty = Some(Duration::from_secs(30));
        assert_eq!(
            parse_retry_after("Monday, 23-Nov-26 10:00:30 GMT", now),
            thirty
        );
        assert_eq!(parse_retry_after("Mon Nov 23 10:00:30 2026", now), thirty);
        assert_eq!(
            parse_retry_after("Mon Nov  2 10:00:00 2026", now),
            Some(Duration::ZERO),
            "a day padded with a space, in the past"
        );
        // RFC 850's two-digit year: 94 is 1994, not 2094 (over 50 years ahead).
        assert_eq!(
            http_date("Sunday, 06-Nov-94 08:49:37 GMT", now).map(|d| d.to_rfc3339()),
            Some("1994-11-06T08:49:37+00:00".into())
        );
        assert_eq!(
            http_date("Friday, 06-Nov-76 08:49:37 GMT", now).map(|d| d.to_rfc3339()),
            Some("2076-11-06T08:49:37+00:00".into())
        );
        assert_eq!(
            parse_retry_after("Monday, 23-Nov-26 10:00:30 UTC", now),
            None
        );
        assert_eq!(parse_retry_after("Mon Nov 23 25:00:30 2026", now), None);
    }

    #[test]
    fn retry_after_wins_over_backoff_without_jitter_but_within_its_bound() {
        let policy = RetryPolicy::default();
        let asked = Duration::from_secs(7);
        for random in [0.0, 0.5, 0.99] {
            assert_eq!(policy.delay(0, Some(asked), random), asked);
            assert_eq!(policy.delay(9, Some(asked), random), asked);
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(86_400)), 0.5),
            policy.max_retry_after
        );
        assert_eq!(policy.delay(3, None, 0.5), Duration::from_secs(4));
    }
}
