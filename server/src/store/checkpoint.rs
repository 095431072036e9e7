//! WAL checkpoints on a background thread.
//!
//! SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and
//! is the only place WAL mode with `synchronous=NORMAL` calls fsync; on the upload path
//! that stalled every writer queued behind it. Here a dedicated connection copies the
//! WAL back into the database once a second, so uploads only ever append to the WAL.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

const EVERY: Duration = Duration::from_secs(1);

/// Stops (and waits for) the thread when dropped.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// `conn` must be a connection of its own: the thread keeps it.
    pub fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("beckon-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    checkpoint(&conn);
                }
            })
            .map_err(|err| {
                StoreError::Task(format!("cannot start the checkpoint thread: {err}"))
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// PASSIVE never waits for readers or writers: it copies what it can and tries again on
/// the next tick.
fn checkpoint(conn: &Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((wal_pages, copied)) => tracing::trace!(wal_pages, copied, "checkpoint"),
        Err(err) => tracing::warn!(error = %err, "WAL checkpoint failed"),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
