//! The last good copy: the stored document the device runs on until a sync brings a
//! newer valid one.

use super::{SyncedDefinitions, SYNC_DOCUMENT};
use crate::store::{Store, StoreError, StoredDocument};

/// The stored definitions, or `None` when there are none the device can use (then the
/// caller uses [`SyncedDefinitions::builtin`]).
///
/// Everything stored was valid when it was saved, but an SDK downgrade can leave a
/// copy this version cannot read. Such a copy is counted as a sync failure and
/// deleted, not fatal: keeping it would keep its ETag, and the server would answer
/// every sync with 304 and never send a copy this version can read.
pub fn load_last_good(store: &mut Store) -> Option<SyncedDefinitions> {
    let stored = store.load_document(SYNC_DOCUMENT).ok()??;
    match read(&stored) {
        Ok(definitions) => Some(definitions),
        Err(problem) => {
            let _ = discard(store, &problem);
            None
        }
    }
}

/// Parses a stored copy; the error says why it is unusable.
pub(crate) fn read(stored: &StoredDocument) -> Result<SyncedDefinitions, String> {
    SyncedDefinitions::parse(stored.body.as_bytes())
        .map_err(|e| format!("the stored sync document can no longer be read: {e}"))
}

/// Forgets an unreadable stored copy and counts it.
pub(crate) fn discard(store: &mut Store, problem: &str) -> Result<(), StoreError> {
    store.delete_document(SYNC_DOCUMENT)?;
    store.record_document_failure(SYNC_DOCUMENT, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, QueueLimits::default()).unwrap().0
    }

    #[test]
    fn nothing_stored_means_nothing_to_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_last_good(&mut open(dir.path())).is_none());
    }

    #[test]
    fn loads_the_stored_copy() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let body = serde_json::json!({
            "schema": 1,
            "segments": [crate::segments::templates::repeat_customer().to_value()],
            "settings": {"in_app_min_gap_seconds": 45}
        })
        .to_string();
        store
            .save_document(SYNC_DOCUMENT, Some("\"v1\""), &body, 1)
            .unwrap();
        let definitions = load_last_good(&mut store).unwrap();
        assert!(definitions.segments.get("repeat_customer").is_some());
        assert_eq!(definitions.settings.in_app_min_gap_seconds, 45);
        assert_eq!(store.document_status(SYNC_DOCUMENT).unwrap().failures, 0);
    }

    #[test]
    fn a_copy_this_version_cannot_read_is_counted_and_forgotten_with_its_etag() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        // As a newer SDK might have stored it.
        store
            .save_document(SYNC_DOCUMENT, Some("\"v9\""), r#"{"schema": 2}"#, 1)
            .unwrap();
        assert!(load_last_good(&mut store).is_none());
        let status = store.document_status(SYNC_DOCUMENT).unwrap();
        assert_eq!(status.failures, 1);
        assert_eq!(
            status.last_error.as_deref(),
            Some("the stored sync document can no longer be read: schema: version 2 is not supported; this device reads version 1")
        );
        assert_eq!(store.load_document(SYNC_DOCUMENT).unwrap(), None);
        // Counted once, not at every start.
        assert!(load_last_good(&mut store).is_none());
        assert_eq!(store.document_status(SYNC_DOCUMENT).unwrap().failures, 1);
    }
}
