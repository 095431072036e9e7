//! The event queue: append on `track`, read and delete in batches on upload, bounded
//! by count, bytes and age with the oldest dropped first.

use rusqlite::{params, OptionalExtension};

use super::append_log::Backlog;
use super::counters::bump_on;
use super::state::write_upload_error;
use super::{Counter, Store, StoreError, SETTLE_PIECE};

/// Bounds on the local queue (DESIGN.md §4). When one is exceeded the oldest events
/// are dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct QueueLimits {
    #[cfg_attr(feature = "ffi", uniffi(default = 10000))]
    pub max_events: i64,
    #[cfg_attr(feature = "ffi", uniffi(default = 10485760))]
    pub max_bytes: i64,
    /// Events older than this are dropped before upload.
    #[cfg_attr(feature = "ffi", uniffi(default = 2592000))]
    pub max_age_seconds: i64,
}

impl QueueLimits {
    /// No count or size limit (the default age limit): for tests that fill the queue.
    #[cfg(test)]
    pub(crate) fn unbounded() -> Self {
        QueueLimits {
            max_events: i64::MAX,
            max_bytes: i64::MAX,
            ..Default::default()
        }
    }
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_events: 10_000,
            max_bytes: 10 * 1024 * 1024,
            max_age_seconds: 30 * 24 * 3600,
        }
    }
}

/// What the queue holds right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueTotals {
    pub events: u64,
    pub bytes: u64,
}

/// A stored event, as read for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub seq: i64,
    pub payload: Vec<u8>,
}

/// A transaction of the store's connection opened once the append log was settled
/// (`settle.rs`): the only kind [`insert_queued`] takes, so every insert into the queue
/// comes after the events waiting in the log.
pub(super) struct QueueTransaction<'a>(rusqlite::Transaction<'a>);

impl<'a> QueueTransaction<'a> {
    /// For `settle.rs`, whose own transaction moves the log.
    pub(super) fn moving_the_log(tx: rusqlite::Transaction<'a>) -> Self {
        QueueTransaction(tx)
    }

    pub(super) fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit()?)
    }
}

impl<'a> std::ops::Deref for QueueTransaction<'a> {
    type Target = rusqlite::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Inserts one event into the queue at sequence number `seq`. [`Store::queued`] must
/// follow the commit.
pub(super) fn insert_queued(
    conn: &QueueTransaction<'_>,
    seq: i64,
    created_at_ms: i64,
    payload: &[u8],
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO events(seq, created_at, payload) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, created_at_ms, payload])?;
    Ok(())
}

impl Store {
    /// Settles the append log and opens a transaction that may insert into the queue;
    /// with the sequence number the first insert takes.
    pub(super) fn queue_transaction(&mut self) -> Result<(QueueTransaction<'_>, i64), StoreError> {
        self.settle()?;
        let next_seq = self.next_seq;
        Ok((QueueTransaction(self.conn.transaction()?), next_seq))
    }

    /// What the queue holds. Counted at the first call after the store opened rather
    /// than by the constructor, since counting reads every queued row: the upload
    /// worker asks at once, on its own thread. Until then, commits keep the limits
    /// unchecked; the first one after the count applies them.
    pub fn totals(&mut self) -> Result<QueueTotals, StoreError> {
        match self.totals {
            Some(totals) => Ok(totals),
            None => {
                self.settle()?;
                let totals = self.read_totals()?;
                self.totals = Some(totals);
                Ok(totals)
            }
        }
    }

    /// The totals if they were counted since the store opened, without counting.
    pub fn counted_totals(&self) -> Option<QueueTotals> {
        self.totals
    }

    pub(super) fn read_totals(&self) -> Result<QueueTotals, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM events",
            [],
            |row| {
                Ok(QueueTotals {
                    events: row.get::<_, i64>(0)? as u64,
                    bytes: row.get::<_, i64>(1)? as u64,
                })
            },
        )?)
    }

    /// Appends one encoded event to the append log (`append_log.rs`). When this
    /// returns, the event survives the process being killed.
    /// Returns how many old events were dropped to stay within the limits.
    pub fn enqueue(&mut self, created_at_ms: i64, payload: &[u8]) -> Result<u64, StoreError> {
        let log = self.log.as_mut().ok_or(StoreError::Closed)?;
        // Nothing else keeps up with this app's events: it moves a piece of them
        // itself, a short wait each time rather than a long one now and then.
        match log.backlog() {
            Backlog::None => {}
            Backlog::MovePiece => {
                self.settle_oldest(SETTLE_PIECE)?;
            }
            Backlog::MoveAll => self.settle()?,
        }
        let log = self.log.as_mut().ok_or(StoreError::Closed)?;
        log.append(created_at_ms, payload)?;
        self.queued(&[payload])
    }

    /// Accounts for committed inserts (at sequence numbers from `next_seq` on) and
    /// applies the limits; returns how many old events were dropped.
    pub(super) fn queued(&mut self, payloads: &[&[u8]]) -> Result<u64, StoreError> {
        self.next_seq += payloads.len() as i64;
        let Some(totals) = &mut self.totals else {
            return Ok(0);
        };
        for payload in payloads {
            totals.events += 1;
            totals.bytes += payload.len() as u64;
        }
        self.evict_over_limits()
    }

    fn over_limits(&self, totals: QueueTotals) -> bool {
        totals.events as i64 > self.limits.max_events || totals.bytes as i64 > self.limits.max_bytes
    }

    fn evict_over_limits(&mut self) -> Result<u64, StoreError> {
        // The oldest events are in SQLite, unless the queue's limits are smaller than
        // what waits in the append log: a full queue costs `track` one delete, not a
        // move of the log as well.
        let evicted = self.evict_from_sqlite()?;
        let still_over = self.totals.is_some_and(|t| self.over_limits(t));
        if still_over && self.first_logged_seq().is_some() {
            self.settle()?;
            return Ok(evicted + self.evict_from_sqlite()?);
        }
        Ok(evicted)
    }

    fn evict_from_sqlite(&mut self) -> Result<u64, StoreError> {
        let Some(totals) = self.totals.filter(|t| self.over_limits(*t)) else {
            return Ok(0);
        };
        let mut remaining = totals;
        let mut last_evicted = None;
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT seq, length(payload) FROM events ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while self.over_limits(remaining) {
                let Some(row) = rows.next()? else { break };
                last_evicted = Some(row.get::<_, i64>(0)?);
                remaining.events -= 1;
                remaining.bytes -= row.get::<_, i64>(1)? as u64;
            }
        }
        let Some(last) = last_evicted else {
            return Ok(0);
        };
        let evicted = totals.events - remaining.events;
        let tx = self.conn.transaction()?;
        tx.prepare_cached("DELETE FROM events WHERE seq <= ?1")?
            .execute([last])?;
        bump_on(&tx, Counter::DroppedQueueFull, evicted)?;
        tx.commit()?;
        self.totals = Some(remaining);
        Ok(evicted)
    }

    /// Drops events older than the age limit. Returns how many.
    ///
    /// Events are appended in time order, so the expired ones are the oldest: walk from
    /// the front until the first young one instead of keeping an index on every insert.
    /// (An event stamped before a backwards clock change may wait one walk longer.)
    pub fn expire(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        let cutoff = now_ms - self.limits.max_age_seconds.saturating_mul(1000);
        // The append log holds the newest events: moved first only when its oldest has
        // expired too (the upload worker looks at every wake).
        if let Some(log) = self.log.as_mut() {
            if log.pending() > 0 && log.oldest_created_at()?.is_some_and(|at| at < cutoff) {
                self.settle()?;
            }
        }
        let mut expired = QueueTotals::default();
        let mut last = None;
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq, created_at, length(payload) FROM events ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if row.get::<_, i64>(1)? >= cutoff {
                    break;
                }
                last = Some(row.get::<_, i64>(0)?);
                expired.events += 1;
                expired.bytes += row.get::<_, i64>(2)? as u64;
            }
        }
        let Some(last) = last else { return Ok(0) };
        let tx = self.conn.transaction()?;
        tx.prepare_cached("DELETE FROM events WHERE seq <= ?1")?
            .execute([last])?;
        bump_on(&tx, Counter::DroppedExpired, expired.events)?;
        tx.commit()?;
        self.forget_queued(expired);
        Ok(expired.events)
    }

    /// The oldest events, up to `max_events` and `max_bytes` of payload (at least one
    /// event when the queue is not empty, since no single event exceeds a batch).
    pub fn peek_batch(
        &mut self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<QueuedEvent>, StoreError> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for event in self.peek_after(0, max_events)? {
            if !batch.is_empty() && bytes + event.payload.len() > max_bytes {
                break;
            }
            bytes += event.payload.len();
            batch.push(event);
        }
        Ok(batch)
    }

    /// Up to `limit` events queued after sequence number `after`, oldest first: pages
    /// of the queue for callers that pick events from it (the upload worker skipping
    /// those of users waiting for an identity token).
    pub fn peek_after(&mut self, after: i64, limit: usize) -> Result<Vec<QueuedEvent>, StoreError> {
        self.settle()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], |row| {
            Ok(QueuedEvent {
                seq: row.get(0)?,
                payload: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a batch after the server answered. `rejected` of its events were refused
    /// one by one (or the whole batch, when the server refused it) and count as dropped;
    /// the rest count as uploaded. `error` is why the batch was refused, at what time;
    /// `None`, for a batch the server took, clears the last upload error. Counting,
    /// deleting and the error share one transaction.
    pub fn complete_batch(
        &mut self,
        batch: &[QueuedEvent],
        rejected: u64,
        error: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let tx = self.conn.transaction()?;
        let (count, bytes): (i64, i64) = if last.seq - first.seq + 1 == batch.len() as i64 {
            // One range, the usual case: two statements whatever the batch's size.
            let counted = tx
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(length(payload)), 0) FROM events WHERE seq BETWEEN ?1 AND ?2",
                )?
                .query_row([first.seq, last.seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
            tx.prepare_cached("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2")?
                .execute([first.seq, last.seq])?;
            counted
        } else {
            // Events left out between them (a user waiting for a token) stay queued.
            let mut delete =
                tx.prepare_cached("DELETE FROM events WHERE seq = ?1 RETURNING length(payload)")?;
            let mut counted = (0, 0);
            for event in batch {
                if let Some(length) = delete
                    .query_row([event.seq], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    counted = (counted.0 + 1, counted.1 + length);
                }
            }
            drop(delete);
            counted
        };
        // Rows evicted while the batch was in flight were already counted as dropped.
        let rejected = rejected.min(count as u64);
        bump_on(&tx, Counter::Uploaded, count as u64 - rejected)?;
        bump_on(&tx, Counter::DroppedRejectedByServer, rejected)?;
        bump_on(&tx, Counter::Batches, 1)?;
        // In the same commit as the counters: `stats()` never shows a batch uploaded
        // beside the error of the attempt before it.
        write_upload_error(&tx, error)?;
        tx.commit()?;
        self.forget_queued(QueueTotals {
            events: count as u64,
            bytes: bytes as u64,
        });
        Ok(())
    }

    /// The newest event's sequence number, if any: a flush waits for everything up to it.
    /// The log's events are the newest, so while one waits there, it is the last number
    /// given, known without moving the log (the app's `flush` asks).
    pub fn last_seq(&self) -> Result<Option<i64>, StoreError> {
        match self.first_logged_seq() {
            Some(_) => Ok(Some(self.next_seq - 1)),
            None => self.max_seq(),
        }
    }

    /// The newest sequence number in SQLite, without settling the log.
    pub(super) fn max_seq(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT max(seq) FROM events")?
            .query_row([], |r| r.get(0))?)
    }

    /// The queued events at or before `seq` created at or after `since_ms`, oldest
    /// first: what a process killed after queueing may have left without a history
    /// row. Read newest first and stopped once a run of older rows shows the rest is
    /// older still (times only step back when a clock is set back), so a start reads
    /// the queue's tail, not the whole queue.
    pub fn queued_since(
        &mut self,
        since_ms: i64,
        seq: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        const OLDER_RUN: usize = 64;
        self.settle()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT created_at, payload FROM events WHERE seq <= ?1 ORDER BY seq DESC",
        )?;
        let mut rows = stmt.query([seq])?;
        let mut found = Vec::new();
        let mut older = 0;
        while let Some(row) = rows.next()? {
            let created_at: i64 = row.get(0)?;
            if created_at < since_ms {
                older += 1;
                if older == OLDER_RUN {
                    break;
                }
                continue;
            }
            older = 0;
            found.push((created_at, row.get(1)?));
        }
        found.reverse();
        Ok(found)
    }

    /// Whether any event at or before `seq` is still queued. Answered without moving
    /// the append log: its events are the newest (the upload worker asks while a flush
    /// waits).
    pub fn holds_up_to(&self, seq: i64) -> Result<bool, StoreError> {
        if self.first_logged_seq().is_some_and(|first| first <= seq) {
            return Ok(true);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM events WHERE seq <= ?1)")?
            .query_row([seq], |r| r.get(0))?)
    }

    /// Removes every event and resets nothing else; used when the user opts out.
    pub fn clear_queue(&mut self) -> Result<u64, StoreError> {
        self.settle()?;
        let removed = self.conn.execute("DELETE FROM events", [])? as u64;
        self.totals = Some(QueueTotals::default());
        Ok(removed)
    }

    /// Accounts for committed deletes of queued rows (when the totals are counted).
    fn forget_queued(&mut self, gone: QueueTotals) {
        if let Some(totals) = &mut self.totals {
            totals.events -= gone.events;
            totals.bytes -= gone.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(limits: QueueLimits) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), limits).unwrap();
        (dir, store)
    }

    fn payload(i: usize) -> Vec<u8> {
        format!("{{\"n\":{i}}}").into_bytes()
    }

    #[test]
    fn batches_come_out_oldest_first_and_go_once_completed() {
        let (_dir, mut store) = open(QueueLimits::default());
        for i in 0..5 {
            store.enqueue(i, &payload(i as usize)).unwrap();
        }
        let batch = store.peek_batch(3, usize::MAX).unwrap();
        assert_eq!(
            batch.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
            (0..3).map(payload).collect::<Vec<_>>()
        );
        store.complete_batch(&batch, 1, None).unwrap();
        assert_eq!(store.totals().unwrap().events, 2);
        let counters = store.counters().unwrap();
        assert_eq!(counters.get(Counter::Uploaded), 2);
        assert_eq!(counters.get(Counter::DroppedRejectedByServer), 1);
        assert_eq!(
            store.peek_batch(10, usize::MAX).unwrap()[0].payload,
            payload(3)
        );
    }

    #[test]
    fn a_completed_batch_sets_or_clears_the_upload_error_with_its_counters() {
        let (_dir, mut store) = open(QueueLimits::default());
        for i in 0..4 {
            store.enqueue(i, &payload(i as usize)).unwrap();
        }
        store
            .set_upload_error(Some(("connection refused", 10)))
            .unwrap();
        let refused = store.peek_batch(2, usize::MAX).unwrap();
        store
            .complete_batch(&refused, 2, Some(("HTTP 400", 20)))
            .unwrap();
        let error = store.upload_error().unwrap().unwrap();
        assert_eq!(
            (error.problem.as_str(), error.at_ms),
            ("HTTP 400", Some(20))
        );
        let taken = store.peek_batch(2, usize::MAX).unwrap();
        store.complete_batch(&taken, 0, None).unwrap();
        assert_eq!(store.upload_error().unwrap(), None);
        let counters = store.counters().unwrap();
        assert_eq!(counters.get(Counter::Uploaded), 2);
        assert_eq!(counters.get(Counter::DroppedRejectedByServer), 2);
    }

    #[test]
    fn a_batch_picked_around_other_events_removes_only_its_own() {
        let (_dir, mut store) = open(QueueLimits::default());
        for i in 0..6 {
            store.enqueue(i, &payload(i as usize)).unwrap();
        }
        let page = store.peek_after(0, 10).unwrap();
        assert_eq!(page.len(), 6);
        assert_eq!(
            store.peek_after(page[3].seq, 10).unwrap()[0].payload,
            payload(4)
        );
        // Every other event goes; those in between stay, and the totals follow.
        let picked: Vec<QueuedEvent> = page.iter().step_by(2).cloned().collect();
        store.complete_batch(&picked, 0, None).unwrap();
        let left: Vec<Vec<u8>> = store
            .peek_batch(10, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        assert_eq!(left, [payload(1), payload(3), payload(5)]);
        assert_eq!(store.totals().unwrap().events, 3);
        let bytes: u64 = left.iter().map(|p| p.len() as u64).sum();
        assert_eq!(store.totals().unwrap().bytes, bytes);
        assert_eq!(store.counters().unwrap().get(Counter::Uploaded), 3);
        // Completing it again (an event evicted meanwhile) counts nothing twice.
        store.complete_batch(&picked, 0, None).unwrap();
        assert_eq!(store.counters().unwrap().get(Counter::Uploaded), 3);
    }

    #[test]
    fn batches_respect_the_byte_budget_but_always_take_one() {
        let (_dir, mut store) = open(QueueLimits::default());
        for i in 0..4 {
            store.enqueue(i, &[b'x'; 100]).unwrap();
        }
        assert_eq!(store.peek_batch(10, 250).unwrap().len(), 2);
        assert_eq!(store.peek_batch(10, 10).unwrap().len(), 1);
    }

    #[test]
    fn the_oldest_go_first_when_the_count_limit_is_hit() {
        let (_dir, mut store) = open(QueueLimits {
            max_events: 3,
            ..Default::default()
        });
        let mut evicted = 0;
        for i in 0..5 {
            evicted += store.enqueue(i, &payload(i as usize)).unwrap();
        }
        assert_eq!(evicted, 2);
        assert_eq!(store.totals().unwrap().events, 3);
        assert_eq!(
            store.peek_batch(10, usize::MAX).unwrap()[0].payload,
            payload(2)
        );
        assert_eq!(store.counters().unwrap().get(Counter::DroppedQueueFull), 2);
    }

    #[test]
    fn the_byte_limit_evicts_as_many_as_needed() {
        let (_dir, mut store) = open(QueueLimits {
            max_bytes: 1000,
            ..Default::default()
        });
        let evicted: u64 = (0..4)
            .map(|i| store.enqueue(i, &[b'a'; 300]).unwrap())
            .sum();
        assert_eq!(evicted, 1, "1200 bytes is over the limit by one event");
        assert_eq!(store.enqueue(9, &[b'b'; 700]).unwrap(), 2);
        assert_eq!(
            store.totals().unwrap(),
            QueueTotals {
                events: 2,
                bytes: 1000
            }
        );
        store.settle().unwrap();
        assert_eq!(store.read_totals().unwrap(), store.totals().unwrap());
    }

    #[test]
    fn old_events_expire_and_are_counted() {
        let (_dir, mut store) = open(QueueLimits {
            max_age_seconds: 60,
            ..Default::default()
        });
        store.enqueue(1_000, b"old").unwrap();
        store.enqueue(100_000, b"new").unwrap();
        assert_eq!(store.expire(100_000).unwrap(), 1);
        assert_eq!(
            store.totals().unwrap(),
            QueueTotals {
                events: 1,
                bytes: 3
            }
        );
        assert_eq!(store.counters().unwrap().get(Counter::DroppedExpired), 1);
    }

    #[test]
    fn totals_are_recomputed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            store.enqueue(1, b"abcd").unwrap();
            store.enqueue(2, b"ef").unwrap();
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.totals().unwrap(),
            QueueTotals {
                events: 2,
                bytes: 6
            }
        );
        assert_eq!(store.last_seq().unwrap(), Some(2));
        assert!(store.holds_up_to(1).unwrap());
    }

    #[test]
    fn a_reopened_queue_is_counted_at_the_first_ask_and_then_kept_within_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            for i in 0..5 {
                store.enqueue(i, &payload(i as usize)).unwrap();
            }
        }
        let limits = QueueLimits {
            max_events: 3,
            ..Default::default()
        };
        let (mut store, _) = Store::open(dir.path(), limits).unwrap();
        assert_eq!(store.counted_totals(), None, "opening reads no queued row");
        assert_eq!(store.enqueue(5, &payload(5)).unwrap(), 0);
        assert_eq!(store.totals().unwrap().events, 6);
        assert_eq!(store.enqueue(6, &payload(6)).unwrap(), 4);
        store.settle().unwrap();
        assert_eq!(store.totals().unwrap(), store.read_totals().unwrap());
        assert_eq!(
            store.peek_batch(10, usize::MAX).unwrap()[0].payload,
            payload(4)
        );
    }

    #[test]
    fn sequence_numbers_are_never_reused_after_the_queue_empties() {
        let (_dir, mut store) = open(QueueLimits::default());
        store.enqueue(1, b"a").unwrap();
        let batch = store.peek_batch(10, usize::MAX).unwrap();
        store.complete_batch(&batch, 0, None).unwrap();
        store.enqueue(2, b"b").unwrap();
        assert!(store.last_seq().unwrap().unwrap() > batch[0].seq);
        assert!(!store.holds_up_to(batch[0].seq).unwrap());
    }
}
