//! When to sync, as plain functions over plain data like the upload policy: no clocks
//! and no randomness inside, callers pass them in.
//!
//! Definitions change rarely and the device always has a copy to run on, so syncing
//! is never urgent: a failure is retried with the upload backoff but never sooner than
//! the server asks, and never more often than the regular interval once the backoff
//! grows past it. A document the server keeps getting wrong is not downloaded again
//! before the next interval.

use std::time::Duration;

use crate::net::policy::{self, Decision, Outcome, RetryPolicy};

/// Foreground syncs closer together than this are skipped: switching between apps
/// should not cost a request each time.
pub const MIN_FOREGROUND_GAP: Duration = Duration::from_secs(60);

/// Why a sync is about to run, from least to most insistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncTrigger {
    /// The regular interval (or a retry) came due.
    Timer,
    /// The app came to the foreground.
    Foreground,
    /// The SDK started.
    Start,
    /// The app called `sync()` and waits for the answer.
    Explicit,
}

/// How an attempt ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The stored copy is current, or was replaced.
    Succeeded,
    /// Retrying soon cannot help: the document was invalid, the request was refused
    /// (a 4xx), or the configuration is wrong.
    Refused,
    /// Worth retrying: a network error, a 5xx, 408 or 429.
    Failed(Outcome),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextSync {
    /// When the timer syncs next; `None` when syncing on a timer is off.
    pub timer: Option<Duration>,
    /// The server's `Retry-After`: no sync at all before it, not even an explicit one.
    pub hold: Option<Duration>,
}

/// Schedules the next sync. `failures` counts the consecutive failed attempts before
/// this one; `interval` is `None` when the app turned timer syncs off, which also
/// turns off retries; `random_unit` is a uniform sample in `[0, 1)` for the jitter.
pub fn next_sync(
    result: AttemptResult,
    failures: u32,
    interval: Option<Duration>,
    retry: &RetryPolicy,
    random_unit: f64,
) -> NextSync {
    let regular = NextSync {
        timer: interval,
        hold: None,
    };
    let AttemptResult::Failed(outcome) = result else {
        return regular;
    };
    match policy::decide(outcome, failures, retry, random_unit) {
        Decision::Delete | Decision::Drop => regular,
        Decision::Retry { delay } => {
            let server_said = matches!(
                outcome,
                Outcome::Status {
                    retry_after: Some(_),
                    ..
                }
            );
            if server_said {
                NextSync {
                    timer: interval.map(|_| delay),
                    hold: Some(delay),
                }
            } else {
                NextSync {
                    timer: interval.map(|regular| delay.min(regular)),
                    hold: None,
                }
            }
        }
    }
}

/// Why a requested sync does not run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The server's `Retry-After` still holds for this long.
    Held(Duration),
    /// A foreground sync too soon after the previous attempt.
    TooSoon,
}

/// Whether a sync for `trigger` may start, given the time since the last attempt
/// (`None`: there was none) and what is left of the server's hold.
pub fn may_start(
    trigger: SyncTrigger,
    since_last_attempt: Option<Duration>,
    hold_left: Option<Duration>,
) -> Result<(), Skip> {
    if let Some(left) = hold_left.filter(|left| !left.is_zero()) {
        return Err(Skip::Held(left));
    }
    match (trigger, since_last_attempt) {
        (SyncTrigger::Foreground, Some(since)) if since < MIN_FOREGROUND_GAP => Err(Skip::TooSoon),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIDDLE: f64 = 0.5; // no jitter
    const INTERVAL: Option<Duration> = Some(Duration::from_secs(900));

    fn status(code: u16, retry_after: Option<u64>) -> AttemptResult {
        AttemptResult::Failed(Outcome::Status {
            code,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn timer_after(result: AttemptResult, failures: u32) -> Option<Duration> {
        next_sync(result, failures, INTERVAL, &RetryPolicy::default(), MIDDLE).timer
    }

    #[test]
    fn success_and_refusals_wait_the_regular_interval() {
        for result in [
            AttemptResult::Succeeded,
            AttemptResult::Refused,
            status(404, None),
        ] {
            assert_eq!(
                next_sync(result, 7, INTERVAL, &RetryPolicy::default(), MIDDLE),
                NextSync {
                    timer: INTERVAL,
                    hold: None
                },
                "{result:?}"
            );
        }
    }

    #[test]
    fn failures_back_off_but_never_past_the_interval() {
        let network = AttemptResult::Failed(Outcome::NetworkError);
        assert_eq!(timer_after(network, 0), Some(Duration::from_millis(500)));
        assert_eq!(
            timer_after(status(503, None), 3),
            Some(Duration::from_secs(4))
        );
        // The upload cap is 5 minutes; the sync interval is longer, so the cap wins.
        assert_eq!(timer_after(network, 40), Some(Duration::from_secs(300)));
        let every_minute = Some(Duration::from_secs(60));
        let capped = next_sync(network, 40, every_minute, &RetryPolicy::default(), MIDDLE);
        assert_eq!(capped.timer, every_minute);
    }

    #[test]
    fn the_servers_retry_after_holds_even_past_the_interval() {
        let throttled = status(429, Some(1800));
        assert_eq!(
            next_sync(throttled, 0, INTERVAL, &RetryPolicy::default(), MIDDLE),
            NextSync {
                timer: Some(Duration::from_secs(1800)),
                hold: Some(Duration::from_secs(1800))
            }
        );
    }

    #[test]
    fn without_an_interval_nothing_runs_on_a_timer_but_holds_still_apply() {
        let network = AttemptResult::Failed(Outcome::NetworkError);
        let next = next_sync(network, 0, None, &RetryPolicy::default(), MIDDLE);
        assert_eq!(
            next,
            NextSync {
                timer: None,
                hold: None
            }
        );
        let next = next_sync(
            status(503, Some(30)),
            0,
            None,
            &RetryPolicy::default(),
            MIDDLE,
        );
        assert_eq!(
            next,
            NextSync {
                timer: None,
                hold: Some(Duration::from_secs(30))
            }
        );
    }

    #[test]
    fn foreground_syncs_are_spaced_and_holds_stop_everything() {
        let recent = Some(Duration::from_secs(5));
        assert_eq!(
            may_start(SyncTrigger::Foreground, recent, None),
            Err(Skip::TooSoon)
        );
        assert_eq!(
            may_start(SyncTrigger::Foreground, Some(MIN_FOREGROUND_GAP), None),
            Ok(())
        );
        assert_eq!(may_start(SyncTrigger::Foreground, None, None), Ok(()));
        assert_eq!(may_start(SyncTrigger::Explicit, recent, None), Ok(()));
        let held = Some(Duration::from_secs(12));
        for trigger in [
            SyncTrigger::Explicit,
            SyncTrigger::Start,
            SyncTrigger::Timer,
        ] {
            assert_eq!(
                may_start(trigger, None, held),
                Err(Skip::Held(Duration::from_secs(12)))
            );
            assert_eq!(may_start(trigger, None, Some(Duration::ZERO)), Ok(()));
        }
    }

    #[test]
    fn the_more_insistent_trigger_wins_when_requests_merge() {
        assert!(SyncTrigger::Explicit > SyncTrigger::Start);
        assert!(SyncTrigger::Start > SyncTrigger::Foreground);
        assert!(SyncTrigger::Foreground > SyncTrigger::Timer);
    }
}
