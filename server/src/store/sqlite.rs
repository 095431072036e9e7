//! The SQLite backend: one file in WAL mode, with a connection each for the writer
//! thread, readers, definition changes and the checkpoint thread.

mod audience_store;
mod send_store;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use beckon::protocol::{ConsentReport, ExportedEvent, WireEvent, WireKind};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, ErrorCode, Row, Transaction, TransactionBehavior};
use serde_json::{Map, Value};

use uuid::Uuid;

use super::checkpoint::Checkpointer;
use super::definitions::{self, Catalog, Draft, Kind, Record};
use super::devices;
use super::identity_keys::{self, Claims, KeyKind};
use super::memberships::{self, MembershipReport};
use super::user_updates::{self, UserUpdates};
use super::writer::Writer;
use super::{
    by_user, integrity, migrations, DefinitionStore, EventStore, InsertOutcome, InsertRules, Page,
    Refused, Repair, StoreError,
};

/// Long enough to ride out another process's checkpoint, short enough to surface a stuck
/// lock as an error instead of a hung request.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache of the writer, in KiB. The dedup index takes random keys, so an insert
/// lands on any of its pages; keeping them all cached avoids a read per insert (about
/// 25 bytes per event: 64 MiB holds the index of 2.5 million events).
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// A backstop should the checkpoint thread fall behind: past this many WAL pages
/// (200 MiB) the committing writer checkpoints itself, as SQLite does by default.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 50_000;

/// After a checkpoint resets the WAL, SQLite truncates the file down to this size.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

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
    // Dropped in this order: the writer finishes its queue, the checkpointer stops, and
    // the last connection to close checkpoints and removes the WAL.
    writer: Writer,
    _checkpointer: Checkpointer,
    // WAL lets the readers run alongside the writers.
    reader: Mutex<Connection>,
    // Its own connection, so that a long evaluation over the whole log never holds up
    // an export page.
    scanner: Mutex<Connection>,
    // Definition changes are rare and small; they take SQLite's write lock for a moment
    // beside the upload writer instead of queueing behind its batches.
    admin: Mutex<Connection>,
    path: PathBuf,
}

/// Every SQLite error of the backend comes through here: the codes that say the file
/// itself is damaged, wherever they surface (a read, `prepare`, the writer thread's
/// commit), become the backend-neutral [`StoreError::Damaged`].
impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Damaged {
                detail: err.to_string(),
            },
            _ => StoreError::Sqlite(err),
        }
    }
}

impl Repair for SqliteStore {
    fn repair_steps(&self) -> String {
        integrity::repair_steps(&self.path)
    }
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
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        writer.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let open_reader = || -> Result<Connection, StoreError> {
            let reader = Connection::open(path)?;
            configure(&reader)?;
            reader.pragma_update(None, "query_only", true)?;
            Ok(reader)
        };
        let (reader, scanner) = (open_reader()?, open_reader()?);
        let admin = Connection::open(path)?;
        configure(&admin)?;
        let checkpointer = Connection::open(path)?;
        configure(&checkpointer)?;
        Ok(Self {
            writer: Writer::spawn(writer)?,
            _checkpointer: Checkpointer::spawn(checkpointer)?,
            reader: Mutex::new(reader),
            scanner: Mutex::new(scanner),
            admin: Mutex::new(admin),
            path: path.to_owned(),
        })
    }
}

/// A panic while a connection was locked cannot leave it mid-transaction (rusqlite
/// rolls back on drop), so a poisoned lock is still safe to use.
fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
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

/// Inserts inside the caller's transaction; the writer thread decides what to group.
pub(super) fn insert_events(
    tx: &Transaction<'_>,
    events: &[ExportedEvent],
    rules: InsertRules,
) -> Result<InsertOutcome, StoreError> {
    let mut outcome = InsertOutcome::default();
    let mut users = UserUpdates::default();
    let mut claims = Claims::default();
    let mut insert = tx.prepare_cached(INSERT)?;
    for (index, stored) in events.iter().enumerate() {
        let e = &stored.event;
        if let Some(reason) = refusal(tx, &mut claims, e, rules)? {
            outcome.refused.push(Refused { index, reason });
            continue;
        }
        let id = Uuid::parse_str(&e.id).map_err(|_| StoreError::NotUuid(e.id.clone()))?;
        let changed = insert.execute(params![
            &id.as_bytes()[..],
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
            if let Some(mut report) = MembershipReport::read(e) {
                report.at = user_updates::reported_at(stored);
                memberships::apply(tx, &report, tx.last_insert_rowid())?;
            }
            users.record(tx, stored)?;
        } else {
            outcome.duplicates += 1;
        }
    }
    users.apply(tx)?;
    Ok(outcome)
}

/// Records the kinds of the event's keys (see `identity_keys`); with
/// `separate_identities`, says why an event is refused: it names a key as the other
/// kind, or registers a push token another user's install holds.
fn refusal(
    conn: &Connection,
    claims: &mut Claims,
    event: &WireEvent,
    rules: InsertRules,
) -> Result<Option<String>, StoreError> {
    if rules.separate_identities {
        if let Ok(Some(ConsentReport::PushTokenRegistered { token, .. })) =
            ConsentReport::read(event)
        {
            let user = memberships::user_key(event);
            if devices::would_take_from_another_user(conn, &event.anonymous_id, user, &token)? {
                return Ok(Some(
                    "token: another user's install holds this push token; it moves only \
                     when that install signs in"
                        .into(),
                ));
            }
        }
        if event.user_id.as_deref() == Some(event.anonymous_id.as_str()) {
            return Ok(Some(
                "user_id: must differ from anonymous_id when identities are verified".into(),
            ));
        }
        if claims.known(conn, &event.anonymous_id)? == Some(KeyKind::User) {
            return Ok(Some(
                "anonymous_id: is a user's id, never an install's anonymous id".into(),
            ));
        }
        if let Some(user_id) = &event.user_id {
            if claims.known(conn, user_id)? == Some(KeyKind::Anonymous) {
                return Ok(Some(
                    "user_id: is an install's anonymous id, never a user's id".into(),
                ));
            }
        }
    }
    claims.claim(conn, &event.anonymous_id, KeyKind::Anonymous)?;
    if let Some(user_id) = &event.user_id {
        claims.claim(conn, user_id, KeyKind::User)?;
    }
    Ok(None)
}

impl EventStore for SqliteStore {
    fn insert_with(
        &self,
        events: Vec<ExportedEvent>,
        rules: InsertRules,
    ) -> Result<InsertOutcome, StoreError> {
        if events.is_empty() {
            return Ok(InsertOutcome::default());
        }
        self.writer.insert(events, rules)
    }

    fn key_kind(&self, key: &str) -> Result<Option<KeyKind>, StoreError> {
        identity_keys::kind_of(&lock(&self.reader), key)
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

    fn for_each_user(&self, visit: &mut dyn FnMut(&str, &[WireEvent])) -> Result<(), StoreError> {
        by_user::for_each_user(&lock(&self.scanner), visit)
    }

    fn device_members(&self, segment_id: &str) -> Result<Vec<String>, StoreError> {
        memberships::members(&lock(&self.reader), segment_id)
    }
}

impl DefinitionStore for SqliteStore {
    fn catalog(&self) -> Result<Catalog, StoreError> {
        definitions::load(&lock(&self.reader))
    }

    fn write_definition(
        &self,
        kind: Kind,
        id: &str,
        decide: &mut dyn FnMut(&Catalog) -> Option<Draft>,
    ) -> Result<Option<Record>, StoreError> {
        let mut conn = lock(&self.admin);
        // IMMEDIATE takes the write lock before reading, so the catalog `decide` sees
        // is still the current one when the draft is written.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let catalog = definitions::load(&tx)?;
        let Some(draft) = decide(&catalog) else {
            return Ok(None);
        };
        let record = definitions::save(&tx, &catalog, kind, id, draft, Utc::now())?;
        tx.commit()?;
        Ok(Some(record))
    }
}

fn read_row(row: &Row<'_>) -> Result<(u64, ExportedEvent, usize), StoreError> {
    let seq: i64 = row.get(0)?;
    let corrupt = |detail: String| StoreError::Corrupt { seq, detail };
    let text = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let optional = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get(i)?) };
    let time =
        |i: usize| -> Result<DateTime<Utc>, StoreError> { parse_time(&text(i)?).map_err(corrupt) };
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
    let id: Vec<u8> = row.get(1)?;
    let id = Uuid::from_slice(&id).map_err(|_| corrupt(format!("id {id:02x?}")))?;
    let event = WireEvent {
        id: id.hyphenated().to_string(),
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

pub(super) fn parse_kind(text: &str) -> Option<WireKind> {
    match text {
        "track" => Some(WireKind::Track),
        "screen" => Some(WireKind::Screen),
        "identify" => Some(WireKind::Identify),
        _ => None,
    }
}

pub(super) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| format!("timestamp {text:?}: {err}"))
}

/// A JSON object column; NULL is the empty object.
pub(super) fn parse_map(text: Option<String>) -> Result<Map<String, Value>, String> {
    text.map_or_else(
        || Ok(Map::new()),
        |raw| serde_json::from_str(&raw).map_err(|err| format!("JSON column: {err}")),
    )
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
                id: Uuid::new_v4().to_string(),
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
                context: json!({"app": {"version": "1.0"}})
                    .as_object()
                    .unwrap()
                    .clone(),
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
        let outcome = store.insert(events.clone()).unwrap();
        assert_eq!(
            outcome,
            InsertOutcome {
                accepted: 3,
                duplicates: 0,
                refused: vec![]
            }
        );
        let page = store.page(0, 10, usize::MAX).unwrap();
        assert_eq!(page.events, events);
        assert_eq!(page.last_seq, Some(3));
    }

    #[test]
    fn an_id_is_stored_once_whether_repeated_in_a_batch_or_later() {
        let (_dir, store) = open();
        let first = event(1);
        let outcome = store.insert(vec![first.clone(), first.clone()]).unwrap();
        assert_eq!(
            outcome,
            InsertOutcome {
                accepted: 1,
                duplicates: 1,
                refused: vec![]
            }
        );
        let mut changed = first.clone();
        changed.event.name = Some("Something Else".into());
        let outcome = store.insert(vec![changed, event(2)]).unwrap();
        assert_eq!(
            outcome,
            InsertOutcome {
                accepted: 1,
                duplicates: 1,
                refused: vec![]
            }
        );
        let page = store.page(0, 10, usize::MAX).unwrap();
        assert_eq!(page.events.len(), 2);
        assert_eq!(page.events[0], first, "the first stored copy wins");
    }

    #[test]
    fn concurrent_batches_each_get_their_own_outcome() {
        let (_dir, store) = open();
        let store = std::sync::Arc::new(store);
        let shared: Vec<ExportedEvent> = (0..10).map(event).collect();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = std::sync::Arc::clone(&store);
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let mut total = InsertOutcome::default();
                    for round in 0..20 {
                        let mut batch: Vec<_> = (0..15).map(event).collect();
                        // Every thread also sends the same ten events, racing the others.
                        if round % 10 == 0 {
                            batch.extend(shared[round / 10 * 5..][..5].iter().cloned());
                        }
                        let outcome = store.insert(batch).unwrap();
                        total.accepted += outcome.accepted;
                        total.duplicates += outcome.duplicates;
                    }
                    total
                })
            })
            .collect();
        let totals: Vec<InsertOutcome> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let accepted: u32 = totals.iter().map(|t| t.accepted).sum();
        let duplicates: u32 = totals.iter().map(|t| t.duplicates).sum();
        assert_eq!(accepted, 8 * 20 * 15 + 10);
        assert_eq!(duplicates, 7 * 10);
        let page = store.page(0, 10_000, usize::MAX).unwrap();
        let ids: std::collections::HashSet<_> = page.events.iter().map(|e| &e.event.id).collect();
        assert_eq!(page.events.len(), accepted as usize);
        assert_eq!(ids.len(), accepted as usize);
    }

    #[test]
    fn pages_follow_the_sequence_and_respect_limit_and_byte_budget() {
        let (_dir, store) = open();
        store.insert((0..5).map(event).collect()).unwrap();
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
        SqliteStore::open(&path)
            .unwrap()
            .insert(vec![stored.clone()])
            .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.page(0, 10, usize::MAX).unwrap().events, vec![stored]);
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, migrations::latest_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn sequence_numbers_are_not_reused_after_deleting_the_newest_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        store.insert(vec![event(1), event(2)]).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("DELETE FROM events WHERE seq = 2", [])
            .unwrap();
        store.insert(vec![event(3)]).unwrap();
        assert_eq!(store.page(1, 10, usize::MAX).unwrap().last_seq, Some(3));
    }

    #[test]
    fn refuses_a_database_from_a_newer_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
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
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::Damaged { .. })
        ));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0x5a; 8192],
            "left untouched"
        );
    }
}
