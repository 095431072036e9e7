//! Users whose events wait for a new identity token, while everyone else's go on.
//!
//! When the server refuses a user's token, that user's events stay queued and the app
//! is asked for a new token; the other users' events (the anonymous ones, the user who
//! signed in since) keep uploading, so one user the app's backend will not vouch for
//! any more cannot hold up the queue behind them. A held user is tried again when the
//! app sets a token, or after a backoff of their own. Plain data with time and
//! randomness passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::net::policy::{backoff, RetryPolicy};
use crate::protocol::{IdentityProblem, IdentityRefusal};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hold {
    problem: IdentityProblem,
    /// Refusals in a row, for the backoff.
    refusals: u32,
    /// When the user's events are tried again without a new token.
    until: Instant,
}

#[derive(Debug, Default)]
pub struct HeldUsers {
    held: BTreeMap<String, Hold>,
}

impl HeldUsers {
    /// The server refused these users' tokens at `now`: hold their events back.
    pub fn hold(
        &mut self,
        refusals: &[IdentityRefusal],
        now: Instant,
        policy: &RetryPolicy,
        random_unit: f64,
    ) {
        for refusal in refusals {
            let refusals = self
                .held
                .get(&refusal.user_id)
                .map_or(0, |hold| hold.refusals);
            self.held.insert(
                refusal.user_id.clone(),
                Hold {
                    problem: refusal.problem,
                    refusals: refusals.saturating_add(1),
                    until: now + backoff(refusals, policy, random_unit),
                },
            );
        }
    }

    /// The app set a new token for `user_id`: their events go with the next upload.
    pub fn release(&mut self, user_id: &str) {
        self.held.remove(user_id);
    }

    /// The users whose events stay out of uploads at `now`.
    pub fn excluded(&self, now: Instant) -> BTreeSet<String> {
        self.held
            .iter()
            .filter(|(_, hold)| hold.until > now)
            .map(|(user, _)| user.clone())
            .collect()
    }

    /// When the next held user is tried again without a new token.
    pub fn next_retry(&self, now: Instant) -> Option<Instant> {
        self.held
            .values()
            .map(|hold| hold.until)
            .filter(|until| *until > now)
            .min()
    }

    /// The users held and why, for a flush's report.
    pub fn refusals(&self) -> Vec<IdentityRefusal> {
        self.held
            .iter()
            .map(|(user_id, hold)| IdentityRefusal {
                user_id: user_id.clone(),
                problem: hold.problem,
            })
            .collect()
    }

    /// Time until the next retry, for a flush's report.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.next_retry(now).map(|at| at - now)
    }

    /// The local data was deleted, the held events with it.
    pub fn forget(&mut self) {
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIDDLE: f64 = 0.5;

    fn refused(user_id: &str, problem: IdentityProblem) -> IdentityRefusal {
        IdentityRefusal {
            user_id: user_id.into(),
            problem,
        }
    }

    #[test]
    fn a_refused_user_is_held_with_a_growing_backoff_until_a_token_comes() {
        let policy = RetryPolicy::default();
        let mut held = HeldUsers::default();
        let t0 = Instant::now();
        held.hold(
            &[refused("alice", IdentityProblem::Expired)],
            t0,
            &policy,
            MIDDLE,
        );
        assert_eq!(held.excluded(t0), BTreeSet::from(["alice".to_string()]));
        assert_eq!(held.next_retry(t0), Some(t0 + policy.base));
        // Tried again after the backoff and refused again: twice as long.
        let t1 = t0 + policy.base;
        assert!(held.excluded(t1).is_empty(), "due again");
        held.hold(
            &[refused("alice", IdentityProblem::Expired)],
            t1,
            &policy,
            MIDDLE,
        );
        assert_eq!(held.next_retry(t1), Some(t1 + policy.base * 2));
        assert_eq!(held.retry_in(t1), Some(policy.base * 2));
        assert_eq!(
            held.refusals(),
            [refused("alice", IdentityProblem::Expired)]
        );
        held.release("alice");
        assert!(held.refusals().is_empty());
        assert!(held.excluded(t1).is_empty());
        assert_eq!(held.next_retry(t1), None);
    }

    #[test]
    fn users_are_held_independently() {
        let policy = RetryPolicy::default();
        let mut held = HeldUsers::default();
        let now = Instant::now();
        held.hold(
            &[
                refused("alice", IdentityProblem::Missing),
                refused("bob", IdentityProblem::Invalid),
            ],
            now,
            &policy,
            MIDDLE,
        );
        held.release("bob");
        assert_eq!(held.excluded(now), BTreeSet::from(["alice".to_string()]));
        held.forget();
        assert!(held.refusals().is_empty());
    }
}
