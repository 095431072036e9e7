//! The versioned schema: `PRAGMA user_version` counts the migrations applied.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Append only: a released migration never changes, a new schema is a new entry.
const MIGRATIONS: &[&str] = &[
    // 1: the event log. `seq` is AUTOINCREMENT so ids of deleted rows are never handed
    // out again: export cursors are built on it. The UNIQUE `id` is the dedup key, kept
    // for as long as the event is; it holds the UUID's 16 bytes, as the index over
    // random keys is what every insert has to update.
    "CREATE TABLE events (
        seq                INTEGER PRIMARY KEY AUTOINCREMENT,
        id                 BLOB NOT NULL UNIQUE,
        kind               TEXT NOT NULL,
        name               TEXT,
        anonymous_id       TEXT NOT NULL,
        user_id            TEXT,
        timestamp          TEXT NOT NULL,
        original_timestamp TEXT NOT NULL,
        sent_at            TEXT NOT NULL,
        received_at        TEXT NOT NULL,
        properties         TEXT,
        traits             TEXT,
        context            TEXT
    );",
    // 2: segment and campaign definitions, and what devices report about memberships.
    // A definition's id is never reused, archived or not, so `(kind, id)` is its key
    // for good. A membership row holds the latest report by event time; `event_seq`
    // breaks ties between reports stamped at the same instant (the later upload wins).
    // `reported_at` is fixed-width text so that comparing it as text compares times.
    "CREATE TABLE definitions (
        kind       TEXT NOT NULL CHECK (kind IN ('segment', 'campaign')),
        id         TEXT NOT NULL,
        body       TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('active', 'archived')),
        version    INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE TABLE device_memberships (
        segment_id  TEXT NOT NULL,
        user_key    TEXT NOT NULL,
        inside      INTEGER NOT NULL CHECK (inside IN (0, 1)),
        reported_at TEXT NOT NULL,
        event_seq   INTEGER NOT NULL,
        PRIMARY KEY (segment_id, user_key)
    ) WITHOUT ROWID;",
];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema to the latest version; a no-op when it is already there.
///
/// Runs in one IMMEDIATE transaction so two servers starting on the same file cannot
/// both apply a migration.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let supported = latest_version();
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    for sql in MIGRATIONS.iter().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", supported)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_gains_the_definition_tables_and_keeps_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v1.db")).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO events (id, kind, anonymous_id, timestamp, original_timestamp,
                sent_at, received_at) VALUES (x'01', 'track', 'a', 't', 't', 't', 't')",
            [],
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
        let count = |conn: &Connection, table: &str| -> i64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&conn, "events"), 1);
        assert_eq!(count(&conn, "definitions"), 0);
        assert_eq!(count(&conn, "device_memberships"), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(count(&conn, "events"), 1, "migrating again changes nothing");
    }
}
