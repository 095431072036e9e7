//! The user's event history, kept for segment rules and message personalisation after
//! the queue has uploaded and forgotten the events; and the segment memberships last
//! computed from it.

use std::collections::BTreeMap;

use rusqlite::params;

use super::queue::insert_queued;
use super::{Store, StoreError};

/// How much history a device keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    pub max_events: i64,
    pub max_age_ms: i64,
}

/// How long the device keeps events, by default: rules and templates read aggregates
/// that already folded older events; the history itself serves rules added later.
pub const DEFAULT_HISTORY_DAYS: i64 = 180;

impl HistoryLimits {
    pub fn days(days: i64) -> Self {
        HistoryLimits {
            max_events: 100_000,
            max_age_ms: days * 24 * 3600 * 1000,
        }
    }
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits::days(DEFAULT_HISTORY_DAYS)
    }
}

impl Store {
    /// Appends an event to the queue and to the history in one commit, for events the
    /// SDK records itself (a click on a message) off the app's thread.
    pub fn enqueue_with_history(
        &mut self,
        created_at_ms: i64,
        payload: &[u8],
    ) -> Result<u64, StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        tx.prepare_cached("INSERT INTO history(at, event) VALUES (?1, ?2)")?
            .execute(params![created_at_ms, payload])?;
        insert_queued(&tx, next_seq, created_at_ms, payload)?;
        tx.commit()?;
        self.queued(&[payload])
    }

    /// Appends already-queued events to the history, in one commit.
    pub fn append_history<'a>(
        &mut self,
        events: impl IntoIterator<Item = (i64, &'a [u8])>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO history(at, event) VALUES (?1, ?2)")?;
            for (at, payload) in events {
                insert.execute(params![at, payload])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest history row's time (ms), if any, and every row of that time.
    pub fn newest_history(&self) -> Result<(Option<i64>, Vec<Vec<u8>>), StoreError> {
        let newest: Option<i64> =
            self.conn
                .query_row("SELECT max(at) FROM history", [], |row| row.get(0))?;
        let Some(at) = newest else {
            return Ok((None, Vec::new()));
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event FROM history WHERE at = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([at], |row| row.get(0))?;
        Ok((newest, rows.collect::<Result<_, _>>()?))
    }

    /// The rows appended after `seq`, oldest first.
    pub fn history_after(&self, seq: i64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event FROM history WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([seq], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last history row appended (0 for none).
    pub fn last_history_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT ifnull(max(seq), 0) FROM history", [], |row| {
                row.get(0)
            })?)
    }

    /// The saved aggregates and the history row they include up to.
    pub fn engagement_state(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT history_seq, state FROM engagement_state WHERE id = 1")?;
        let mut rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.next().transpose()?)
    }

    pub fn save_engagement_state(
        &mut self,
        history_seq: i64,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO engagement_state(id, history_seq, state) VALUES (1, ?1, ?2)",
            )?
            .execute(params![history_seq, state])?;
        Ok(())
    }

    /// Every event of the history, oldest first, as queued.
    pub fn history(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event FROM history ORDER BY at, seq")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Drops history older than the age limit and beyond the count limit, oldest first.
    /// Returns the time of the newest dropped event, for the in-memory copy to match.
    pub fn prune_history(
        &mut self,
        now_ms: i64,
        limits: HistoryLimits,
    ) -> Result<Option<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        let by_count: Option<i64> = tx
            .query_row(
                "SELECT at FROM history ORDER BY at DESC, seq DESC LIMIT 1 OFFSET ?1",
                [limits.max_events],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let by_age = now_ms - limits.max_age_ms;
        // Cutting at a time keeps the store and the in-memory history in step; events
        // sharing the cut's millisecond go together.
        let cutoff = by_count.map_or(by_age, |at| at.max(by_age));
        let removed = tx.execute("DELETE FROM history WHERE at <= ?1", [cutoff])?;
        tx.commit()?;
        Ok((removed > 0).then_some(cutoff))
    }

    /// Forgets the history and memberships (the user logged out).
    pub fn clear_history(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM history", [])?;
        tx.execute("DELETE FROM memberships", [])?;
        tx.execute("DELETE FROM engagement_state", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Segment id → when the user entered it.
    pub fn memberships(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT segment_id, entered_at FROM memberships")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records entries and exits together with the events reporting them, so a crash
    /// cannot leave a membership change unreported or reported twice.
    pub fn apply_membership_changes(
        &mut self,
        at_ms: i64,
        changes: &[(String, bool)],
        reports: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        for (segment, entered) in changes {
            if *entered {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO memberships(segment_id, entered_at) VALUES (?1, ?2)",
                )?
                .execute(params![segment, at_ms])?;
            } else {
                tx.prepare_cached("DELETE FROM memberships WHERE segment_id = ?1")?
                    .execute([segment])?;
            }
        }
        for (i, report) in reports.iter().enumerate() {
            insert_queued(&tx, next_seq + i as i64, at_ms, report)?;
        }
        tx.commit()?;
        let reports: Vec<&[u8]> = reports.iter().map(Vec::as_slice).collect();
        self.queued(&reports)?;
        Ok(())
    }
}
