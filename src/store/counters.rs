use std::collections::HashMap;

use rusqlite::params;

use super::{Store, StoreError};

/// Persistent counters shown by `stats()`. They live in the database so they survive
/// restarts and are updated in the same transaction as the rows they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    Uploaded,
    Batches,
    Retries,
    DroppedQueueFull,
    DroppedExpired,
    DroppedRejectedByServer,
    RejectedAtTrack,
    DatabaseResets,
    /// Events not stored, or discarded from the queue, because the user opted out.
    DroppedOptedOut,
}

impl Counter {
    pub const ALL: [Counter; 9] = [
        Counter::Uploaded,
        Counter::Batches,
        Counter::Retries,
        Counter::DroppedQueueFull,
        Counter::DroppedExpired,
        Counter::DroppedRejectedByServer,
        Counter::RejectedAtTrack,
        Counter::DatabaseResets,
        Counter::DroppedOptedOut,
    ];

    fn key(self) -> &'static str {
        match self {
            Counter::Uploaded => "uploaded",
            Counter::Batches => "batches",
            Counter::Retries => "retries",
            Counter::DroppedQueueFull => "dropped_queue_full",
            Counter::DroppedExpired => "dropped_expired",
            Counter::DroppedRejectedByServer => "dropped_rejected_by_server",
            Counter::RejectedAtTrack => "rejected_at_track",
            Counter::DatabaseResets => "database_resets",
            Counter::DroppedOptedOut => "dropped_opted_out",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(HashMap<Counter, u64>);

impl Counters {
    pub fn get(&self, counter: Counter) -> u64 {
        self.0.get(&counter).copied().unwrap_or(0)
    }
}

/// Adds to a counter on any connection or transaction.
pub(crate) fn bump_on(
    conn: &rusqlite::Connection,
    counter: Counter,
    by: u64,
) -> Result<(), StoreError> {
    if by > 0 {
        conn.prepare_cached(
            "INSERT INTO counters(name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        )?
        .execute(params![counter.key(), by as i64])?;
    }
    Ok(())
}

impl Store {
    pub fn bump(&mut self, counter: Counter, by: u64) -> Result<(), StoreError> {
        bump_on(&self.conn, counter, by)
    }

    pub fn counters(&self) -> Result<Counters, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, value FROM counters")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut counters = Counters::default();
        for row in rows {
            let (name, value) = row?;
            if let Some(counter) = Counter::ALL.iter().find(|c| c.key() == name) {
                counters.0.insert(*counter, value as u64);
            }
        }
        Ok(counters)
    }
}
