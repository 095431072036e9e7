//! SQLite's own checks of the database file, through a read-only connection of their
//! own, so that checking never changes the file (not even a WAL checkpoint):
//! `PRAGMA quick_check` within a time budget before the server starts, and the full
//! `PRAGMA integrity_check` of `--check-database`.
//!
//! Both read every page of every table and index and check the b-tree structure;
//! the full check also checks that every index agrees with its table, which takes
//! longer. Neither can see a damaged value inside a well-formed page: that shows up
//! later as an unreadable row (`StoreError::Corrupt` and its kin).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{SqliteStore, StoreError};

/// Problems the quick check lists before it stops looking.
const QUICK_CHECK_PROBLEMS: u32 = 10;

/// Steps of SQLite's work between two looks at the clock.
const PROGRESS_EVERY: i32 = 1000;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// SQLite found nothing wrong.
    Sound,
    /// The time budget ran out before the check finished; nothing wrong was found in
    /// the part it covered.
    Unfinished,
    /// The file is damaged: SQLite's findings, in its words.
    Damaged(Vec<String>),
}

impl SqliteStore {
    /// `PRAGMA quick_check`, interrupted after `budget`. An unreadable file is `Err`;
    /// one SQLite refuses (damaged header, not a database) is [`Integrity::Damaged`].
    pub fn quick_check(path: &Path, budget: Duration) -> Result<Integrity, StoreError> {
        check(
            path,
            &format!("PRAGMA quick_check({QUICK_CHECK_PROBLEMS})"),
            Some(budget),
        )
    }

    /// `PRAGMA integrity_check`, however long it takes.
    pub fn full_check(path: &Path) -> Result<Integrity, StoreError> {
        check(path, "PRAGMA integrity_check", None)
    }
}

/// What the operator of the damaged database at `path` does about it.
pub fn repair_steps(path: &Path) -> String {
    let file = path.display();
    format!(
        "To repair it: stop the server; run `beckon-server --db {file} --check-database` \
         to see what SQLite finds; then either restore {file} from a backup, or recover \
         what is still readable with `sqlite3 {file} \".recover\" | sqlite3 \
         {file}.recovered`, move {file} and its -wal and -shm files aside, and rename \
         {file}.recovered to {file}; start the server again."
    )
}

fn check(path: &Path, pragma: &str, budget: Option<Duration>) -> Result<Integrity, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    if let Some(budget) = budget {
        // A progress handler rather than a timer: SQLite calls it from inside the
        // check as well, and it cannot fire before the statement starts.
        let deadline = Instant::now() + budget;
        conn.progress_handler(PROGRESS_EVERY, Some(move || Instant::now() >= deadline));
    }
    let (mut findings, stopped) = run(&conn, pragma);
    findings.retain(|row| row != "ok");
    match stopped {
        None if findings.is_empty() => Ok(Integrity::Sound),
        None => Ok(Integrity::Damaged(findings)),
        // Reading the pages the check reports on (or the schema it starts from) can
        // fail too.
        Some(StoreError::Damaged { detail }) => {
            findings.push(detail);
            Ok(Integrity::Damaged(findings))
        }
        Some(StoreError::Sqlite(err))
            if err.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) =>
        {
            Ok(if findings.is_empty() {
                Integrity::Unfinished
            } else {
                Integrity::Damaged(findings)
            })
        }
        Some(err) => Err(err),
    }
}

/// The rows the check wrote, and the error that stopped it early if one did.
fn run(conn: &Connection, pragma: &str) -> (Vec<String>, Option<StoreError>) {
    let mut findings = Vec::new();
    let mut read = || -> Result<(), StoreError> {
        let mut statement = conn.prepare(pragma)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            // A row may hold several lines, headed by the schema they are about.
            let text: String = row.get(0)?;
            findings.extend(
                text.lines()
                    .filter(|line| !line.is_empty() && !line.starts_with("*** in database"))
                    .map(str::to_owned),
            );
        }
        Ok(())
    };
    let stopped = read().err();
    (findings, stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("checked.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO t SELECT i, printf('%0200d', i) FROM n;
             CREATE INDEX t_body ON t (body);",
        )
        .unwrap();
        path
    }

    #[test]
    fn a_sound_file_passes_both_checks_and_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(&dir);
        let before = std::fs::read(&path).unwrap();
        let budget = Duration::from_secs(60);
        assert_eq!(
            SqliteStore::quick_check(&path, budget).unwrap(),
            Integrity::Sound
        );
        assert_eq!(SqliteStore::full_check(&path).unwrap(), Integrity::Sound);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_damaged_page_is_reported_in_sqlite_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(&dir);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2 / 4096 * 4096;
        bytes[middle..middle + 4096].fill(0x5a);
        std::fs::write(&path, &bytes).unwrap();
        for found in [
            SqliteStore::quick_check(&path, Duration::from_secs(60)).unwrap(),
            SqliteStore::full_check(&path).unwrap(),
        ] {
            let Integrity::Damaged(problems) = found else {
                panic!("not found damaged: {found:?}");
            };
            assert!(problems[0].contains("page"), "{problems:?}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_damaged_and_a_missing_one_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x42; 8192]).unwrap();
        assert!(matches!(
            SqliteStore::full_check(&garbage).unwrap(),
            Integrity::Damaged(_)
        ));
        assert!(SqliteStore::full_check(&dir.path().join("missing.db")).is_err());
        assert!(!dir.path().join("missing.db").exists(), "not created");
    }

    #[test]
    fn a_check_out_of_time_is_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(&dir);
        assert_eq!(
            SqliteStore::quick_check(&path, Duration::ZERO).unwrap(),
            Integrity::Unfinished
        );
    }
}
