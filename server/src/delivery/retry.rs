//! How persistently a message is retried: a number of tries, and the SDK's retry timing
//! (`beckon::common::retry`: exponential backoff with jitter, unless the provider said
//! when, always within a cap).

use std::time::Duration;

use beckon::common::RetryPolicy;

pub use beckon::common::retry::parse_retry_after;

/// How persistently a message is retried (DESIGN.md §4 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryRetry {
    /// Tries in all, the first included; at least one is always made.
    pub max_attempts: u32,
    /// The waits between tries. A provider's `Retry-After` is bounded by the same cap
    /// as computed waits: a delivery is worth less the later it arrives.
    pub timing: RetryPolicy,
}

impl Default for DeliveryRetry {
    fn default() -> Self {
        let timing = RetryPolicy::default();
        Self {
            max_attempts: 5,
            timing: RetryPolicy {
                max_retry_after: timing.cap,
                ..timing
            },
        }
    }
}

impl DeliveryRetry {
    /// The wait after the `failed_attempts`-th failed try (1 for the first);
    /// `random_unit` is a uniform sample in `[0, 1)`.
    pub fn delay(
        &self,
        failed_attempts: u32,
        retry_after: Option<Duration>,
        random_unit: f64,
    ) -> Duration {
        self.timing
            .delay(failed_attempts.saturating_sub(1), retry_after, random_unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon::common::RetryPolicy;

    const NO_JITTER: f64 = 0.5;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy = DeliveryRetry::default();
        let waits: Vec<f64> = (1..=6)
            .map(|n| secs(policy.delay(n, None, NO_JITTER)))
            .collect();
        assert_eq!(waits, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!(
            policy.delay(u32::MAX, None, NO_JITTER),
            Duration::from_secs(300)
        );
        // The first failed attempt waits the base even when counted from zero.
        assert_eq!(policy.delay(0, None, NO_JITTER), policy.timing.base);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_never_exceeds_the_cap() {
        // The shared backoff is tested in `beckon::protocol`; this checks its use here.
        let policy = DeliveryRetry::default();
        assert_eq!(secs(policy.delay(3, None, 0.0)), 1.8);
        assert_eq!(secs(policy.delay(3, None, 1.0)), 2.2);
        for i in 0..=100 {
            let wait = secs(policy.delay(3, None, i as f64 / 100.0));
            assert!((1.8..=2.2).contains(&wait), "{wait}");
            let capped = policy.delay(40, None, i as f64 / 100.0);
            assert!(capped <= policy.timing.cap, "{capped:?}");
        }
        // Out-of-range samples and jitter fractions are clamped, not trusted.
        let wild = DeliveryRetry {
            timing: RetryPolicy {
                jitter: 7.0,
                ..policy.timing
            },
            ..policy
        };
        assert_eq!(wild.delay(1, None, -3.0), Duration::ZERO);
        assert_eq!(secs(wild.delay(1, None, 9.0)), 1.0);
    }

    #[test]
    fn retry_after_wins_over_backoff_without_jitter_but_within_the_cap() {
        let policy = DeliveryRetry::default();
        let asked = Duration::from_secs(7);
        for random in [0.0, 0.5, 0.99] {
            assert_eq!(policy.delay(1, Some(asked), random), asked);
            assert_eq!(policy.delay(9, Some(asked), random), asked);
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(86_400)), 0.5),
            policy.timing.cap
        );
        assert_eq!(policy.delay(4, Some(Duration::ZERO), 0.5), Duration::ZERO);
    }
}
