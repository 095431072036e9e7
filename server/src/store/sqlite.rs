//! The SQLite backend: one file, WAL, one writer connection and one reader connection.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use beckon::protocol::{ExportedEvent, WireEvent, WireKind};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use serde_json::{Map, Value};

use super::{migrations, EventStore, InsertOutcome, Page, StoreError};

/// Long enough to ride out another process's checkpoint, short enough to surface a stuck
/// lock as an error instead of a hung request.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rough size of an exported line beyond its variable-length fields, for page budgeting.
const LINE_OVERHEAD: usize = 320;

const INSERT: &str = "INSERT INTO events (id, kind, name, anonymous_id, user_id, timestamp,
        original_timestamp, sent_at, received_at, properties, traits, context)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
    ON CONFLICT (id) DO NOTHING";

const PAGE: &str = "SELECT seq, id, kind, name, anonymous_id, user_id, timestamp,
        original_timestamp, sent_at, received_at, properties, traits, context
    FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";

pub struct SqliteStore {
    // SQLite allows one writer at a time anyway; a mutex makes writers queue in-process
    // instead of failing with SQLITE_BUSY. WAL lets the reader run alongside.
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database file.
    ///
    /// A file that is not a Beckon database, or one from a newer server, is an error:
    /// unlike the SDK's disposable queue, server data is never moved aside silently.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrations::migrate(&mut writer)?;
        let reader = Connection::open(path)?;
        configure(&reader)?;
        reader.pragma_update(None, "query_only", true)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "SQLite refused WAL mode");
    }
    // With WAL, NORMAL only risks the last transactions on power loss, never corruption.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// A panic while a connection was locked leaves no half-done transaction behind (the
/// transaction rolls back on drop), so the connection is still safe to use.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventStore for SqliteStore {
    fn insert(&self, events: &[ExportedEvent]) -> Result<InsertOutcome, StoreError> {
        let mut outcome = InsertOutcome::default();
        if events.is_empty() {
            return Ok(outcome);
        }
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for stored in events {
                let e = &stored.event;
                let changed = insert.execute(params![
                    e.id,
                    kind_text(e.kind),
                    e.name,
                    e.anonymous_id,
                    e.user_id,
                    time_text(e.timestamp),
                    time_text(stored.original_timestamp),
                    time_text(stored.sent_at),
                    time_text(stored.received_at),
                    map_text(&e.properties)?,
                    map_text(&e.traits)?,
                    map_text(&e.context)?,
                ])?;
                if changed == 1 {
                    outcome.accepted += 1;
                } else {
                    outcome.duplicates += 1;
                }
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn page(&self, after: u64, limit: usize, max_bytes: usize) -> Result<Page, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = lock(&self.reader);
        let mut select = conn.prepare_cached(PAGE)?;
        let mut rows = select.query(params![after, limit])?;
        let mut page = Page::default();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let (seq, event, size) = read_row(row)?;
            page.events.push(event);
            page.last_seq = Some(seq);
            bytes += size;
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(page)
    }
}

fn read_row(row: &Row<'_>) -> Result<(u64, ExportedEvent, usize), StoreError> {
    let seq: i64 = row.get(0)?;
    let corrupt = |detail: String| StoreError::Corrupt { seq, detail };
    let text = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let optional = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get(i)?) };
    let time = |i: usize| -> Result<DateTime<Utc>, StoreError> {
        let raw = text(i)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|err| corrupt(format!("timestamp {raw:?}: {err}")))
    };
    let map = |i: usize| -> Result<(Map<String, Value>, usize), StoreError> {
        match optional(i)? {
            None => Ok((Map::new(), 0)),
            Some(raw) => serde_json::from_str(&raw)
                .map(|map| (map, raw.len()))
                .map_err(|err| corrupt(format!("JSON column {i}: {err}"))),
        }
    };

    let kind_raw = text(2)?;
    let kind = parse_kind(&kind_raw).ok_or_else(|| corrupt(format!("kind {kind_raw:?}")))?;
    let (properties, properties_len) = map(10)?;
    let (traits, traits_len) = map(11)?;
    let (context, context_len) = map(12)?;
    let event = WireEvent {
        id: text(1)?,
        kind,
        name: optional(3)?,
        anonymous_id: text(4)?,
        user_id: optional(5)?,
        timestamp: time(6)?,
        properties,
        traits,
        context,
    };
    let size = LINE_OVERHEAD
        + properties_len
        + traits_len
        + context_len
        + event.name.as_ref().map_or(0, String::len)
        + event.anonymous_id.len()
        + event.user_id.as_ref().map_or(0, String::len);
    let stored = ExportedEvent {
        event,
        original_timestamp: time(7)?,
        sent_at: time(8)?,
        received_at: time(9)?,
    };
    let seq = u64::try_from(seq).map_err(|_| corrupt("negative sequence number".into()))?;
    Ok((seq, stored, size))
}

// An exhaustive match, so a new wire kind cannot be added without deciding its storage.
fn kind_text(kind: WireKind) -> &'static str {
    match kind {
        WireKind::Track => "track",
        WireKind::Screen => "screen",
        WireKind::Identify => "identify",
    }
}

fn parse_kind(text: &str) -> Option<WireKind> {
    match text {
        "track" => Some(WireKind::Track),
        "screen" => Some(WireKind::Screen),
        "identify" => Some(WireKind::Identify),
        _ => None,
    }
}

/// Lossless (down to nanoseconds) and readable in SQL.
fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn map_text(map: &Map<String, Value>) -> Result<Option<String>, StoreError> {
    if map.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(map)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u32) -> ExportedEvent {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        ExportedEvent {
            event: WireEvent {
                id: uuid::Uuid::new_v4().to_string(),
                kind: WireKind::Track,
                name: Some("Product Viewed".into()),
                properties: json!({"product_id": format!("p{n}"), "price": 9.5})
                    .as_object()
                    .unwrap()
                    .clone(),
                traits: Map::new(),
                anonymous_id: "anon".into(),
                user_id: Some("u1".into()),
                timestamp: at("2024-05-01T10:00:00.123456789Z"),
                context: json!({"app": {"version": "1.0"}}).as_object().unwrap().clone(),
            },
            original_timestamp: at("2024-05-01T09:00:00.123456789Z"),
            sent_at: at("2024-05-01T09:00:01Z"),
            received_at: at("2024-05-01T10:00:01Z"),
        }
    }

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn stores_events_losslessly_and_in_order() {
        let (_dir, store) = open();
        let events: Vec<_> = (0..3).map(event).collect();
        let outcome = store.insert(&events).unwrap();
        assert_eq!(outcome, InsertOutcome { accepted: 3, duplicates: 0 });
        let page = store.page(0, 10, usize::MAX).unwrap();
        assert_eq!(page.events, events);
        assert_eq!(page.last_seq, Some(3));
    }

    #[test]
    fn an_id_is_stored_once_whether_repeated_in_a_batch_or_later() {
        let (_dir, store) = open();
        let first = event(1);
        let outcome = store.insert(&[first.clone(), first.clone()]).unwrap();
        assert_eq!(outcome, InsertOutcome { accepted: 1, duplicates: 1 });
        let mut changed = first.clone();
        changed.event.name = Some("Something Else".into());
        let outcome = store.insert(&[changed, event(2)]).unwrap();
        assert_eq!(outcome, InsertOutcome { accepted: 1, duplicates: 1 });
        let page = store.page(0, 10, usize::MAX).unwrap();
        assert_eq!(page.events.len(), 2);
        assert_eq!(page.events[0], first, "the first stored copy wins");
    }

    #[test]
    fn pages_follow_the_sequence_and_respect_limit_and_byte_budget() {
        let (_dir, store) = open();
        store.insert(&(0..5).map(event).collect::<Vec<_>>()).unwrap();
        let first = store.page(0, 2, usize::MAX).unwrap();
        assert_eq!(first.last_seq, Some(2));
        let rest = store.page(2, 10, usize::MAX).unwrap();
        assert_eq!(rest.events.len(), 3);
        assert_eq!(rest.last_seq, Some(5));
        let end = store.page(5, 10, usize::MAX).unwrap();
        assert_eq!(end, Page::default());
        // A tiny budget still makes progress, one event at a time.
        let small = store.page(0, 10, 1).unwrap();
        assert_eq!(small.events.len(), 1);
        assert_eq!(small.last_seq, Some(1));
    }

    #[test]
    fn reopening_keeps_data_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let stored = event(1);
        SqliteStore::open(&path).unwrap().insert(&[stored.clone()]).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.page(0, 10, usize::MAX).unwrap().events, vec![stored]);
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, migrations::latest_version());
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn sequence_numbers_are_not_reused_after_deleting_the_newest_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        store.insert(&[event(1), event(2)]).unwrap();
        Connection::open(&path).unwrap().execute("DELETE FROM events WHERE seq = 2", []).unwrap();
        store.insert(&[event(3)]).unwrap();
        assert_eq!(store.page(1, 10, usize::MAX).unwrap().last_seq, Some(3));
    }

    #[test]
    fn refuses_a_database_from_a_newer_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        match SqliteStore::open(&path) {
            Err(StoreError::NewerSchema { found: 99, .. }) => {}
            other => panic!("expected NewerSchema, got {:?}", other.err()),
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        assert!(matches!(SqliteStore::open(&path), Err(StoreError::Sqlite(_))));
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192], "left untouched");
    }
}
