//! How long to wait before trying a message again: exponential backoff with jitter,
//! unless the provider said when (`Retry-After` wins), always within a cap.

use std::time::Duration;

/// How persistently a message is retried (DESIGN.md §4 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; at least one is always made.
    pub max_attempts: u32,
    /// The wait after the first failed try; it doubles after each further one.
    pub base: Duration,
    /// No wait is longer, whether computed or asked for by the provider.
    pub max: Duration,
    /// Fraction of the computed wait randomly added or removed (0.1 for ±10 %), so
    /// messages that failed together are not retried together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(300),
            jitter: 0.1,
        }
    }
}

/// The wait after the `failed_attempts`-th failed try (1 for the first).
///
/// A provider's `Retry-After` is taken as is, without jitter (waiting less would earn
/// another 429), but capped by `policy.max`. Otherwise `base · 2^(failed_attempts − 1)`,
/// capped, then moved by up to ±`jitter`; `random_unit` is a uniform sample in `[0, 1)`.
pub fn retry_delay(
    policy: &RetryPolicy,
    failed_attempts: u32,
    retry_after: Option<Duration>,
    random_unit: f64,
) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(policy.max);
    }
    beckon::protocol::backoff(
        failed_attempts.saturating_sub(1),
        policy.base,
        policy.max,
        policy.jitter,
        random_unit,
    )
}

pub use beckon::protocol::parse_retry_after;

#[cfg(test)]
mod tests {
    use super::*;

    const NO_JITTER: f64 = 0.5;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<f64> = (1..=6)
            .map(|n| secs(retry_delay(&policy, n, None, NO_JITTER)))
            .collect();
        assert_eq!(waits, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!(
            retry_delay(&policy, u32::MAX, None, NO_JITTER),
            Duration::from_secs(300)
        );
        // The first failed attempt waits the base even when counted from zero.
        assert_eq!(retry_delay(&policy, 0, None, NO_JITTER), policy.base);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_never_exceeds_the_cap() {
        // The shared backoff is tested in `beckon::protocol`; this checks its use here.
        let policy = RetryPolicy::default();
        assert_eq!(secs(retry_delay(&policy, 3, None, 0.0)), 1.8);
        assert_eq!(secs(retry_delay(&policy, 3, None, 1.0)), 2.2);
        for i in 0..=100 {
            let wait = secs(retry_delay(&policy, 3, None, i as f64 / 100.0));
            assert!((1.8..=2.2).contains(&wait), "{wait}");
            let capped = retry_delay(&policy, 40, None, i as f64 / 100.0);
            assert!(capped <= policy.max, "{capped:?}");
        }
        // Out-of-range samples and jitter fractions are clamped, not trusted.
        let wild = RetryPolicy {
            jitter: 7.0,
            ..policy
        };
        assert_eq!(retry_delay(&wild, 1, None, -3.0), Duration::ZERO);
        assert_eq!(secs(retry_delay(&wild, 1, None, 9.0)), 1.0);
    }

    #[test]
    fn retry_after_wins_over_backoff_without_jitter_but_within_the_cap() {
        let policy = RetryPolicy::default();
        let asked = Duration::from_secs(7);
        for random in [0.0, 0.5, 0.99] {
            assert_eq!(retry_delay(&policy, 1, Some(asked), random), asked);
            assert_eq!(retry_delay(&policy, 9, Some(asked), random), asked);
        }
        assert_eq!(
            retry_delay(&policy, 1, Some(Duration::from_secs(86_400)), 0.5),
            policy.max
        );
        assert_eq!(
            retry_delay(&policy, 4, Some(Duration::ZERO), 0.5),
            Duration::ZERO
        );
    }
}
