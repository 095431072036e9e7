//! What an attempt's answer means for the next one, as plain functions over plain data
//! (DESIGN.md §3): keep or drop what was sent, and how long to wait. Uploads and the
//! definitions sync both decide with it. No I/O, no clocks, no randomness inside:
//! callers pass them in.

use std::time::Duration;

pub use crate::common::RetryPolicy;

/// How an upload attempt ended, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this status. `retry_after` is its `Retry-After`, parsed.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// A 401 listing users whose identity token the server refused (missing, invalid,
    /// expired). The events are valid: they wait for new tokens from the app.
    IdentityRefused,
    /// No usable answer: connection refused or dropped, timeout, TLS failure.
    NetworkError,
}

/// What to do with the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Delivered: delete it.
    Delete,
    /// The server will never accept it: delete it and count it as dropped, so one bad
    /// batch cannot block the ones behind it.
    Drop,
    /// Keep it and try again after `delay`.
    Retry { delay: Duration },
}

/// Decides the fate of a batch. `failures` counts the consecutive failed attempts
/// before this one; `random_unit` is a uniform sample in `[0, 1)` for the jitter.
pub fn decide(outcome: Outcome, failures: u32, policy: &RetryPolicy, random_unit: f64) -> Decision {
    let retry_after = match outcome {
        Outcome::Status {
            code: 200..=299, ..
        } => return Decision::Delete,
        Outcome::Status {
            code: 408 | 429,
            retry_after,
        } => retry_after,
        Outcome::Status {
            code: 400..=499, ..
        } => return Decision::Drop,
        Outcome::Status { retry_after, .. } => retry_after,
        Outcome::IdentityRefused | Outcome::NetworkError => None,
    };
    Decision::Retry {
        delay: policy.delay(failures, retry_after, random_unit),
    }
}

/// The wait after `failures` consecutive failures with no `Retry-After` to go by.
pub fn backoff(failures: u32, policy: &RetryPolicy, random_unit: f64) -> Duration {
    policy.delay(failures, None, random_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            code,
            retry_after: None,
        }
    }

    const MIDDLE: f64 = 0.5; // no jitter

    #[test]
    fn success_deletes_and_client_errors_drop() {
        let p = RetryPolicy::default();
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(
                decide(status(code), 3, &p, MIDDLE),
                Decision::Delete,
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 413, 422, 499] {
            assert_eq!(
                decide(status(code), 0, &p, MIDDLE),
                Decision::Drop,
                "{code}"
            );
        }
    }

    #[test]
    fn timeouts_throttling_server_errors_and_network_errors_retry() {
        let p = RetryPolicy::default();
        for outcome in [
            status(408),
            status(429),
            status(500),
            status(502),
            status(503),
            Outcome::NetworkError,
        ] {
            assert!(
                matches!(decide(outcome, 0, &p, MIDDLE), Decision::Retry { .. }),
                "{outcome:?}"
            );
        }
        // Redirects and informational answers are not successes either.
        assert!(matches!(
            decide(status(302), 0, &p, MIDDLE),
            Decision::Retry { .. }
        ));
    }

    #[test]
    fn an_identity_refusal_keeps_the_batch_with_the_usual_backoff() {
        let p = RetryPolicy::default();
        for failures in [0, 3, 20] {
            assert_eq!(
                decide(Outcome::IdentityRefused, failures, &p, MIDDLE),
                Decision::Retry {
                    delay: backoff(failures, &p, MIDDLE)
                }
            );
        }
        // Any other 401 is a batch the server will never take.
        assert_eq!(decide(status(401), 0, &p, MIDDLE), Decision::Drop);
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let p = RetryPolicy::default();
        let delays: Vec<f64> = (0..12)
            .map(|n| backoff(n, &p, MIDDLE).as_secs_f64())
            .collect();
        assert_eq!(&delays[..4], &[0.5, 1.0, 2.0, 4.0]);
        assert_eq!(delays[11], 300.0);
        assert_eq!(backoff(u32::MAX, &p, MIDDLE), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(2, &p, 0.0), Duration::from_secs_f64(1.8));
        assert_eq!(backoff(2, &p, 1.0), Duration::from_secs_f64(2.2));
        for i in 0..100 {
            let d = backoff(4, &p, i as f64 / 100.0).as_secs_f64();
            assert!((7.2..=8.8).contains(&d), "{d}");
        }
    }

    #[test]
    fn retry_after_wins_over_backoff_but_is_bounded() {
        let p = RetryPolicy::default();
        let throttled = Outcome::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            decide(throttled, 10, &p, MIDDLE),
            Decision::Retry {
                delay: Duration::from_secs(7)
            }
        );
        let unavailable = Outcome::Status {
            code: 503,
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            decide(unavailable, 10, &p, MIDDLE),
            Decision::Retry {
                delay: Duration::from_secs(1)
            }
        );
        let forever = Outcome::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(86_400 * 30)),
        };
        assert_eq!(
            decide(forever, 0, &p, MIDDLE),
            Decision::Retry {
                delay: p.max_retry_after
            }
        );
    }
}
