use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// Small pieces of local state kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKey {
    AnonymousId,
    UserId,
    /// The user's traits as a JSON object.
    Traits,
    LastUploadError,
    /// Server clock minus device clock, in milliseconds, from the last `Date` header.
    ServerClockOffsetMs,
}

impl StateKey {
    fn key(self) -> &'static str {
        match self {
            StateKey::AnonymousId => "anonymous_id",
            StateKey::UserId => "user_id",
            StateKey::Traits => "traits",
            StateKey::LastUploadError => "last_upload_error",
            StateKey::ServerClockOffsetMs => "server_clock_offset_ms",
        }
    }
}

impl Store {
    pub fn get_state(&self, key: StateKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM state WHERE key = ?1")?
            .query_row([key.key()], |row| row.get(0))
            .optional()?)
    }

    /// Sets (or with `None` removes) several keys in one transaction, so related state
    /// such as a user id and its traits never half-changes.
    pub fn set_state(&mut self, values: &[(StateKey, Option<&str>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for (key, value) in values {
            match value {
                Some(v) => tx
                    .prepare_cached("INSERT OR REPLACE INTO state(key, value) VALUES (?1, ?2)")?
                    .execute(params![key.key(), v])?,
                None => tx
                    .prepare_cached("DELETE FROM state WHERE key = ?1")?
                    .execute([key.key()])?,
            };
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    #[test]
    fn state_survives_reopening_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            store
                .set_state(&[
                    (StateKey::UserId, Some("u1")),
                    (StateKey::Traits, Some("{}")),
                ])
                .unwrap();
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.get_state(StateKey::UserId).unwrap().as_deref(),
            Some("u1")
        );
        store.set_state(&[(StateKey::UserId, None)]).unwrap();
        assert_eq!(store.get_state(StateKey::UserId).unwrap(), None);
        assert_eq!(
            store.get_state(StateKey::Traits).unwrap().as_deref(),
            Some("{}")
        );
    }
}
