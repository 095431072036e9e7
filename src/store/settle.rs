//! Moving the append log's events into the `events` table (`append_log.rs`).
//!
//! The log holds the queue's newest events; SQLite holds everything before them. Every
//! method that reads queued events settles first, so SQLite alone answers, and so does
//! every other insert into the queue (only a `QueueTransaction` may insert, and only
//! settling makes one), which then comes after the log's events, in sequence order.
//! Dropping the oldest events (a full queue, expiry) settles only when the log's own
//! events are among them.
//! A move is one commit that also records how far the log's generation was moved: a
//! process killed between that commit and emptying the log finds, at its next start,
//! that those records are already in SQLite.

use super::append_log::{AppendLog, LoggedEvent, HEADER_BYTES};
use super::queue::{insert_queued, QueueTransaction};
use super::state::StateKey;
use super::{Store, StoreError};

/// How many of the log's events one move takes when moves are made in pieces
/// ([`Store::settle_oldest`]): a few hundred microseconds under the store's lock.
pub const SETTLE_PIECE: usize = 256;

/// Moves every event waiting in the log into SQLite a piece per hold of `store`'s
/// lock, for the SDK's threads: an app still tracking waits for one piece at most.
pub fn settle_in_pieces(store: &super::StoreLock) -> Result<(), StoreError> {
    while store.lock().settle_oldest(SETTLE_PIECE)? {}
    Ok(())
}

impl Store {
    /// Moves every event appended to the log into SQLite, in one commit, and empties
    /// the log. Costs nothing when no event waits.
    pub fn settle(&mut self) -> Result<(), StoreError> {
        self.settle_log(usize::MAX, false).map(|_| ())
    }

    /// Moves the log's oldest `max` events into SQLite, in one commit; returns whether
    /// more wait. For a thread that moves a burst in pieces, letting go of the store's
    /// lock between them, so that an app still tracking never waits for the whole of it.
    pub fn settle_oldest(&mut self, max: usize) -> Result<bool, StoreError> {
        self.settle_log(max.max(1), false)
    }

    /// The sequence number of the oldest event waiting in the log, if one waits: the
    /// log's events hold the numbers just below the next one.
    pub(super) fn first_logged_seq(&self) -> Option<i64> {
        let pending = self.log.as_ref().map_or(0, |log| log.pending());
        (pending > 0).then(|| self.next_seq - pending as i64)
    }

    /// Moves up to `max` of the log's events; empties the log once none waits (with
    /// `shred`, overwriting its old records on disk, not only dropping them). Returns
    /// whether events still wait.
    pub(super) fn settle_log(&mut self, max: usize, shred: bool) -> Result<bool, StoreError> {
        let first_logged = self.first_logged_seq();
        let Some(log) = self.log.as_mut() else {
            return Err(StoreError::Closed);
        };
        if let Some(first_seq) = first_logged {
            let read = log.unsettled(max.min(log.pending()))?;
            if read.damaged_tail {
                // Damage within this process's own writes: keep what is whole, and
                // count the queue again rather than trust totals that included the rest.
                self.totals = None;
            }
            let (taken, end) = (read.events.len(), read.end);
            let generation = log.generation();
            let tx = QueueTransaction::moving_the_log(self.conn.transaction()?);
            insert_all(&tx, first_seq, &read.events)?;
            write_moved(&tx, generation, end)?;
            tx.commit()?;
            let log = self.log.as_mut().expect("checked above");
            log.mark_settled(end, taken, read.damaged_tail);
        }
        let log = self.log.as_mut().expect("checked above");
        if log.pending() > 0 {
            return Ok(true);
        }
        if log.len_beyond_header() > 0 || shred {
            // Not needed for correctness (the commit said how far it moved): keeps the
            // file from growing, and a failure here leaves it for the next move.
            let next = log.generation() + 1;
            log.restart(next, shred)?;
        }
        Ok(false)
    }

    /// Opens the log beside the database and moves into it whatever a killed process
    /// left, numbered after the queue's newest event. Called once, by `open`, before
    /// the queue's sequence numbers and totals are read.
    pub(super) fn open_log(&mut self) -> Result<(), StoreError> {
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        let (mut log, found) = match AppendLog::open(dir) {
            Err(StoreError::Corrupt(_)) => {
                // Not a log this SDK wrote: nothing in it can be read as an event.
                let path = dir.join(super::APPEND_LOG_FILE);
                let stamp = chrono::Utc::now().timestamp_millis();
                let aside = path.with_extension(format!("appended.corrupt-{stamp}"));
                std::fs::rename(&path, aside).map_err(|source| StoreError::Io { path, source })?;
                AppendLog::open(dir)?
            }
            opened => opened?,
        };
        let moved = self.read_moved()?;
        if let Some(generation) = found {
            let from = match moved {
                Some((g, offset)) if g == generation => offset.max(HEADER_BYTES),
                _ => HEADER_BYTES,
            };
            let read = log.read_from(from, usize::MAX)?;
            if !read.events.is_empty() {
                let first_seq = self.max_seq()?.unwrap_or(0) + 1;
                let tx = QueueTransaction::moving_the_log(self.conn.transaction()?);
                insert_all(&tx, first_seq, &read.events)?;
                write_moved(&tx, generation, read.end)?;
                tx.commit()?;
            }
        }
        // A log that holds only its header (a clean stop) is used as it is, when its
        // generation is newer than any move recorded (a database restored from a
        // backup may have recorded a later one): a start spares two writes.
        let recorded_later = moved.is_some_and(|(g, _)| Some(g) >= found);
        if found.is_none() || log.len_beyond_header() > 0 || recorded_later {
            let last = found.unwrap_or(0).max(moved.map_or(0, |(g, _)| g));
            log.restart(last + 1, false)?;
        }
        self.log = Some(log);
        Ok(())
    }

    fn read_moved(&self) -> Result<Option<(u64, u64)>, StoreError> {
        Ok(self
            .get_state(StateKey::AppendLogMoved)?
            .and_then(|value| parse_moved(&value)))
    }
}

fn insert_all(
    tx: &QueueTransaction<'_>,
    first_seq: i64,
    events: &[LoggedEvent],
) -> Result<(), StoreError> {
    for (i, event) in events.iter().enumerate() {
        insert_queued(
            tx,
            first_seq + i as i64,
            event.created_at_ms,
            &event.payload,
        )?;
    }
    Ok(())
}

fn write_moved(
    tx: &rusqlite::Transaction<'_>,
    generation: u64,
    end: u64,
) -> Result<(), StoreError> {
    super::state::write_state(tx, StateKey::AppendLogMoved, &format!("{generation}:{end}"))
}

/// "generation:offset".
fn parse_moved(value: &str) -> Option<(u64, u64)> {
    let (generation, offset) = value.split_once(':')?;
    Some((generation.parse().ok()?, offset.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{QueueLimits, APPEND_LOG_FILE};

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, QueueLimits::default()).unwrap().0
    }

    fn queued(store: &mut Store) -> Vec<(i64, Vec<u8>)> {
        store
            .peek_after(0, 100_000)
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.payload))
            .collect()
    }

    fn payloads(store: &mut Store) -> Vec<Vec<u8>> {
        queued(store).into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn events_a_killed_process_left_in_the_log_are_queued_at_the_next_start_after_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        store.enqueue(1, b"settled").unwrap();
        store.settle().unwrap();
        store.enqueue(2, b"in the log 1").unwrap();
        store.enqueue(3, b"in the log 2").unwrap();
        // Dropped without `close`: as a killed process leaves the files.
        drop(store);

        let mut store = open(dir.path());
        assert_eq!(
            queued(&mut store),
            vec![
                (1, b"settled".to_vec()),
                (2, b"in the log 1".to_vec()),
                (3, b"in the log 2".to_vec())
            ]
        );
        assert_eq!(store.totals().unwrap().events, 3);
        store.enqueue(4, b"next").unwrap();
        assert_eq!(queued(&mut store).last().unwrap().0, 4);
    }

    #[test]
    fn a_kill_between_the_move_and_emptying_the_log_queues_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(APPEND_LOG_FILE);
        let mut store = open(dir.path());
        store.enqueue(1, b"a").unwrap();
        store.enqueue(2, b"b").unwrap();
        let before_emptying = std::fs::read(&log).unwrap();
        store.settle().unwrap();
        store.enqueue(3, b"c").unwrap();
        drop(store);
        // The log as it was when the move committed, as if emptying it never happened.
        std::fs::write(&log, &before_emptying).unwrap();

        let mut store = open(dir.path());
        assert_eq!(
            payloads(&mut store),
            [b"a".to_vec(), b"b".to_vec()],
            "moved once; `c` went to a generation the file no longer holds"
        );
    }

    #[test]
    fn moved_in_pieces_and_killed_between_them_every_event_is_queued_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        for i in 0..5 {
            store.enqueue(i, format!("{i}").as_bytes()).unwrap();
        }
        assert!(store.settle_oldest(2).unwrap());
        assert!(store.settle_oldest(2).unwrap());
        let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("{i}").into_bytes()).collect();
        drop(store);

        let mut store = open(dir.path());
        assert_eq!(payloads(&mut store), expected);
        let seqs: Vec<i64> = queued(&mut store).into_iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        store.enqueue(5, b"5").unwrap();
        assert!(!store.settle_oldest(2).unwrap(), "one waited: none left");
        assert_eq!(queued(&mut store).len(), 6);
    }

    #[test]
    fn the_log_is_moved_before_any_other_insert_so_the_queue_keeps_the_order_of_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        store.enqueue(1, b"tracked").unwrap();
        store.enqueue_impression("c1", 2, b"shown").unwrap();
        store.enqueue(3, b"tracked again").unwrap();
        store.enqueue_all(4, &[b"reported"]).unwrap();
        assert_eq!(
            payloads(&mut store),
            [
                b"tracked".to_vec(),
                b"shown".to_vec(),
                b"tracked again".to_vec(),
                b"reported".to_vec()
            ]
        );
        let seqs: Vec<i64> = queued(&mut store).into_iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    #[test]
    fn a_full_log_is_moved_by_the_append_that_finds_it_full() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::unbounded()).unwrap();
        let payload = vec![b'x'; 100];
        let (mut most_pending, mut longest) = (0, 0);
        for i in 0..100_000 {
            store.enqueue(i, &payload).unwrap();
            most_pending = most_pending.max(store.log.as_ref().unwrap().pending());
            longest = longest.max(
                std::fs::metadata(dir.path().join(APPEND_LOG_FILE))
                    .unwrap()
                    .len(),
            );
        }
        assert_eq!(
            most_pending,
            crate::store::append_log::MAX_PENDING_EVENTS,
            "moved a piece at a time"
        );
        // Past its bound by the one record that took it there, at most.
        assert!(longest <= (8 << 20) + 116, "{longest}");
        assert!(
            longest > 4 << 20,
            "emptied only when it had to be: {longest}"
        );
        assert_eq!(store.totals().unwrap().events, 100_000);
        let seqs: Vec<i64> = queued(&mut store).into_iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, (1..=100_000).collect::<Vec<_>>());
    }

    #[test]
    fn over_the_queue_limits_the_oldest_events_go_whether_settled_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let limits = QueueLimits {
            max_events: 3,
            ..Default::default()
        };
        let (mut store, _) = Store::open(dir.path(), limits).unwrap();
        for i in 0..5 {
            store.enqueue(i, format!("{i}").as_bytes()).unwrap();
        }
        assert_eq!(
            payloads(&mut store),
            [b"2".to_vec(), b"3".to_vec(), b"4".to_vec()]
        );
        drop(store);
        let (mut store, _) = Store::open(dir.path(), limits).unwrap();
        assert_eq!(store.totals().unwrap().events, 3);
    }

    #[test]
    fn a_full_queue_drops_its_oldest_from_sqlite_and_leaves_the_log_alone() {
        let dir = tempfile::tempdir().unwrap();
        let limits = QueueLimits {
            max_events: 3,
            ..Default::default()
        };
        let (mut store, _) = Store::open(dir.path(), limits).unwrap();
        for i in 0..3 {
            store.enqueue(i, format!("{i}").as_bytes()).unwrap();
        }
        store.settle().unwrap();
        assert_eq!(store.enqueue(3, b"3").unwrap(), 1);
        assert_eq!(store.log.as_ref().unwrap().pending(), 1, "not moved");
        assert_eq!(
            payloads(&mut store),
            [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
    }

    #[test]
    fn whether_events_up_to_a_number_wait_is_answered_without_moving_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        store.enqueue(1, b"a").unwrap();
        store.settle().unwrap();
        store.enqueue(2, b"b").unwrap();
        store.enqueue(3, b"c").unwrap();
        assert_eq!(store.last_seq().unwrap(), Some(3));
        assert!(store.holds_up_to(1).unwrap(), "in SQLite");
        assert!(store.holds_up_to(2).unwrap(), "in the log");
        assert!(!store.holds_up_to(0).unwrap());
        assert_eq!(store.log.as_ref().unwrap().pending(), 2, "not moved");
        let batch = store.peek_batch(1, usize::MAX).unwrap();
        store.complete_batch(&batch, 0, None).unwrap();
        assert!(!store.holds_up_to(1).unwrap());
        assert!(store.holds_up_to(3).unwrap());
    }

    #[test]
    fn expiring_moves_the_log_only_when_its_oldest_event_expired() {
        let dir = tempfile::tempdir().unwrap();
        let limits = QueueLimits {
            max_age_seconds: 60,
            ..Default::default()
        };
        let (mut store, _) = Store::open(dir.path(), limits).unwrap();
        store.enqueue(10_000, b"young").unwrap();
        assert_eq!(store.expire(20_000).unwrap(), 0);
        assert_eq!(store.log.as_ref().unwrap().pending(), 1, "not moved");
        assert_eq!(store.expire(80_000).unwrap(), 1);
        assert_eq!(store.totals().unwrap().events, 0);
    }

    #[test]
    fn a_damaged_tail_loses_only_the_damaged_record_and_later_appends_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(APPEND_LOG_FILE);
        let mut store = open(dir.path());
        store.enqueue(1, b"whole").unwrap();
        store.enqueue(2, b"cut short").unwrap();
        drop(store);
        let bytes = std::fs::read(&log).unwrap();
        std::fs::write(&log, &bytes[..bytes.len() - 3]).unwrap();

        let mut store = open(dir.path());
        store.enqueue(3, b"after").unwrap();
        drop(store);
        let mut store = open(dir.path());
        assert_eq!(payloads(&mut store), [b"whole".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn a_file_that_is_not_a_log_is_moved_aside_and_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()));
        std::fs::write(dir.path().join(APPEND_LOG_FILE), [b'?'; 100]).unwrap();
        let mut store = open(dir.path());
        store.enqueue(1, b"new").unwrap();
        assert_eq!(payloads(&mut store), [b"new".to_vec()]);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("appended.corrupt-")
            })
            .count();
        assert_eq!(aside, 1);
    }

    #[test]
    fn a_database_that_recorded_a_later_move_than_the_log_knows_never_hides_new_events() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(APPEND_LOG_FILE);
        for payload in [b"a", b"b"] {
            let mut store = open(dir.path());
            store.enqueue(1, payload).unwrap();
            store.close().unwrap();
        }
        // The log of the generation whose move the database recorded last, emptied:
        // as a log restored from an older backup beside a newer database may be.
        let mut header = std::fs::read(&log).unwrap();
        let generation = u64::from_le_bytes(header[8..16].try_into().unwrap());
        header[8..16].copy_from_slice(&(generation - 1).to_le_bytes());
        std::fs::write(&log, &header).unwrap();

        let mut store = open(dir.path());
        store.enqueue(3, b"c").unwrap();
        drop(store);
        let mut store = open(dir.path());
        assert_eq!(
            payloads(&mut store),
            [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn closing_moves_the_log_and_later_calls_fail_as_closed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        store.enqueue(1, b"a").unwrap();
        store.close().unwrap();
        assert!(matches!(store.enqueue(2, b"b"), Err(StoreError::Closed)));
        assert_eq!(
            std::fs::metadata(dir.path().join(APPEND_LOG_FILE))
                .unwrap()
                .len(),
            HEADER_BYTES
        );
        let mut store = open(dir.path());
        assert_eq!(payloads(&mut store), [b"a".to_vec()]);
    }
}
