//! The on-device SQLite database: connection setup, the versioned schema, the event
//! queue, counters and small pieces of local state.
//!
//! One connection, owned by [`Store`] and shared behind a mutex by the caller's thread
//! (`track`) and the SDK's threads. `track` appends its event to the queue's append log
//! (`append_log.rs`), which the store moves into SQLite before anything reads the queue
//! (`settle.rs`). WAL with `synchronous=NORMAL` makes each commit an append to the WAL
//! file: like the log's records, it survives the process being killed without paying
//! an fsync. The file is opened
//! through SQLite's `unix-excl` VFS: the process holds it exclusively (no other process
//! may write the queue behind the SDK's back), and SQLite keeps the WAL's index in
//! memory and takes no file lock per commit, which halves the cost of a commit; the
//! store's VFS (`vfs.rs`) also writes each WAL frame in one system call instead of two. A
//! second connection of the same process, the [`Checkpointer`]'s, copies the WAL into
//! the database file off the committing threads (`checkpoint.rs`).

mod append_log;
mod checkpoint;
mod counters;
mod device_profile;
mod documents;
mod error;
mod history;
mod identity;
mod identity_tokens;
mod impressions;
mod open;
mod pending_links;
mod permissions;
mod promos;
mod push_opens;
mod push_registration;
mod queue;
mod reported;
mod schema;
mod settle;
mod state;
mod vfs;
mod wipe;

pub use append_log::APPEND_LOG_FILE;
pub use checkpoint::{Checkpointer, CHECKPOINT_FRAMES, FALLBACK_FRAMES, IDLE, RESTART_FRAMES};
pub use counters::{Counter, Counters};

/// The store as the core's threads share it, behind the core's one lock
/// (`common::lock_order`).
pub type StoreLock = crate::common::lock_order::CoreMutex<Store>;

/// The store while its lock is held.
pub type StoreGuard<'a> = crate::common::lock_order::CoreGuard<'a, Store>;

/// Puts `store` behind its lock, to share.
pub fn shared(store: Store) -> std::sync::Arc<StoreLock> {
    std::sync::Arc::new(StoreLock::new(store))
}
pub use device_profile::DeviceProfile;
pub use documents::{DocumentStatus, StoredDocument};
pub use error::StoreError;
pub use history::{HistoryLimits, DEFAULT_HISTORY_DAYS};
pub use identity::Identity;
pub use identity_tokens::KEPT_IDENTITY_TOKENS;
pub use open::{IntegrityCheck, OpenReport};
pub use pending_links::PendingLink;
pub use push_registration::StoredPushToken;
pub use queue::{QueueLimits, QueueTotals, QueuedEvent};
pub use schema::{migrate, Migration, MIGRATIONS, SCHEMA_VERSION};
pub use settle::{settle_in_pieces, SETTLE_PIECE};
pub use state::{StateKey, UploadError};

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The SDK's database file inside the app's data directory.
pub const DATABASE_FILE: &str = "beckon.db";

pub struct Store {
    /// Declared before `wal`, so dropped first: the connection's hook points to it.
    conn: Connection,
    /// What the connection's commits tell the checkpointer.
    wal: std::sync::Arc<checkpoint::WalWatch>,
    path: PathBuf,
    limits: QueueLimits,
    /// `None` until counted (see [`Store::totals`]).
    totals: Option<QueueTotals>,
    /// The next event's sequence number. Kept here rather than by AUTOINCREMENT (which
    /// costs a page write per insert): it only has to grow within one process, since
    /// flushes waiting on sequence numbers do not outlive it.
    next_seq: i64,
    /// The identity as stored, read by every event.
    identity: Identity,
    /// Where `enqueue` puts events until they are settled into SQLite; `None` once
    /// closed.
    log: Option<append_log::AppendLog>,
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    /// What keeps this store's WAL short, for a thread other than the committing ones
    /// to run (the upload worker's).
    pub fn checkpointer(&self) -> Checkpointer {
        Checkpointer::new(self.path.clone(), self.wal.clone())
    }

    /// Closes the database file and releases its exclusive lock, so another instance can
    /// open the same directory. The store is unusable afterwards: every later call fails.
    pub fn close(&mut self) -> Result<(), StoreError> {
        // The next start would move them too; moved now, it starts with an empty log.
        let settled = match self.log {
            Some(_) => self.settle(),
            None => Ok(()),
        };
        self.log = None;
        // An empty in-memory database stands in for the closed file: it has none of the
        // tables, so a call after close gets an error instead of touching the real file.
        let closed = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        closed.close().map_err(|(_, e)| StoreError::from(e))?;
        settled
    }
}
