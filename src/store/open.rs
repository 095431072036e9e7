use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::checkpoint::{WalWatch, WAL_FILE_LIMIT};
use super::vfs;
use super::{
    migrate, Counter, Identity, QueueLimits, QueueTotals, Store, StoreError, DATABASE_FILE,
    MIGRATIONS,
};

/// What opening the database found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Where an unusable database file was moved, if one was.
    pub moved_aside: Option<PathBuf>,
    /// Why it was unusable.
    pub reset_reason: Option<String>,
}

impl Store {
    /// Opens (or creates) the database in `dir`. A file that is corrupt, not a database,
    /// or from a newer SDK is moved aside and a fresh one created: the SDK keeps working
    /// and the reset is counted rather than crashing the app.
    ///
    /// Damaged pages are found by the [`IntegrityCheck`] the upload thread runs after
    /// start (it reads the whole file, which the constructor must not): it leaves a
    /// note, and the next open moves the file aside. Damage SQLite meets while opening
    /// (a file that is not a database, a damaged schema) moves it aside at once.
    pub fn open(dir: &Path, limits: QueueLimits) -> Result<(Store, OpenReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DATABASE_FILE);
        let opened = match std::fs::read_to_string(damage_note(&path)) {
            Ok(found) => Err(StoreError::Corrupt(found)),
            Err(_) => Store::open_file(&path, limits),
        };
        match opened {
            Ok(store) => Ok((store, OpenReport::default())),
            Err(err) if err.means_unusable_file() => {
                let moved = move_aside(&path)?;
                let _ = std::fs::remove_file(damage_note(&path));
                let mut store = Store::open_file(&path, limits)?;
                store.bump(Counter::DatabaseResets, 1)?;
                Ok((
                    store,
                    OpenReport {
                        moved_aside: Some(moved),
                        reset_reason: Some(err.to_string()),
                    },
                ))
            }
            Err(err) => Err(err),
        }
    }

    fn open_file(path: &Path, limits: QueueLimits) -> Result<Store, StoreError> {
        let mut conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A WAL grown past the restart size (by a commit's own checkpoint) is cut back.
        conn.pragma_update(None, "journal_size_limit", WAL_FILE_LIMIT)?;
        migrate(&mut conn, MIGRATIONS)?;
        conn.set_prepared_statement_cache_capacity(32);
        let wal = WalWatch::new();
        wal.install(&conn);
        let mut store = Store {
            conn,
            wal,
            path: path.to_owned(),
            limits,
            totals: None,
            next_seq: 1,
            identity: Identity::fresh(),
            log: None,
        };
        store.identity = store.load_identity()?;
        store.open_log()?;
        let last_seq = store.max_seq()?;
        store.next_seq = last_seq.unwrap_or(0) + 1;
        if last_seq.is_none() {
            // Nothing queued: nothing to count later.
            store.totals = Some(QueueTotals::default());
        }
        Ok(store)
    }

    /// The check of this store's file that runs once per start, off the constructor.
    pub fn integrity_check(&self) -> IntegrityCheck {
        IntegrityCheck {
            path: self.path.clone(),
        }
    }
}

/// SQLite's `quick_check` of the store's file (every page, every row; not the indexes'
/// contents), with a connection of its own: it reads alongside the store's writers.
pub struct IntegrityCheck {
    path: PathBuf,
}

impl IntegrityCheck {
    /// Checks the file. When it is damaged, leaves a note beside it that makes the next
    /// [`Store::open`] move it aside, and returns what was found.
    pub fn run(&self) -> Result<Option<String>, StoreError> {
        let checked = connect(&self.path).and_then(|conn| {
            Ok(conn.query_row("PRAGMA quick_check(1)", [], |row| row.get::<_, String>(0))?)
        });
        let found = match checked {
            Ok(verdict) if verdict == "ok" => return Ok(None),
            Ok(verdict) => verdict,
            Err(err) if err.means_unusable_file() => err.to_string(),
            Err(err) => return Err(err),
        };
        std::fs::write(damage_note(&self.path), &found).map_err(|source| StoreError::Io {
            path: damage_note(&self.path),
            source,
        })?;
        Ok(Some(found))
    }
}

/// Where an [`IntegrityCheck`] notes that the file at `path` is damaged.
fn damage_note(path: &Path) -> PathBuf {
    path.with_extension("db.damaged")
}

/// Opens a connection to the store's file with the store's VFS (`vfs.rs`).
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match vfs::name() {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Renames the database and its WAL and shared-memory files to `…corrupt-<millis>`.
fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let target = path.with_extension(format!("db.corrupt-{stamp}"));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        let to = PathBuf::from(format!("{}{suffix}", target.display()));
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path: from, source }),
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SCHEMA_VERSION;
    use rusqlite::Connection;

    fn limits() -> QueueLimits {
        QueueLimits::default()
    }

    #[test]
    fn creates_the_directory_and_a_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/beckon");
        let (store, report) = Store::open(&data, limits()).unwrap();
        assert_eq!(report, OpenReport::default());
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync, version), ("wal", 1, SCHEMA_VERSION));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_moved_aside_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DATABASE_FILE), vec![0x5a; 8192]).unwrap();
        let (mut store, report) = Store::open(dir.path(), limits()).unwrap();
        let moved = report.moved_aside.expect("file moved aside");
        assert_eq!(
            std::fs::read(&moved).unwrap(),
            vec![0x5a; 8192],
            "kept for diagnosis"
        );
        assert_eq!(store.counters().unwrap().get(Counter::DatabaseResets), 1);
        store.enqueue(1, b"{}").unwrap();
        assert_eq!(store.totals().unwrap().events, 1);
    }

    #[test]
    fn a_database_with_damaged_pages_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), limits()).unwrap();
            let payload = vec![b'x'; 3000];
            for i in 0..200 {
                store.enqueue(i, &payload).unwrap();
            }
            store.settle().unwrap();
            store
                .conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        let path = dir.path().join(DATABASE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        // Keep the header (page 1) valid so SQLite opens it; scribble over later pages.
        for b in &mut bytes[4096 * 2..4096 * 6] {
            *b = 0xff;
        }
        std::fs::write(&path, bytes).unwrap();
        let (mut store, report) = Store::open(dir.path(), limits()).unwrap();
        assert!(report.moved_aside.is_some(), "{report:?}");
        assert_eq!(store.totals().unwrap().events, 0);
    }

    #[test]
    fn damage_only_a_full_check_finds_is_noted_and_moved_aside_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        {
            let (mut store, _) = Store::open(dir.path(), limits()).unwrap();
            let payload = vec![b'x'; 3000];
            for i in 0..200 {
                store.enqueue(i, &payload).unwrap();
            }
            store.settle().unwrap();
            store
                .conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        // The last pages hold queued payloads, which opening does not read.
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        for b in &mut bytes[len - 4096 * 4..len - 4096] {
            *b = 0xff;
        }
        std::fs::write(&path, bytes).unwrap();

        let (store, report) = Store::open(dir.path(), limits()).unwrap();
        assert_eq!(report, OpenReport::default());
        let found = store.integrity_check().run().unwrap();
        assert!(found.is_some());
        drop(store);

        let (mut store, report) = Store::open(dir.path(), limits()).unwrap();
        assert!(report.moved_aside.is_some(), "{report:?}");
        assert_eq!(store.totals().unwrap().events, 0);
        assert_eq!(store.counters().unwrap().get(Counter::DatabaseResets), 1);
        assert_eq!(store.integrity_check().run().unwrap(), None);
        // Once: the note went with the file.
        drop(store);
        let (_, report) = Store::open(dir.path(), limits()).unwrap();
        assert_eq!(report, OpenReport::default());
    }

    #[test]
    fn a_database_from_a_newer_sdk_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
                .unwrap();
        }
        let (_store, report) = Store::open(dir.path(), limits()).unwrap();
        assert!(report.reset_reason.unwrap().contains("newer"));
    }

    #[test]
    fn an_unwritable_directory_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            Store::open(&file, limits()),
            Err(StoreError::Io { .. })
        ));
    }
}
