//! Tokens already verified, so a device uploading every few seconds costs one
//! signature check per token, not one per batch.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Past this many tokens the cache starts over: a burst of re-verification is cheaper
/// than tracking recency, and it bounds memory (a token is at most 4 KB).
const CAPACITY: usize = 16_384;

#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    user_id: String,
    /// `None` for tokens that do not expire (HMAC).
    valid_until: Option<DateTime<Utc>>,
}

impl VerifiedTokens {
    /// Whether `token` was verified for `user_id` and is still valid at `now`.
    pub fn holds(&self, user_id: &str, token: &str, now: DateTime<Utc>) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(token).is_some_and(|entry| {
            entry.user_id == user_id && entry.valid_until.is_none_or(|until| now < until)
        })
    }

    pub fn remember(&self, user_id: &str, token: &str, valid_until: Option<DateTime<Utc>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            token.to_string(),
            Entry {
                user_id: user_id.to_string(),
                valid_until,
            },
        );
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn a_token_holds_for_its_user_until_it_expires() {
        let cache = VerifiedTokens::default();
        let now = Utc::now();
        cache.remember("alice", "t1", Some(now + TimeDelta::seconds(10)));
        cache.remember("bob", "t2", None);
        assert!(cache.holds("alice", "t1", now));
        assert!(!cache.holds("bob", "t1", now), "another user");
        assert!(!cache.holds("alice", "t1", now + TimeDelta::seconds(10)));
        assert!(cache.holds("bob", "t2", now + TimeDelta::days(3650)));
        assert!(!cache.holds("alice", "unknown", now));
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY + 10 {
            cache.remember("u", &format!("t{i}"), None);
        }
        assert!(cache.len() <= CAPACITY);
    }
}
