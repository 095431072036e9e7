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
