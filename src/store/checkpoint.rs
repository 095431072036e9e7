//! Keeping the write-ahead log short without making `track` wait for it.
//!
//! Every commit appends to the WAL; a checkpoint copies what the WAL holds into the
//! database file (syncing both, since `synchronous=NORMAL` syncs there and only there),
//! and once all of it is copied the next write starts the WAL over from its beginning
//! (syncing its header). SQLite's own automatic checkpoint does all this on the
//! committing thread, inside the commit that crosses 1,000 pages: milliseconds, once
//! every thousand or so events, on the app's thread.
//!
//! Here the store's connection has no automatic checkpoint. A hook on it
//! ([`WalWatch`]) counts the WAL's frames after every commit and wakes a
//! [`Checkpointer`] past [`CHECKPOINT_FRAMES`], which the upload thread runs with a
//! second connection. It waits for a pause in the store's commits ([`IDLE`]): copying
//! alongside the writers would slow their writes, and starting the WAL over needs them
//! to stop. Then it copies the WAL into the database file without the store's lock (the
//! store's VFS, `vfs.rs`, is SQLite's `unix-excl`: one process holds the file, its
//! connections share the WAL's index in memory), and under the store's lock copies what
//! came in meanwhile and makes the write that restarts the log (and syncs its header)
//! itself. When the commits never pause, it does the same once the WAL reaches
//! [`RESTART_FRAMES`]: the writers then wait once, for the last pages.
//!
//! If the checkpointer never runs (no upload thread, or one stuck), the commit that
//! takes the WAL past [`FALLBACK_FRAMES`] checkpoints on its own thread, as SQLite would
//! have: the WAL stays bounded whatever happens. Durability is unchanged: a commit is
//! an append to the WAL, which survives the process being killed.

use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{ffi, Connection};

use super::open::connect;
use super::{vfs, StoreError, StoreLock};

/// WAL frames (pages) past which the checkpointer checkpoints at the next pause: the
/// size at which SQLite checkpoints by default (4 MB of 4 KB pages).
pub const CHECKPOINT_FRAMES: u32 = 1_000;
/// WAL frames past which the checkpointer checkpoints and starts the WAL over without
/// waiting for a pause: the writers then wait once, for the last pages to be copied.
pub const RESTART_FRAMES: u32 = 8_000;
/// WAL frames past which a commit checkpoints on its own thread: the bound that holds
/// when the checkpointer does not run.
pub const FALLBACK_FRAMES: u32 = 16_000;
/// How long the store must have been without commits for the checkpointer to start
/// before [`RESTART_FRAMES`].
pub const IDLE: Duration = Duration::from_millis(20);
/// The WAL file is cut back to this size when it starts over: the restart size, so that
/// it stays allocated up to there. Appending into a file's allocated blocks costs less
/// than growing it: in benches/glean-anchor, `track`'s p50 was 1.5-2 us lower than
/// with the file cut back to 1,000 frames (which every burst then grew again).
pub(super) const WAL_FILE_LIMIT: i64 = RESTART_FRAMES as i64 * 4096;

/// What the store's connection tells the checkpointer after each commit.
pub(crate) struct WalWatch {
    /// Frames in the WAL after the last commit.
    frames: AtomicU32,
    /// When the last commit was, in nanoseconds since `epoch`.
    last_commit: AtomicU64,
    epoch: Instant,
    /// Woken when the WAL has reached [`CHECKPOINT_FRAMES`].
    due: tokio::sync::Notify,
    /// Held while the checkpointer copies without the store's lock: a leaf lock, which
    /// the store takes under its own to empty the WAL itself (`Store::wipe`).
    copying: Mutex<()>,
}

impl WalWatch {
    pub(super) fn new() -> Arc<WalWatch> {
        Arc::new(WalWatch {
            frames: AtomicU32::new(0),
            last_commit: AtomicU64::new(0),
            epoch: Instant::now(),
            due: tokio::sync::Notify::new(),
            copying: Mutex::new(()),
        })
    }

    /// Watches the commits of `conn`, in place of SQLite's automatic checkpoint. The
    /// watch must outlive the connection: [`super::Store`] owns both and drops the
    /// connection first.
    pub(super) fn install(self: &Arc<Self>, conn: &Connection) {
        // SAFETY: the hook gets a pointer to this watch, which the store keeps alive
        // for as long as the connection (see above); the hook only reads it.
        unsafe {
            ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(on_commit),
                Arc::as_ptr(self) as *mut c_void,
            );
        }
    }

    /// Waits out a checkpoint copying without the store's lock (the caller holds it).
    pub(super) fn copying(&self) -> std::sync::MutexGuard<'_, ()> {
        self.copying.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn frames(&self) -> u32 {
        self.frames.load(Ordering::Relaxed)
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.last_commit.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

/// SQLite's WAL hook on the store's connection: runs on the committing thread, after
/// each commit, with the WAL's size in frames.
unsafe extern "C" fn on_commit(
    watch: *mut c_void,
    db: *mut ffi::sqlite3,
    name: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `watch` is the pointer `WalWatch::install` registered, alive while the
    // connection is (see there).
    let watch = unsafe { &*(watch as *const WalWatch) };
    // Nothing of the commit is left held back in the VFS (see there).
    let mut wal: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: `db` and `name` as SQLite passed them; the file it returns is the
    // connection's open WAL.
    unsafe {
        let found = ffi::sqlite3_file_control(
            db,
            name,
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            &mut wal as *mut _ as *mut c_void,
        );
        if found == ffi::SQLITE_OK && !wal.is_null() {
            let flushed = vfs::flush(wal);
            if flushed != ffi::SQLITE_OK {
                return flushed;
            }
        }
    }
    let frames = frames.max(0) as u32;
    watch.frames.store(frames, Ordering::Relaxed);
    watch
        .last_commit
        .store(watch.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if frames >= CHECKPOINT_FRAMES {
        watch.due.notify_one();
    }
    if frames >= FALLBACK_FRAMES {
        // The checkpointer is not keeping up: do what SQLite's automatic checkpoint
        // does, here. Busy (the checkpointer is copying) is fine: it is working.
        // SAFETY: `db` and `name` are the connection and database SQLite passed in,
        // valid for the duration of this call, as its own default hook uses them.
        unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                db,
                name,
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }
    ffi::SQLITE_OK
}

/// Checkpoints the store's WAL off the committing threads (see the module's
/// documentation). Made by [`super::Store::checkpointer`]; driven by the upload thread.
pub struct Checkpointer {
    path: PathBuf,
    wal: Arc<WalWatch>,
    /// Its own connection to the store's file, opened at the first checkpoint.
    conn: Option<Connection>,
}

impl Checkpointer {
    pub(super) fn new(path: PathBuf, wal: Arc<WalWatch>) -> Checkpointer {
        Checkpointer {
            path,
            wal,
            conn: None,
        }
    }

    /// Resolves when the WAL may need a checkpoint (it reached [`CHECKPOINT_FRAMES`]).
    pub fn due(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let wal = self.wal.clone();
        async move { wal.due.notified().await }
    }

    /// Does what is due now. Returns when to look again (`None`: when [`Self::due`]
    /// resolves). `store` is the store's lock, taken only to start the WAL over.
    pub fn run(&mut self, store: &StoreLock) -> Result<Option<Duration>, StoreError> {
        let frames = self.wal.frames();
        if frames < CHECKPOINT_FRAMES {
            return Ok(None);
        }
        let idle = self.wal.idle_for();
        if idle < IDLE && frames < RESTART_FRAMES {
            return Ok(Some(IDLE - idle));
        }
        self.copy()?;
        self.restart(store)?;
        Ok(None)
    }

    fn connection(&mut self) -> Result<&Connection, StoreError> {
        if self.conn.is_none() {
            let conn = connect(&self.path)?;
            // As the store's: it syncs the WAL before copying it, the database file
            // after, and the WAL's header when it starts over.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "journal_size_limit", WAL_FILE_LIMIT)?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_ref().expect("opened above"))
    }

    /// Copies the WAL into the database file, alongside the store's writers.
    fn copy(&mut self) -> Result<(), StoreError> {
        let wal = self.wal.clone();
        let _copying = wal.copying();
        passive_checkpoint(self.connection()?)?;
        Ok(())
    }

    /// Under the store's lock: copies what the last copy left, then starts the WAL over
    /// with a write of this connection's, so that no writer of the store pays for it.
    fn restart(&mut self, store: &StoreLock) -> Result<(), StoreError> {
        let _store = store.lock();
        let conn = self.connection()?;
        let (log, copied) = passive_checkpoint(conn)?;
        if copied == log {
            // The smallest write SQLite has: the schema version, as it is. Being the
            // first after a complete checkpoint, it restarts the log and syncs its
            // header (and cuts a longer file back to `WAL_FILE_LIMIT`).
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            conn.pragma_update(None, "user_version", version)?;
            self.wal.frames.store(0, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A passive checkpoint on `conn`: frames in the WAL, and how many are now copied.
fn passive_checkpoint(conn: &Connection) -> Result<(i64, i64), StoreError> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{shared, QueueLimits, Store, DATABASE_FILE};

    fn wal_bytes(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join(format!("{DATABASE_FILE}-wal"))).map_or(0, |m| m.len())
    }

    fn fill(store: &StoreLock, events: usize) {
        let payload = vec![b'x'; 400];
        for i in 0..events {
            // One commit each, as the store's other writers make them.
            store.lock().enqueue_all(i as i64, &[&payload]).unwrap();
        }
    }

    #[test]
    fn the_checkpointer_waits_for_a_pause_then_copies_and_restarts_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let mut checkpointer = store.checkpointer();
        let store = shared(store);
        fill(&store, CHECKPOINT_FRAMES as usize + 10);
        let frames = store.lock().wal.frames();
        assert!(frames >= CHECKPOINT_FRAMES);
        let grown = wal_bytes(dir.path());

        // Commits just happened: nothing yet.
        let wait = checkpointer.run(&store).unwrap();
        assert!(wait.is_some_and(|w| w <= IDLE), "{wait:?}");
        assert_eq!(store.lock().wal.frames(), frames);
        std::thread::sleep(IDLE);
        assert_eq!(checkpointer.run(&store).unwrap(), None);
        assert_eq!(store.lock().wal.frames(), 0);
        assert!(wal_bytes(dir.path()) <= grown);
        // The next commits go to the start of the log.
        fill(&store, 10);
        let frames = store.lock().wal.frames();
        assert!((1..=30).contains(&frames), "{frames}");
        drop(store);
        let (mut store, report) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(report.moved_aside, None);
        assert_eq!(
            store.totals().unwrap().events,
            CHECKPOINT_FRAMES as u64 + 20,
            "nothing lost"
        );
    }

    #[test]
    fn a_busy_store_gets_its_wal_restarted_past_the_restart_size() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let mut checkpointer = store.checkpointer();
        let store = shared(store);
        fill(&store, RESTART_FRAMES as usize);
        // At that size it starts over in the same run, whether writes go on or not.
        assert_eq!(checkpointer.run(&store).unwrap(), None);
        assert_eq!(store.lock().wal.frames(), 0);
        fill(&store, 1);
        assert!(store.lock().wal.frames() <= 3);
    }

    #[test]
    fn without_a_checkpointer_commits_keep_the_wal_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::unbounded()).unwrap();
        let payload = vec![b'x'; 400];
        let mut most = 0;
        let mut restarted = false;
        for i in 0..2 * FALLBACK_FRAMES as i64 {
            store.enqueue_all(i, &[&payload]).unwrap();
            let frames = store.wal.frames();
            if frames < most {
                restarted = true;
                break;
            }
            most = frames;
        }
        assert!(restarted, "the WAL grew to {most} frames");
        assert!(
            (FALLBACK_FRAMES..FALLBACK_FRAMES + 5).contains(&most),
            "{most}"
        );
    }

    #[test]
    fn no_shared_memory_file_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let mut checkpointer = store.checkpointer();
        let store = shared(store);
        fill(&store, CHECKPOINT_FRAMES as usize);
        checkpointer.copy().unwrap();
        assert!(!dir.path().join(format!("{DATABASE_FILE}-shm")).exists());
    }
}
