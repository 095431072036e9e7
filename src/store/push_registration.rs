//! What the device knows about reaching it by push: the OS permission as the app last
//! reported it, and the current push token.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::protocol::PushProvider;

/// The device's push token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPushToken {
    pub provider: PushProvider,
    pub token: String,
    pub updated_at_ms: i64,
}

impl Store {
    /// The OS push permission as last reported; `None` before the first report.
    pub fn push_permission(&self) -> Result<Option<bool>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT granted FROM push_permission WHERE id = 1")?
            .query_row([], |row| row.get(0))
            .optional()?)
    }

    /// Records the OS push permission with the events reporting it, in one commit.
    pub fn set_push_permission(
        &mut self,
        granted: bool,
        at_ms: i64,
        events: &[&[u8]],
    ) -> Result<(), StoreError> {
        self.commit_reported(at_ms, events, |tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO push_permission(id, granted, updated_at) VALUES (1, ?1, ?2)",
            )?
            .execute(params![granted, at_ms])?;
            Ok(())
        })
    }

    /// The current push token, if any. A row naming a provider this version does not
    /// know reads as no token.
    pub fn push_token(&self) -> Result<Option<StoredPushToken>, StoreError> {
        let row: Option<(String, String, i64)> = self
            .conn
            .prepare_cached("SELECT provider, token, updated_at FROM push_token WHERE id = 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        Ok(row.and_then(|(provider, token, updated_at_ms)| {
            Some(StoredPushToken {
                provider: PushProvider::parse(&provider)?,
                token,
                updated_at_ms,
            })
        }))
    }

    /// Replaces the push token (`None` removes it) with the events reporting the
    /// change, in one commit.
    pub fn set_push_token(
        &mut self,
        token: Option<(PushProvider, &str)>,
        at_ms: i64,
        events: &[&[u8]],
    ) -> Result<(), StoreError> {
        self.commit_reported(at_ms, events, |tx| {
            match token {
                Some((provider, token)) => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO push_token(id, provider, token, updated_at)
                         VALUES (1, ?1, ?2, ?3)",
                    )?
                    .execute(params![provider.as_str(), token, at_ms])?,
                None => tx.execute("DELETE FROM push_token", [])?,
            };
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    #[test]
    fn the_push_permission_and_token_survive_reopening_with_their_events() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            assert_eq!(store.push_permission().unwrap(), None);
            assert_eq!(store.push_token().unwrap(), None);
            store.set_push_permission(true, 10, &[b"granted"]).unwrap();
            store
                .set_push_token(Some((PushProvider::Fcm, "old")), 20, &[b"registered old"])
                .unwrap();
            store
                .set_push_token(
                    Some((PushProvider::Apns, "ab".repeat(32).as_str())),
                    30,
                    &[b"removed old", b"registered new"],
                )
                .unwrap();
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(store.push_permission().unwrap(), Some(true));
        assert_eq!(
            store.push_token().unwrap(),
            Some(StoredPushToken {
                provider: PushProvider::Apns,
                token: "ab".repeat(32),
                updated_at_ms: 30
            })
        );
        let queued: Vec<Vec<u8>> = store
            .peek_batch(10, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        assert_eq!(
            queued,
            [
                b"granted".to_vec(),
                b"registered old".to_vec(),
                b"removed old".to_vec(),
                b"registered new".to_vec()
            ]
        );
        store.set_push_token(None, 40, &[]).unwrap();
        assert_eq!(store.push_token().unwrap(), None);
        assert_eq!(
            store.totals().unwrap().events,
            4,
            "a change without events queues nothing"
        );
    }
}
