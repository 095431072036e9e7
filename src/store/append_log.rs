//! The queue's append log: where `track` puts an event, one `write` per event.
//!
//! Committing one row to SQLite is most of what `track` cost (a B-tree insert, a 4 KiB
//! WAL frame, the commit's bookkeeping), and its slow tail was SQLite's, not the disk's.
//! A record appended to a plain file survives the process being killed exactly as a WAL
//! commit with `synchronous=NORMAL` does: both are in the OS's page cache when the call
//! returns, and neither survives a power cut before the OS writes them back. The store
//! moves the log's records into the `events` table before anything reads the queue or
//! inserts into it otherwise (`settle.rs`), so the rest of the SDK only ever sees SQLite.
//!
//! The file: a header (magic, format version, generation), then records, each
//! `[payload length u32][CRC-32 of the rest u32][created_at i64][payload]`, little
//! endian. Each emptying starts a new generation, so a record of how far a generation
//! was moved (kept in SQLite, in the commit that moved it) never applies to a later one.
//! A record cut short by a kill, or damaged, ends the log: it is cut off there.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The log's file inside the data directory, beside the database.
pub const APPEND_LOG_FILE: &str = "beckon.appended";

const MAGIC: &[u8; 4] = b"BKAL";
const VERSION: u32 = 1;
/// Magic, version, generation.
pub(super) const HEADER_BYTES: u64 = 16;
/// Payload length, CRC, created_at.
const RECORD_HEADER_BYTES: usize = 16;
/// How many records may wait to be moved (see [`AppendLog::backlog`]). The engagement
/// thread moves them once a burst pauses; an app tracking faster than that moves the
/// oldest piece (`SETTLE_PIECE`) on its own thread each time it finds this many.
pub(super) const MAX_PENDING_EVENTS: usize = 2_048;
/// How many bytes of records may wait to be moved.
const MAX_PENDING_BYTES: u64 = 1 << 20;
/// How long the file may grow, moved records included, before an append moves every
/// record so that it can be emptied.
const MAX_FILE_BYTES: u64 = 8 << 20;
/// A record's payload is an event, at most `protocol::MAX_EVENT_BYTES`; anything
/// larger is damage, not an event.
const MAX_PAYLOAD_BYTES: u32 = 1 << 20;

/// Bytes a record of `payload_len` takes in the file.
fn record_bytes(payload_len: usize) -> u64 {
    (RECORD_HEADER_BYTES + payload_len) as u64
}

/// What waits in the log, as an append sees it ([`AppendLog::backlog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backlog {
    None,
    /// As many records as should wait: move the oldest piece.
    MovePiece,
    /// The file grew past its bound: move everything, which empties it.
    MoveAll,
}

/// One appended event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LoggedEvent {
    pub created_at_ms: i64,
    pub payload: Vec<u8>,
}

/// What reading the log from an offset found.
#[derive(Debug, Default)]
pub(super) struct LogRead {
    pub events: Vec<LoggedEvent>,
    /// Where the last whole record ends.
    pub end: u64,
    /// Whether bytes after `end` were cut short or damaged.
    pub damaged_tail: bool,
}

pub(super) struct AppendLog {
    file: File,
    path: PathBuf,
    generation: u64,
    /// Where the last whole record ends: the next one goes here.
    len: u64,
    /// Where the records not yet moved into SQLite begin.
    settled: u64,
    /// Records after `settled` (appended by this process).
    pending: usize,
    /// The record being written, kept to spare an allocation per event.
    buffer: Vec<u8>,
}

impl AppendLog {
    /// Opens (or creates) the log in `dir` as a killed or closed process left it.
    /// Returns the log with its generation as found: `None` when the file held no
    /// header (it is new, or its creation was cut short).
    pub(super) fn open(dir: &Path) -> Result<(AppendLog, Option<u64>), StoreError> {
        let path = dir.join(APPEND_LOG_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let mut header = [0u8; HEADER_BYTES as usize];
        let found = match file.read_exact(&mut header) {
            Ok(()) if &header[..4] == MAGIC && u32_at(&header, 4) == VERSION => {
                Some(u64::from_le_bytes(header[8..16].try_into().unwrap()))
            }
            // Shorter than a header: created, then killed before the header was whole;
            // no record can follow an unfinished header.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => return Err(io(e)),
            Ok(()) => {
                return Err(StoreError::Corrupt(format!(
                    "{} is not an event log of this SDK",
                    path.display()
                )))
            }
        };
        let len = match found {
            Some(_) => file.metadata().map_err(io)?.len(),
            None => 0,
        };
        let log = AppendLog {
            file,
            path,
            generation: found.unwrap_or(0),
            len,
            settled: HEADER_BYTES,
            pending: 0,
            buffer: Vec::with_capacity(RECORD_HEADER_BYTES + 512),
        };
        Ok((log, found))
    }

    /// What a failed read or write of the file is.
    fn failed(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Bytes of records, moved or not, the file holds.
    pub(super) fn len_beyond_header(&self) -> u64 {
        self.len.saturating_sub(HEADER_BYTES)
    }

    /// Records not yet moved into SQLite, appended by this process.
    pub(super) fn pending(&self) -> usize {
        self.pending
    }

    /// What an append must move first, so that the work a reader finds waiting, and
    /// the file, stay bounded when nothing else moves the records.
    pub(super) fn backlog(&self) -> Backlog {
        if self.len >= MAX_FILE_BYTES {
            // Only emptied once every record moved: records kept coming all along.
            Backlog::MoveAll
        } else if self.pending >= MAX_PENDING_EVENTS || self.len - self.settled >= MAX_PENDING_BYTES
        {
            Backlog::MovePiece
        } else {
            Backlog::None
        }
    }

    /// Appends one event with one `write`. When this returns `Ok` the record is whole
    /// in the file; when it fails the file is cut back to the records before it, so a
    /// partial write (a full disk) never hides the records appended after it.
    pub(super) fn append(&mut self, created_at_ms: i64, payload: &[u8]) -> Result<(), StoreError> {
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_PAYLOAD_BYTES)
            .expect("events are checked against MAX_EVENT_BYTES before they are stored");
        self.buffer.clear();
        self.buffer.extend_from_slice(&length.to_le_bytes());
        self.buffer.extend_from_slice(&[0; 4]);
        self.buffer.extend_from_slice(&created_at_ms.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        let crc = crc32fast::hash(&self.buffer[8..]);
        self.buffer[4..8].copy_from_slice(&crc.to_le_bytes());
        if let Err(source) = self.file.write_all(&self.buffer) {
            let _ = self.file.set_len(self.len);
            return Err(self.failed(source));
        }
        self.len += self.buffer.len() as u64;
        self.pending += 1;
        Ok(())
    }

    /// When the oldest record not yet moved was created, if it can be read.
    pub(super) fn oldest_created_at(&mut self) -> Result<Option<i64>, StoreError> {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        let read = self
            .file
            .seek(SeekFrom::Start(self.settled))
            .and_then(|_| self.file.read_exact(&mut header));
        match read {
            Ok(()) => Ok(Some(i64::from_le_bytes(header[8..16].try_into().unwrap()))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(source) => Err(self.failed(source)),
        }
    }

    /// The oldest `max` records not yet moved, fewer when one is cut short or damaged.
    pub(super) fn unsettled(&mut self, max: usize) -> Result<LogRead, StoreError> {
        self.read_from(self.settled, max)
    }

    /// Every record up to `end`, `moved` of them, is in SQLite now, by a commit that
    /// said so; with `rest_unreadable`, so is every record that can be read.
    pub(super) fn mark_settled(&mut self, end: u64, moved: usize, rest_unreadable: bool) {
        self.settled = end;
        self.pending = match rest_unreadable {
            true => 0,
            false => self.pending.saturating_sub(moved),
        };
    }

    /// The first `max` whole records after `offset` (a record boundary of this
    /// generation), fewer when one is cut short or damaged (`damaged_tail`).
    pub(super) fn read_from(&mut self, offset: u64, max: usize) -> Result<LogRead, StoreError> {
        let mut bytes = Vec::new();
        let read = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_to_end(&mut bytes));
        read.map_err(|source| self.failed(source))?;
        let mut found = LogRead {
            end: offset,
            ..LogRead::default()
        };
        let mut at = 0usize;
        while at < bytes.len() && found.events.len() < max {
            let Some(event) = parse_record(&bytes[at..]) else {
                found.damaged_tail = true;
                break;
            };
            at += record_bytes(event.payload.len()) as usize;
            found.events.push(event);
        }
        found.end = offset + at as u64;
        Ok(found)
    }

    /// Empties the log and starts `generation`: every record so far was moved, and the
    /// commit that moved them recorded an earlier generation. With `shred`, the old
    /// records are overwritten with zeros first, so none can be read back from the
    /// disk's free blocks (the user asked for their data to be deleted).
    pub(super) fn restart(&mut self, generation: u64, shred: bool) -> Result<(), StoreError> {
        // The path, not `self`: the file is written to while this is alive.
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        if shred {
            // In place, through a handle that does not append: truncating first would
            // only free the blocks, with the records still in them.
            let end = self.file.metadata().map_err(io)?.len();
            let mut overwrite = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(io)?;
            overwrite.write_all(&vec![0; end as usize]).map_err(io)?;
            overwrite.sync_data().map_err(io)?;
        }
        self.file.set_len(0).map_err(io)?;
        let mut header = [0u8; HEADER_BYTES as usize];
        header[..4].copy_from_slice(MAGIC);
        header[4..8].copy_from_slice(&VERSION.to_le_bytes());
        header[8..].copy_from_slice(&generation.to_le_bytes());
        // Appending: the file was opened to append, at its end, which is now 0.
        self.file.write_all(&header).map_err(io)?;
        self.generation = generation;
        self.len = HEADER_BYTES;
        self.settled = HEADER_BYTES;
        self.pending = 0;
        Ok(())
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The record at the start of `bytes`, if it is whole and its CRC matches.
fn parse_record(bytes: &[u8]) -> Option<LoggedEvent> {
    if bytes.len() < RECORD_HEADER_BYTES {
        return None;
    }
    let length = u32_at(bytes, 0);
    if length > MAX_PAYLOAD_BYTES {
        return None;
    }
    let record = bytes.get(8..RECORD_HEADER_BYTES + length as usize)?;
    if crc32fast::hash(record) != u32_at(bytes, 4) {
        return None;
    }
    Some(LoggedEvent {
        created_at_ms: i64::from_le_bytes(record[..8].try_into().unwrap()),
        payload: record[8..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(dir: &Path) -> AppendLog {
        let (mut log, found) = AppendLog::open(dir).unwrap();
        assert_eq!(found, None);
        log.restart(1, false).unwrap();
        log
    }

    fn events(log: &mut AppendLog) -> Vec<(i64, Vec<u8>)> {
        log.read_from(HEADER_BYTES, usize::MAX)
            .unwrap()
            .events
            .into_iter()
            .map(|e| (e.created_at_ms, e.payload))
            .collect()
    }

    #[test]
    fn appended_records_read_back_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = fresh(dir.path());
        log.append(10, b"{\"a\":1}").unwrap();
        log.append(-5, b"").unwrap();
        log.append(i64::MAX, &[0xff; 3000]).unwrap();
        assert_eq!(log.pending(), 3);
        drop(log);

        let (mut log, found) = AppendLog::open(dir.path()).unwrap();
        assert_eq!(found, Some(1));
        assert_eq!(
            events(&mut log),
            vec![
                (10, b"{\"a\":1}".to_vec()),
                (-5, Vec::new()),
                (i64::MAX, vec![0xff; 3000])
            ]
        );
    }

    #[test]
    fn a_record_cut_short_or_damaged_ends_the_log_and_the_records_before_it_stay() {
        for damage in ["cut", "flipped", "huge length"] {
            let dir = tempfile::tempdir().unwrap();
            let mut log = fresh(dir.path());
            log.append(1, b"kept").unwrap();
            let boundary = log.len;
            log.append(2, b"lost").unwrap();
            log.append(3, b"after").unwrap();
            drop(log);
            let path = dir.path().join(APPEND_LOG_FILE);
            let mut bytes = std::fs::read(&path).unwrap();
            match damage {
                "cut" => bytes.truncate(boundary as usize + 19),
                "flipped" => bytes[boundary as usize + 17] ^= 1,
                _ => bytes[boundary as usize + 3] = 0x7f,
            }
            std::fs::write(&path, bytes).unwrap();

            let (mut log, _) = AppendLog::open(dir.path()).unwrap();
            let read = log.read_from(HEADER_BYTES, usize::MAX).unwrap();
            assert!(read.damaged_tail, "{damage}");
            assert_eq!(read.end, boundary, "{damage}");
            assert_eq!(read.events.len(), 1, "{damage}");
            assert_eq!(read.events[0].payload, b"kept", "{damage}");
        }
    }

    #[test]
    fn at_every_cut_and_every_flipped_byte_exactly_the_whole_records_before_it_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = fresh(dir.path());
        let payloads: Vec<Vec<u8>> = (0..5).map(|i| vec![b'a' + i as u8; i * 7]).collect();
        let mut ends = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            log.append(i as i64, payload).unwrap();
            ends.push(log.len as usize);
        }
        drop(log);
        let path = dir.path().join(APPEND_LOG_FILE);
        let whole = std::fs::read(&path).unwrap();
        let whole_before = |at: usize| ends.iter().filter(|end| **end <= at).count();

        for cut in HEADER_BYTES as usize..=whole.len() {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let (mut log, _) = AppendLog::open(dir.path()).unwrap();
            let read = log.read_from(HEADER_BYTES, usize::MAX).unwrap();
            let kept = whole_before(cut);
            assert_eq!(read.events.len(), kept, "cut at {cut}");
            assert_eq!(
                read.damaged_tail,
                !ends.contains(&cut) && cut > HEADER_BYTES as usize
            );
            for (event, payload) in read.events.iter().zip(&payloads) {
                assert_eq!(&event.payload, payload, "cut at {cut}");
            }
        }
        for flip in HEADER_BYTES as usize..whole.len() {
            let mut bytes = whole.clone();
            bytes[flip] ^= 0x10;
            std::fs::write(&path, &bytes).unwrap();
            let (mut log, _) = AppendLog::open(dir.path()).unwrap();
            let read = log.read_from(HEADER_BYTES, usize::MAX).unwrap();
            assert_eq!(read.events.len(), whole_before(flip), "flipped {flip}");
            assert!(read.damaged_tail, "flipped {flip}");
        }
    }

    #[test]
    fn a_header_cut_short_is_a_new_log_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(APPEND_LOG_FILE), b"BKAL\x01\0").unwrap();
        let (_, found) = AppendLog::open(dir.path()).unwrap();
        assert_eq!(found, None);

        std::fs::write(dir.path().join(APPEND_LOG_FILE), [b'x'; 64]).unwrap();
        assert!(matches!(
            AppendLog::open(dir.path()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn restarting_empties_the_log_under_a_new_generation() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = fresh(dir.path());
        log.append(1, b"moved").unwrap();
        log.restart(2, false).unwrap();
        assert_eq!((log.pending(), log.len), (0, HEADER_BYTES));
        log.append(2, b"new").unwrap();
        drop(log);
        let (mut log, found) = AppendLog::open(dir.path()).unwrap();
        assert_eq!(found, Some(2));
        assert_eq!(events(&mut log), vec![(2, b"new".to_vec())]);
    }

    #[test]
    fn shredding_leaves_no_byte_of_a_record_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = fresh(dir.path());
        log.append(1, b"secret-email@example.com").unwrap();
        log.restart(2, true).unwrap();
        let bytes = std::fs::read(dir.path().join(APPEND_LOG_FILE)).unwrap();
        assert_eq!(bytes.len() as u64, HEADER_BYTES);
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
    }
}
