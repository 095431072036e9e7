use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{
    migrate, Counter, Identity, QueueLimits, Store, StoreError, DATABASE_FILE, MIGRATIONS,
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
    pub fn open(dir: &Path, limits: QueueLimits) -> Result<(Store, OpenReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DATABASE_FILE);
        match Store::open_file(&path, limits) {
            Ok(store) => Ok((store, OpenReport::default())),
            Err(err) if err.means_unusable_file() => {
                let moved = move_aside(&path)?;
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
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Before the first access, so the WAL is opened without shared memory.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        check_integrity(&conn)?;
        migrate(&mut conn, MIGRATIONS)?;
        conn.set_prepared_statement_cache_capacity(32);
        let mut store = Store {
            conn,
            path: path.to_owned(),
            limits,
            totals: Default::default(),
            next_seq: 1,
            identity: Identity::fresh(),
        };
        store.totals = store.read_totals()?;
        store.identity = store.load_identity()?;
        store.next_seq = store.last_seq()?.unwrap_or(0) + 1;
        Ok(store)
    }
}

fn check_integrity(conn: &Connection) -> Result<(), StoreError> {
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |row| row.get(0))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt(verdict))
    }
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
        assert_eq!(store.totals().events, 1);
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
        let (store, report) = Store::open(dir.path(), limits()).unwrap();
        assert!(report.moved_aside.is_some(), "{report:?}");
        assert_eq!(store.totals().events, 0);
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
