//! Verified identities on the way out: which users a batch names, and the tokens it
//! carries for them. Reading the server's refusals and asking the app for new tokens is
//! `net::identity`'s, shared with the sync.
//!
//! The app's backend signs each user id; the app hands the token to `identify` or
//! `set_identity_token`, and the store keeps it. A batch carries the token of every
//! user among its events. When the server refuses one (missing, invalid, expired), that
//! user's events stay queued (`hold`) while the others go on, and the app's
//! `IdentityTokenListener` is asked for a new token; a new token sends them at once.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::store::QueuedEvent;

/// The user ids among stored events, read from their payloads (the queue stores the
/// wire events as serialized at `track`, so `track` pays nothing for this).
pub fn batch_user_ids(events: &[QueuedEvent]) -> BTreeSet<String> {
    events.iter().filter_map(user_of).collect()
}

/// The user id of a stored event, if it has one. Parsing skips over everything but
/// `user_id` without building it.
pub fn user_of(event: &QueuedEvent) -> Option<String> {
    #[derive(Deserialize)]
    struct UserOf<'a> {
        #[serde(borrow, default)]
        user_id: Option<Cow<'a, str>>,
    }
    let user = serde_json::from_slice::<UserOf>(&event.payload).ok()?;
    user.user_id.map(Cow::into_owned)
}

/// The batch's `identity_tokens`: those of the `stored` tokens whose users have events
/// in `events`. The payloads are read only when some token is stored, so an app that
/// gives none pays nothing for this.
pub fn batch_tokens(
    stored: BTreeMap<String, String>,
    events: &[QueuedEvent],
) -> BTreeMap<String, String> {
    if stored.is_empty() {
        return stored;
    }
    let users = batch_user_ids(events);
    stored
        .into_iter()
        .filter(|(user_id, _)| users.contains(user_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(payload: &str) -> QueuedEvent {
        QueuedEvent {
            seq: 1,
            payload: payload.as_bytes().to_vec(),
        }
    }
    #[test]
    fn the_users_of_a_batch_come_from_the_payloads_not_from_properties() {
        let events = [
            queued(r#"{"id":"1","properties":{"user_id":"not-a-user"},"anonymous_id":"a"}"#),
            queued(r#"{"id":"2","anonymous_id":"a","user_id":"alice"}"#),
            queued(r#"{"id":"3","traits":{"user_id":"x"},"anonymous_id":"a","user_id":"bob"}"#),
            queued(r#"{"id":"4","anonymous_id":"a","user_id":"alice"}"#),
            queued(r#"{"id":"5","anonymous_id":"a","user_id":"caf\u00e9 \"q\""}"#),
        ];
        let users: Vec<String> = batch_user_ids(&events).into_iter().collect();
        assert_eq!(users, ["alice", "bob", "café \"q\""]);
        assert!(batch_user_ids(&[queued("not json")]).is_empty());
    }

    #[test]
    fn a_batch_carries_the_tokens_of_its_users_only() {
        let events = [
            queued(r#"{"id":"1","anonymous_id":"a","user_id":"alice"}"#),
            queued(r#"{"id":"2","anonymous_id":"a"}"#),
            queued(r#"{"id":"3","anonymous_id":"a","user_id":"carol"}"#),
        ];
        let stored = BTreeMap::from([
            ("alice".to_string(), "ta".to_string()),
            ("bob".to_string(), "tb".to_string()),
        ]);
        assert_eq!(
            batch_tokens(stored, &events),
            BTreeMap::from([("alice".to_string(), "ta".to_string())])
        );
        assert!(batch_tokens(BTreeMap::new(), &events).is_empty());
    }
}
