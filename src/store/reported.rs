//! Device state the server hears of through events (permissions, the push token, the
//! OS push permission): each change is committed together with the events reporting
//! it, so after a crash the server hears of exactly the changes the device kept.

use rusqlite::Transaction;

use super::queue::insert_queued;
use super::{Store, StoreError};

impl Store {
    /// Runs `write` and queues `events` (encoded, stamped `at_ms`) in one commit.
    /// With no events (the user opted out of upload) only the change is kept.
    pub(super) fn commit_reported(
        &mut self,
        at_ms: i64,
        events: &[&[u8]],
        write: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        write(&tx)?;
        for (i, payload) in events.iter().enumerate() {
            insert_queued(&tx, next_seq + i as i64, at_ms, payload)?;
        }
        tx.commit()?;
        self.queued(events)?;
        Ok(())
    }
}

impl Store {
    /// Queues several events, stamped `at_ms`, in one commit.
    pub fn enqueue_all(&mut self, at_ms: i64, events: &[&[u8]]) -> Result<(), StoreError> {
        self.commit_reported(at_ms, events, |_| Ok(()))
    }
}
