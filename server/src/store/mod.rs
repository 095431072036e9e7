//! Event storage behind a backend-neutral boundary.
//!
//! Handlers only see [`Store`]; a backend implements [`EventStore`]. SQLite is the one
//! backend today; a PostgreSQL one (for several server instances on one database) slots
//! in as another `EventStore` without touching the handlers.

mod checkpoint;
mod migrations;
mod sqlite;
mod writer;

use std::sync::Arc;

use beckon::protocol::ExportedEvent;

pub use sqlite::SqliteStore;

/// A storage backend. Its methods block: [`Store`] runs them on Tokio's blocking pool, so
/// a backend may use synchronous drivers freely.
pub trait EventStore: Send + Sync + 'static {
    /// Stores the events atomically: all or none.
    ///
    /// An event whose `id` is already stored (by this call or an earlier one, however long
    /// ago) is counted as a duplicate and the stored copy is left untouched.
    fn insert(&self, events: Vec<ExportedEvent>) -> Result<InsertOutcome, StoreError>;

    /// Up to `limit` events stored after sequence number `after`, in store order.
    ///
    /// Stops early once the events read add up to about `max_bytes`, but always returns at
    /// least one event when there is one. Sequence numbers only grow and are never reused;
    /// a backend must also never let an event appear below a sequence number it has
    /// already returned (with PostgreSQL, in-flight transactions can commit lower ids late).
    fn page(&self, after: u64, limit: usize, max_bytes: usize) -> Result<Page, StoreError>;
}

/// What [`EventStore::insert`] did with the events it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    pub accepted: u32,
    pub duplicates: u32,
}

/// One page of the event log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub events: Vec<ExportedEvent>,
    /// Sequence number of the last event in `events`; `None` when the page is empty.
    pub last_seq: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database has schema version {found}, newer than the {supported} this server \
         knows; run a newer beckon-server"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("event id {0:?} is not a UUID")]
    NotUuid(String),
    #[error("stored event {seq} is unreadable: {detail}")]
    Corrupt { seq: i64, detail: String },
    #[error("could not encode an event for storage: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// The storage handle shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn EventStore>,
}

impl Store {
    pub fn new(backend: impl EventStore) -> Self {
        Self {
            backend: Arc::new(backend),
        }
    }

    pub async fn insert(&self, events: Vec<ExportedEvent>) -> Result<InsertOutcome, StoreError> {
        let backend = Arc::clone(&self.backend);
        blocking(move || backend.insert(events)).await
    }

    pub async fn page(
        &self,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        let backend = Arc::clone(&self.backend);
        blocking(move || backend.page(after, limit, max_bytes)).await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| StoreError::Task(err.to_string()))?
}
