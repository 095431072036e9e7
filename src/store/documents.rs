//! Synced documents: the last good copy of each, with its ETag, plus the bookkeeping
//! `stats()` shows about syncing it (failures, the last error).
//!
//! Only documents that passed validation are saved, so whatever is stored here is what
//! the device runs on until a newer valid copy arrives.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Store, StoreError};

/// A stored document as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub etag: Option<String>,
    pub body: String,
    /// When the server last confirmed this copy (a 200 that brought it, or a 304).
    pub fetched_at_ms: i64,
}

/// How syncing one kind of document has gone, for `stats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentStatus {
    /// Attempts that failed or brought a refused document, since install.
    pub failures: u64,
    /// Why the latest attempt failed; `None` once one succeeds.
    pub last_error: Option<String>,
    /// When the server last confirmed the stored copy; `None` without one.
    pub fetched_at_ms: Option<i64>,
}

// The bookkeeping lives in the shared `counters` and `state` tables under names derived
// from the kind, so a kind needs no schema change: `sync` gives `sync_failures` and
// `last_sync_error`.
fn failures_counter(kind: &str) -> String {
    format!("{kind}_failures")
}

fn last_error_key(kind: &str) -> String {
    format!("last_{kind}_error")
}

fn clear_error(tx: &Transaction<'_>, kind: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM state WHERE key = ?1")?
        .execute([last_error_key(kind)])?;
    Ok(())
}

impl Store {
    pub fn load_document(&self, kind: &str) -> Result<Option<StoredDocument>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT etag, body, fetched_at FROM documents WHERE kind = ?1")?
            .query_row([kind], |row| {
                Ok(StoredDocument {
                    etag: row.get(0)?,
                    body: row.get(1)?,
                    fetched_at_ms: row.get(2)?,
                })
            })
            .optional()?)
    }

    /// Replaces the stored copy and clears the kind's last error, in one transaction:
    /// a crash leaves either the old copy or the new one, never a mix.
    pub fn save_document(
        &mut self,
        kind: &str,
        etag: Option<&str>,
        body: &str,
        fetched_at_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO documents(kind, etag, body, fetched_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![kind, etag, body, fetched_at_ms])?;
        clear_error(&tx, kind)?;
        tx.commit()?;
        Ok(())
    }

    /// The server confirmed the stored copy is current (a 304, or the same content
    /// under a new ETag): records when, and the ETag to send next time. Returns
    /// `false`, changing nothing, when no copy is stored.
    pub fn confirm_document(
        &mut self,
        kind: &str,
        etag: Option<&str>,
        fetched_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let updated = tx
            .prepare_cached("UPDATE documents SET etag = ?2, fetched_at = ?3 WHERE kind = ?1")?
            .execute(params![kind, etag, fetched_at_ms])?;
        if updated > 0 {
            clear_error(&tx, kind)?;
        }
        tx.commit()?;
        Ok(updated > 0)
    }

    /// Forgets the stored copy (one this SDK version can no longer read).
    pub fn delete_document(&mut self, kind: &str) -> Result<bool, StoreError> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM documents WHERE kind = ?1")?
            .execute([kind])?;
        Ok(deleted > 0)
    }

    /// Counts a failed sync of `kind` and keeps why, in one transaction.
    pub fn record_document_failure(&mut self, kind: &str, problem: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO counters(name, value) VALUES (?1, 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1",
        )?
        .execute([failures_counter(kind)])?;
        tx.prepare_cached("INSERT OR REPLACE INTO state(key, value) VALUES (?1, ?2)")?
            .execute(params![last_error_key(kind), problem])?;
        tx.commit()?;
        Ok(())
    }

    pub fn document_status(&self, kind: &str) -> Result<DocumentStatus, StoreError> {
        let failures: Option<i64> = self
            .conn
            .prepare_cached("SELECT value FROM counters WHERE name = ?1")?
            .query_row([failures_counter(kind)], |row| row.get(0))
            .optional()?;
        let last_error: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM state WHERE key = ?1")?
            .query_row([last_error_key(kind)], |row| row.get(0))
            .optional()?;
        let fetched_at_ms: Option<i64> = self
            .conn
            .prepare_cached("SELECT fetched_at FROM documents WHERE kind = ?1")?
            .query_row([kind], |row| row.get(0))
            .optional()?;
        Ok(DocumentStatus {
            failures: failures.unwrap_or(0) as u64,
            last_error,
            fetched_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Counter, QueueLimits};

    const KIND: &str = "sync";

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, QueueLimits::default()).unwrap().0
    }

    #[test]
    fn a_saved_document_survives_reopening_and_replaces_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = open(dir.path());
            assert_eq!(store.load_document(KIND).unwrap(), None);
            store
                .save_document(KIND, Some("\"v1\""), r#"{"schema":1}"#, 1_000)
                .unwrap();
            store
                .save_document(KIND, Some("\"v2\""), r#"{"schema":1,"segments":[]}"#, 2_000)
                .unwrap();
        }
        let store = open(dir.path());
        assert_eq!(
            store.load_document(KIND).unwrap(),
            Some(StoredDocument {
                etag: Some("\"v2\"".into()),
                body: r#"{"schema":1,"segments":[]}"#.into(),
                fetched_at_ms: 2_000,
            })
        );
        assert_eq!(store.load_document("other").unwrap(), None);
    }

    #[test]
    fn failures_are_counted_and_the_next_success_clears_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        assert_eq!(
            store.document_status(KIND).unwrap(),
            DocumentStatus::default()
        );
        store
            .record_document_failure(KIND, "server answered 500")
            .unwrap();
        store
            .record_document_failure(KIND, "refused: schema")
            .unwrap();
        assert_eq!(
            store.document_status(KIND).unwrap(),
            DocumentStatus {
                failures: 2,
                last_error: Some("refused: schema".into()),
                fetched_at_ms: None,
            }
        );
        // Confirming a copy that does not exist changes nothing.
        assert!(!store.confirm_document(KIND, Some("\"v1\""), 5).unwrap());
        assert_eq!(
            store.document_status(KIND).unwrap().last_error.as_deref(),
            Some("refused: schema")
        );

        store.save_document(KIND, None, "{}", 10).unwrap();
        assert_eq!(
            store.document_status(KIND).unwrap(),
            DocumentStatus {
                failures: 2,
                last_error: None,
                fetched_at_ms: Some(10),
            }
        );
        store.record_document_failure(KIND, "timed out").unwrap();
        assert!(store.confirm_document(KIND, Some("\"v3\""), 20).unwrap());
        let stored = store.load_document(KIND).unwrap().unwrap();
        assert_eq!(
            (
                stored.etag.as_deref(),
                stored.body.as_str(),
                stored.fetched_at_ms
            ),
            (Some("\"v3\""), "{}", 20)
        );
        assert_eq!(store.document_status(KIND).unwrap().last_error, None);
        // The bookkeeping does not leak into the upload counters.
        let counters = store.counters().unwrap();
        assert!(Counter::ALL.iter().all(|c| counters.get(*c) == 0));
    }

    #[test]
    fn a_deleted_document_is_gone_but_its_failure_count_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        store.save_document(KIND, Some("\"v1\""), "{}", 1).unwrap();
        store.record_document_failure(KIND, "unreadable").unwrap();
        assert!(store.delete_document(KIND).unwrap());
        assert!(!store.delete_document(KIND).unwrap());
        assert_eq!(store.load_document(KIND).unwrap(), None);
        assert_eq!(store.document_status(KIND).unwrap().failures, 1);
    }
}
