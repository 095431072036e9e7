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
    // 3: who the users are and how they may be reached. Every `*_at` column is
    // fixed-width text (see `memberships::sortable_time`), so comparing as text compares
    // times; each value keeps the time it was set at, and an older value heard later
    // never replaces a newer one.
    // - `profiles`: one row per user key seen in an event; the device's latest time
    //   zone, locale and country, each with its own time. `user_traits`: identify
    //   traits, one row per key.
    // - `permissions`: the current state per (user, channel); `permission_history`:
    //   every change heard, applied or not (`origin`: device, server or identify, with
    //   the event id or anonymous id in `origin_ref`).
    // - `devices`: one per anonymous id, following the latest user key seen on it;
    //   `push_tokens`: one row per token ever heard, kept with its removal reason.
    // - `anonymous_links`: the first user each anonymous id was identified as.
    "CREATE TABLE profiles (
        user_key      TEXT PRIMARY KEY,
        first_seen_at TEXT NOT NULL,
        last_seen_at  TEXT NOT NULL,
        timezone      TEXT,
        timezone_at   TEXT,
        locale        TEXT,
        locale_at     TEXT,
        country       TEXT,
        country_at    TEXT
    ) WITHOUT ROWID;
    CREATE TABLE user_traits (
        user_key TEXT NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        set_at   TEXT NOT NULL,
        PRIMARY KEY (user_key, key)
    ) WITHOUT ROWID;
    CREATE TABLE permissions (
        user_key   TEXT NOT NULL,
        channel    TEXT NOT NULL,
        state      TEXT NOT NULL,
        source     TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user_key, channel)
    ) WITHOUT ROWID;
    CREATE TABLE permission_history (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_key    TEXT NOT NULL,
        channel     TEXT NOT NULL,
        state       TEXT NOT NULL,
        source      TEXT NOT NULL,
        changed_at  TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),
        origin      TEXT NOT NULL CHECK (origin IN ('device', 'server', 'identify')),
        origin_ref  TEXT
    );
    CREATE INDEX permission_history_by_user ON permission_history (user_key, changed_at, id);
    CREATE TABLE devices (
        anonymous_id     TEXT PRIMARY KEY,
        user_key         TEXT NOT NULL,
        user_key_at      TEXT NOT NULL,
        first_seen_at    TEXT NOT NULL,
        last_seen_at     TEXT NOT NULL,
        os_permission    INTEGER CHECK (os_permission IN (0, 1)),
        os_permission_at TEXT
    ) WITHOUT ROWID;
    CREATE INDEX devices_by_user ON devices (user_key);
    CREATE TABLE push_tokens (
        token          TEXT PRIMARY KEY,
        provider       TEXT NOT NULL CHECK (provider IN ('fcm', 'apns')),
        anonymous_id   TEXT NOT NULL,
        registered_at  TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        removed_at     TEXT,
        removed_reason TEXT
    ) WITHOUT ROWID;
    CREATE INDEX push_tokens_by_device ON push_tokens (anonymous_id);
    CREATE TABLE anonymous_links (
        anonymous_id TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL,
        linked_at    TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX device_memberships_by_user ON device_memberships (user_key, segment_id);",
    // 4: sends and what became of them. `sends`: the request as accepted, its status
    // (scheduled → running → done, or cancelled), when its audience was planned, and
    // per-outcome counters kept in the same transactions as the deliveries they count.
    // `deliveries`: one row per user and recipient (a push token, an address; '' when
    // there is none), unique so that planning a send again after a crash adds only what
    // is missing; `claimed` marks rows being delivered, released when a runner starts.
    // `delivery_attempts`: every try at a provider, numbered per delivery. Every `*_at`
    // column is fixed-width text, so comparing as text compares times.
    "CREATE TABLE sends (
        id           TEXT PRIMARY KEY,
        request      TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'done', 'cancelled')),
        campaign_id  TEXT,
        collapse_id  TEXT,
        promo        TEXT,
        planned_at   TEXT,
        finished_at  TEXT,
        error        TEXT,
        users        INTEGER NOT NULL DEFAULT 0,
        pending      INTEGER NOT NULL DEFAULT 0,
        delivered    INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        expired      INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        unregistered INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX sends_to_plan ON sends (created_at, id) WHERE planned_at IS NULL;
    CREATE TABLE deliveries (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        send_id             TEXT NOT NULL,
        user_key            TEXT NOT NULL,
        channel             TEXT CHECK (channel IN ('push', 'in_app', 'email', 'sms', 'whatsapp')),
        provider            TEXT CHECK (provider IN ('fcm', 'apns')),
        recipient           TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN
            ('pending', 'delivered', 'skipped', 'expired', 'failed', 'unregistered')),
        reasons             TEXT NOT NULL,
        message_id          TEXT UNIQUE,
        scheduled_for       TEXT,
        deliver_at          TEXT,
        expires_at          TEXT,
        time_zone           TEXT,
        zone_source         TEXT,
        held_by_quiet_hours INTEGER NOT NULL CHECK (held_by_quiet_hours IN (0, 1)),
        content             TEXT,
        detail              TEXT,
        claimed             INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
        planned_at          TEXT NOT NULL,
        finished_at         TEXT,
        UNIQUE (send_id, user_key, recipient)
    );
    CREATE INDEX deliveries_by_send ON deliveries (send_id, id);
    CREATE INDEX deliveries_due ON deliveries (deliver_at) WHERE status = 'pending' AND claimed = 0;
    CREATE TABLE delivery_attempts (
        delivery_id INTEGER NOT NULL,
        number      INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'unregistered', 'retry', 'failed')),
        http_status INTEGER,
        detail      TEXT,
        PRIMARY KEY (delivery_id, number)
    ) WITHOUT ROWID;",
    // 5: the kind of every user key ever named, `user` (a user id) or `anonymous` (an
    // install's anonymous id), so one can never be taken for the other
    // (`identity_keys.rs`). Existing keys are read from the devices (anonymous ids) and
    // the sign-ins (user ids); a key that is both keeps `user`.
    "CREATE TABLE identity_keys (
        key  TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('user', 'anonymous'))
    ) WITHOUT ROWID;
    INSERT INTO identity_keys (key, kind)
        SELECT DISTINCT user_id, 'user' FROM anonymous_links WHERE true
        ON CONFLICT (key) DO NOTHING;
    INSERT INTO identity_keys (key, kind)
        SELECT anonymous_id, 'anonymous' FROM devices WHERE true
        ON CONFLICT (key) DO NOTHING;",
    // 6: device reports could once claim any future time, and a change dated in the
    // year 9000 outranked every later one, an admin's unsubscribe included. Times the
    // audience tables hold beyond this migration's own time are brought back to it, so
    // every change made from now on outranks them (event times are clamped on arrival
    // from now on; the event log keeps what was received). `min` keeps NULL as NULL.
    "CREATE TEMP TABLE repair_clock AS SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000000Z' AS now;
    UPDATE permissions SET
        updated_at = min(updated_at, (SELECT now FROM repair_clock));
    UPDATE devices SET
        user_key_at = min(user_key_at, (SELECT now FROM repair_clock)),
        first_seen_at = min(first_seen_at, (SELECT now FROM repair_clock)),
        last_seen_at = min(last_seen_at, (SELECT now FROM repair_clock)),
        os_permission_at = min(os_permission_at, (SELECT now FROM repair_clock));
    UPDATE push_tokens SET
        registered_at = min(registered_at, (SELECT now FROM repair_clock)),
        updated_at = min(updated_at, (SELECT now FROM repair_clock)),
        removed_at = min(removed_at, (SELECT now FROM repair_clock));
    UPDATE profiles SET
        first_seen_at = min(first_seen_at, (SELECT now FROM repair_clock)),
        last_seen_at = min(last_seen_at, (SELECT now FROM repair_clock)),
        timezone_at = min(timezone_at, (SELECT now FROM repair_clock)),
        locale_at = min(locale_at, (SELECT now FROM repair_clock)),
        country_at = min(country_at, (SELECT now FROM repair_clock));
    UPDATE user_traits SET
        set_at = min(set_at, (SELECT now FROM repair_clock));
    UPDATE device_memberships SET
        reported_at = min(reported_at, (SELECT now FROM repair_clock));
    DROP TABLE temp.repair_clock;",
];

/// An in-memory database at the latest schema, for the store's unit tests.
#[cfg(test)]
pub(super) fn test_database() -> Connection {
    let mut conn = Connection::open_in_memory().expect("an in-memory database");
    migrate(&mut conn).expect("the schema applies");
    conn
}

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema to the latest version; a no-op when it is already there, which
/// writes nothing to the file (not even the version it already holds).
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
    if found == supported {
        return Ok(());
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

    /// A database file in `dir` at schema `version`, as a server of that version left it.
    fn database_at(dir: &tempfile::TempDir, version: usize) -> Connection {
        let conn = Connection::open(dir.path().join(format!("v{version}.db"))).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn
    }

    #[test]
    fn an_up_to_date_database_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&mut conn).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let wal = dir.path().join("latest.db-wal");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "nothing written");
    }

    #[test]
    fn a_version_1_database_gains_the_definition_tables_and_keeps_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 1);
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

    #[test]
    fn a_version_3_database_gains_the_send_tables_and_keeps_its_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 3);
        conn.execute(
            "INSERT INTO push_tokens VALUES ('t', 'fcm', 'd', 'a', 'a', NULL, NULL)",
            [],
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
        let tokens: i64 = conn
            .query_row("SELECT count(*) FROM push_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tokens, 1);
        for table in ["sends", "deliveries", "delivery_attempts"] {
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 0, "{table}");
        }
        let bad_status = conn.execute(
            "INSERT INTO sends (id, request, created_at, status) VALUES ('s', '{}', 't', 'paused')",
            [],
        );
        assert!(bad_status.is_err(), "the schema refuses unknown statuses");
    }

    #[test]
    fn a_version_4_database_learns_the_kind_of_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 4);
        conn.execute_batch(
            "INSERT INTO devices VALUES ('install-1', 'alice', 't', 't', 't', NULL, NULL);
             INSERT INTO devices VALUES ('install-2', 'install-2', 't', 't', 't', NULL, NULL);
             INSERT INTO anonymous_links VALUES ('install-1', 'alice', 't');",
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let kinds: Vec<(String, String)> = conn
            .prepare("SELECT key, kind FROM identity_keys ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let kinds: Vec<(&str, &str)> = kinds
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("alice", "user"),
                ("install-1", "anonymous"),
                ("install-2", "anonymous")
            ]
        );
    }

    #[test]
    fn a_version_5_database_forgets_times_claimed_in_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 5);
        let pinned = "9006-01-01T00:00:00.000000000Z";
        let past = "2025-01-01T00:00:00.000000000Z";
        conn.execute(
            "INSERT INTO permissions VALUES ('victim', 'push', 'opted_in', 'app', ?1),
                ('other', 'push', 'unsubscribed', 'app', ?2)",
            [pinned, past],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO devices VALUES ('d', 'victim', ?1, ?2, ?1, 1, NULL)",
            [pinned, past],
        )
        .unwrap();
        let before = chrono::Utc::now();

        migrate(&mut conn).unwrap();
        let after = chrono::Utc::now();
        let read = |sql: &str| -> Option<String> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let repaired =
            read("SELECT updated_at FROM permissions WHERE user_key = 'victim'").unwrap();
        let repaired: chrono::DateTime<chrono::Utc> = repaired.parse().unwrap();
        assert!(
            before - chrono::TimeDelta::seconds(1) <= repaired && repaired <= after,
            "{repaired}"
        );
        assert_eq!(
            read("SELECT updated_at FROM permissions WHERE user_key = 'other'").as_deref(),
            Some(past)
        );
        assert_eq!(
            read("SELECT first_seen_at FROM devices").as_deref(),
            Some(past)
        );
        assert_eq!(read("SELECT os_permission_at FROM devices"), None);
        assert!(read("SELECT user_key_at FROM devices").unwrap().as_str() < pinned);
    }

    #[test]
    fn a_version_2_database_gains_the_audience_tables_and_keeps_its_memberships() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 2);
        conn.execute(
            "INSERT INTO device_memberships VALUES ('vip', 'u1', 1, 't', 1)",
            [],
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
        let segments: Vec<String> = conn
            .prepare("SELECT segment_id FROM device_memberships WHERE user_key = 'u1'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(segments, ["vip"]);
        for table in [
            "profiles",
            "user_traits",
            "permissions",
            "permission_history",
            "devices",
            "push_tokens",
            "anonymous_links",
        ] {
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 0, "{table}");
        }
        let bad_provider = conn.execute(
            "INSERT INTO push_tokens VALUES ('t', 'hms', 'd', 'a', 'a', NULL, NULL)",
            [],
        );
        assert!(
            bad_provider.is_err(),
            "the schema refuses unknown providers"
        );
    }
}
