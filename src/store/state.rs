use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// Small pieces of local state kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKey {
    AnonymousId,
    UserId,
    /// The user's traits as a JSON object.
    Traits,
    /// Why the last upload failed; only ever changed with [`StateKey::LastUploadErrorAt`].
    LastUploadError,
    /// When that upload failed, in milliseconds since the Unix epoch.
    LastUploadErrorAt,
    /// Server clock minus device clock, in milliseconds, from the last `Date` header.
    ServerClockOffsetMs,
    /// How far the append log was moved into the queue: "generation:offset".
    AppendLogMoved,
}

impl StateKey {
    fn key(self) -> &'static str {
        match self {
            StateKey::AnonymousId => "anonymous_id",
            StateKey::UserId => "user_id",
            StateKey::Traits => "traits",
            StateKey::LastUploadError => "last_upload_error",
            StateKey::LastUploadErrorAt => "last_upload_error_at",
            StateKey::ServerClockOffsetMs => "server_clock_offset_ms",
            StateKey::AppendLogMoved => "append_log_moved",
        }
    }
}

/// Sets `key` on any connection or transaction.
pub(super) fn write_state(
    conn: &rusqlite::Connection,
    key: StateKey,
    value: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR REPLACE INTO state(key, value) VALUES (?1, ?2)")?
        .execute(params![key.key(), value])?;
    Ok(())
}

/// Why the last upload failed and when, as `stats()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadError {
    pub problem: String,
    /// Milliseconds since the Unix epoch; `None` for an error kept by an SDK version
    /// that did not record the time.
    pub at_ms: Option<i64>,
}

/// Records `error` (the problem and when, in milliseconds) or with `None` forgets the
/// last one, on any connection or transaction: the text and its time always change
/// together.
pub(super) fn write_upload_error(
    conn: &rusqlite::Connection,
    error: Option<(&str, i64)>,
) -> Result<(), StoreError> {
    match error {
        Some((problem, at_ms)) => {
            write_state(conn, StateKey::LastUploadError, problem)?;
            write_state(conn, StateKey::LastUploadErrorAt, &at_ms.to_string())?;
        }
        None => {
            conn.prepare_cached("DELETE FROM state WHERE key IN (?1, ?2)")?
                .execute(params![
                    StateKey::LastUploadError.key(),
                    StateKey::LastUploadErrorAt.key()
                ])?;
        }
    }
    Ok(())
}

impl Store {
    /// Why the last upload failed and when; `None` once an upload succeeded since.
    pub fn upload_error(&self) -> Result<Option<UploadError>, StoreError> {
        let Some(problem) = self.get_state(StateKey::LastUploadError)? else {
            return Ok(None);
        };
        let at_ms = self
            .get_state(StateKey::LastUploadErrorAt)?
            .and_then(|at| at.parse().ok());
        Ok(Some(UploadError { problem, at_ms }))
    }

    /// Records why an upload failed at `at_ms`, or with `None` that uploads work again.
    pub fn set_upload_error(&mut self, error: Option<(&str, i64)>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        write_upload_error(&tx, error)?;
        tx.commit()?;
        Ok(())
    }

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
                Some(v) => write_state(&tx, *key, v)?,
                None => {
                    tx.prepare_cached("DELETE FROM state WHERE key = ?1")?
                        .execute([key.key()])?;
                }
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

    #[test]
    fn an_upload_error_and_its_time_are_set_and_cleared_together() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            assert_eq!(store.upload_error().unwrap(), None);
            store.set_upload_error(Some(("HTTP 500", 1_000))).unwrap();
            store.set_upload_error(Some(("HTTP 503", 2_000))).unwrap();
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.upload_error().unwrap(),
            Some(UploadError {
                problem: "HTTP 503".into(),
                at_ms: Some(2_000)
            }),
            "the latest, kept across reopening"
        );
        store.set_upload_error(None).unwrap();
        assert_eq!(store.upload_error().unwrap(), None);
        assert_eq!(store.get_state(StateKey::LastUploadErrorAt).unwrap(), None);
    }

    #[test]
    fn an_upload_error_kept_without_its_time_reads_as_unknown_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        // As an SDK version that kept only the text left it.
        store
            .set_state(&[(StateKey::LastUploadError, Some("HTTP 500"))])
            .unwrap();
        assert_eq!(
            store.upload_error().unwrap(),
            Some(UploadError {
                problem: "HTTP 500".into(),
                at_ms: None
            })
        );
    }
}
