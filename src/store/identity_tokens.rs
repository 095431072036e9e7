//! The identity tokens the app's backend signed for the device's recent users, sent
//! with their events (`Batch::identity_tokens`) and their permission reads. A user's
//! queued events can outlive a logout or a switch to another user, so the token stays
//! after `reset`; only the most recently set few are kept.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// How many users' tokens are kept: the current user and those before them whose
/// events may still be queued. An older user's token that was let go is asked of the
/// app again if the server wants it.
pub const KEPT_IDENTITY_TOKENS: usize = 8;

impl Store {
    /// Stores `token` as `user_id`'s, the most recent of the kept tokens, and lets the
    /// oldest go beyond [`KEPT_IDENTITY_TOKENS`]. Returns whether it differs from the
    /// token stored before (a new token is worth another upload attempt).
    pub fn set_identity_token(&mut self, user_id: &str, token: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let previous: Option<String> = tx
            .prepare_cached("SELECT token FROM identity_tokens WHERE user_id = ?1")?
            .query_row([user_id], |row| row.get(0))
            .optional()?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO identity_tokens(user_id, token, recency)
             VALUES (?1, ?2, (SELECT coalesce(max(recency), 0) + 1 FROM identity_tokens))",
        )?
        .execute(params![user_id, token])?;
        tx.prepare_cached(
            "DELETE FROM identity_tokens WHERE recency NOT IN
             (SELECT recency FROM identity_tokens ORDER BY recency DESC LIMIT ?1)",
        )?
        .execute([KEPT_IDENTITY_TOKENS as i64])?;
        tx.commit()?;
        Ok(previous.as_deref() != Some(token))
    }

    /// The token stored for `user_id`, if any.
    pub fn identity_token(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT token FROM identity_tokens WHERE user_id = ?1")?
            .query_row([user_id], |row| row.get(0))
            .optional()?)
    }

    /// Every kept token, by user id (at most [`KEPT_IDENTITY_TOKENS`]).
    pub fn identity_tokens(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT user_id, token FROM identity_tokens")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    #[test]
    fn tokens_survive_a_restart_and_a_new_token_replaces_the_old() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            assert!(store.set_identity_token("alice", "t1").unwrap());
            assert!(
                !store.set_identity_token("alice", "t1").unwrap(),
                "same token"
            );
            assert!(store.set_identity_token("alice", "t2").unwrap());
        }
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.identity_token("alice").unwrap().as_deref(),
            Some("t2")
        );
        assert_eq!(store.identity_token("bob").unwrap(), None);
    }

    #[test]
    fn only_the_most_recently_set_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let users: Vec<String> = (0..KEPT_IDENTITY_TOKENS + 2)
            .map(|i| format!("u{i}"))
            .collect();
        for user in &users[..KEPT_IDENTITY_TOKENS] {
            store.set_identity_token(user, "t").unwrap();
        }
        // u0 is set again, so u1 is now the oldest: the next two users push out u1, u2.
        store.set_identity_token("u0", "t-new").unwrap();
        for user in &users[KEPT_IDENTITY_TOKENS..] {
            store.set_identity_token(user, "t").unwrap();
        }
        let kept = store.identity_tokens().unwrap();
        assert_eq!(kept.len(), KEPT_IDENTITY_TOKENS);
        assert_eq!(kept["u0"], "t-new");
        for gone in ["u1", "u2"] {
            assert!(!kept.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn wiping_local_data_forgets_every_token() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        store.set_identity_token("alice", "secret-token").unwrap();
        store.wipe(&["opt_out"]).unwrap();
        assert_eq!(store.identity_token("alice").unwrap(), None);
    }
}
