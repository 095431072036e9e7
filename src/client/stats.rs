use crate::store::{Counter, Counters, DocumentStatus, QueueTotals, UploadError};

/// Events dropped after they were stored, by reason. Every drop is counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct DroppedEvents {
    /// Evicted, oldest first, to keep the queue within its count or size limit.
    pub queue_full: u64,
    /// Older than the queue's age limit before they could be uploaded.
    pub expired: u64,
    /// Refused by the server (a 4xx batch, or events it rejected one by one).
    pub rejected_by_server: u64,
    /// Not stored, or discarded from the queue, because the user opted out.
    pub opted_out: u64,
}

/// What the SDK has done since it was installed (counters survive restarts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Stats {
    pub queued_events: u64,
    pub queued_bytes: u64,
    pub uploaded_events: u64,
    pub uploaded_batches: u64,
    /// Upload attempts that failed and were scheduled again.
    pub retries: u64,
    pub dropped: DroppedEvents,
    /// Calls to `track` refused by validation (never stored).
    pub rejected_at_track: u64,
    /// Times the database was found unusable, moved aside and recreated.
    pub database_resets: u64,
    /// Why the latest upload attempt failed (or its batch was refused); `None` once a
    /// batch is accepted.
    pub last_error: Option<String>,
    /// When that attempt failed (milliseconds since the Unix epoch); `None` when
    /// `last_error` is, or for an error kept by an SDK version that did not record it.
    pub last_error_at_ms: Option<i64>,
    /// Definition syncs that failed or brought a refused document.
    pub sync_failures: u64,
    /// Why the latest sync failed or was refused; `None` once one succeeds.
    pub last_sync_error: Option<String>,
    /// When the server last confirmed the definitions in use (milliseconds since the
    /// Unix epoch); `None` while the device runs on the built-in ones.
    pub synced_at_ms: Option<i64>,
}

impl Stats {
    pub(crate) fn new(
        totals: QueueTotals,
        counters: &Counters,
        last_error: Option<UploadError>,
    ) -> Stats {
        let (last_error, last_error_at_ms) = match last_error {
            Some(UploadError { problem, at_ms }) => (Some(problem), at_ms),
            None => (None, None),
        };
        Stats {
            queued_events: totals.events,
            queued_bytes: totals.bytes,
            uploaded_events: counters.get(Counter::Uploaded),
            uploaded_batches: counters.get(Counter::Batches),
            retries: counters.get(Counter::Retries),
            dropped: DroppedEvents {
                queue_full: counters.get(Counter::DroppedQueueFull),
                expired: counters.get(Counter::DroppedExpired),
                rejected_by_server: counters.get(Counter::DroppedRejectedByServer),
                opted_out: counters.get(Counter::DroppedOptedOut),
            },
            rejected_at_track: counters.get(Counter::RejectedAtTrack),
            database_resets: counters.get(Counter::DatabaseResets),
            last_error,
            last_error_at_ms,
            sync_failures: 0,
            last_sync_error: None,
            synced_at_ms: None,
        }
    }

    /// These stats with how syncing definitions has gone (`Store::document_status`).
    pub fn with_sync(self, sync: DocumentStatus) -> Stats {
        Stats {
            sync_failures: sync.failures,
            last_sync_error: sync.last_error,
            synced_at_ms: sync.fetched_at_ms,
            ..self
        }
    }
}
