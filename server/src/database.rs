//! The database before the server serves: a start-up integrity check bounded in time,
//! then opening (and migrating) it; and `--check-database`, the full check on its own.
//!
//! Both checks read the file through a read-only connection of their own, so a
//! damaged file is left exactly as it was found.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::server::ServerError;
use crate::store::{repair_steps, Integrity, SqliteStore, StoreError};

/// How long the start-up check may take by default: small files are checked whole in
/// a fraction of that, and a large one does not hold the start up for long.
pub const DEFAULT_STARTUP_CHECK: Duration = Duration::from_secs(5);

/// Findings named in the start-up refusal; `--check-database` lists them all.
const FINDINGS_SHOWN: usize = 3;

/// Checks the file for at most `budget` (not at all when zero, nor when there is no
/// file yet), then opens it. A damaged file is refused before anything writes to it.
pub(crate) async fn open(path: &Path, budget: Duration) -> Result<SqliteStore, ServerError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || open_checked(&owned, budget))
        .await
        .map_err(|err| refused(path, StoreError::Task(err.to_string())))?
}

fn open_checked(path: &Path, budget: Duration) -> Result<SqliteStore, ServerError> {
    if !budget.is_zero() && path.exists() {
        let started = Instant::now();
        match SqliteStore::quick_check(path, budget).map_err(|err| refused(path, err))? {
            Integrity::Sound => tracing::info!(
                db = %path.display(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "database checked: nothing wrong found"
            ),
            Integrity::Unfinished => tracing::warn!(
                db = %path.display(),
                seconds = budget.as_secs_f64(),
                "the start-up check ran out of time (--startup-check-seconds) and covered \
                 only part of the database, where it found nothing wrong; for the whole \
                 file run `beckon-server --db {} --check-database`",
                path.display()
            ),
            Integrity::Damaged(findings) => return Err(damaged(path, &findings)),
        }
    }
    SqliteStore::open(path).map_err(|err| refused(path, err))
}

/// The start-up error for a store error on the file at `path`.
fn refused(path: &Path, source: StoreError) -> ServerError {
    match source {
        StoreError::Damaged { detail } => damaged(path, &[detail]),
        source => ServerError::Store {
            path: path.display().to_string(),
            source,
        },
    }
}

fn damaged(path: &Path, findings: &[String]) -> ServerError {
    let mut shown = findings[..findings.len().min(FINDINGS_SHOWN)].join("; ");
    if findings.len() > FINDINGS_SHOWN {
        shown.push_str("; …");
    }
    ServerError::Damaged {
        path: path.display().to_string(),
        findings: shown,
        repair: repair_steps(path),
    }
}

/// `--check-database`: the full check of the file, read-only. Writes what SQLite found
/// to `out` and returns the exit code: 0 sound, 1 damaged, 2 when it cannot be read.
pub fn check_database(path: &Path, out: &mut dyn Write) -> u8 {
    let file = path.display();
    let (code, report) = match SqliteStore::full_check(path) {
        Ok(Integrity::Sound) => (
            0,
            format!("{file}: ok, SQLite's integrity check found nothing wrong\n"),
        ),
        Ok(Integrity::Damaged(findings)) => {
            let mut report = format!("{file}: damaged; SQLite's integrity check found:\n");
            for finding in &findings {
                report.push_str(&format!("  {finding}\n"));
            }
            report.push_str(&repair_steps(path));
            report.push('\n');
            (1, report)
        }
        Ok(Integrity::Unfinished) => (2, format!("{file}: the check was interrupted\n")),
        Err(err) => (2, format!("{file}: cannot be checked: {err}\n")),
    };
    let _ = out.write_all(report.as_bytes());
    let _ = out.flush();
    code
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Cli;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["beckon-server"].iter().chain(args))
    }

    #[test]
    fn the_start_up_check_is_bounded_by_a_flag() {
        let keys = ["--app-key", "k", "--admin-token", "t"];
        let config = parse(&keys).unwrap().into_config();
        assert_eq!(config.startup_check, DEFAULT_STARTUP_CHECK);
        let half = parse(&[&keys[..], &["--startup-check-seconds", "0.5"]].concat()).unwrap();
        assert_eq!(half.startup_check, Duration::from_millis(500));
        let off = parse(&[&keys[..], &["--startup-check-seconds", "0"]].concat()).unwrap();
        assert!(off.startup_check.is_zero());
        for bad in ["-1", "soon", "NaN"] {
            let flag = format!("--startup-check-seconds={bad}");
            let err = parse(&[&keys[..], &[flag.as_str()]].concat()).unwrap_err();
            assert!(err.to_string().contains("seconds"), "{bad}: {err}");
        }
    }

    #[test]
    fn check_database_needs_no_keys_but_a_server_still_does() {
        let check = parse(&["--db", "x.db", "--check-database"]).unwrap();
        assert!(check.check_database);
        assert_eq!(check.db_path, Path::new("x.db"));
        let err = parse(&["--db", "x.db"]).unwrap_err().to_string();
        assert!(
            err.contains("--app-key") && err.contains("--admin-token"),
            "{err}"
        );
    }

    #[test]
    fn check_database_prints_what_it_found_and_exits_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let run = |path: &Path| {
            let mut out = Vec::new();
            let code = check_database(path, &mut out);
            (code, String::from_utf8(out).unwrap())
        };
        let sound = dir.path().join("sound.db");
        drop(SqliteStore::open(&sound).unwrap());
        let (code, out) = run(&sound);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("ok"), "{out}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x42; 4096]).unwrap();
        let (code, out) = run(&garbage);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("damaged") && out.contains("--check-database"),
            "{out}"
        );

        let (code, out) = run(&dir.path().join("missing.db"));
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("cannot be checked"), "{out}");
    }
}
