//! The versioned schema. Each migration moves the database from version `n - 1` to `n`
//! inside one transaction, so a crash mid-migration leaves the old version intact.

use rusqlite::Connection;

use super::StoreError;

/// One step of the schema's history. Steps are never edited once released: a change
/// is a new step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
        CREATE TABLE events (
            seq        INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            payload    BLOB    NOT NULL
        );
        CREATE TABLE state (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE counters (
            name  TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
    ",
    },
    Migration {
        version: 2,
        sql: "
        -- What segment rules and message personalisation read: every event the app
        -- tracked, kept after upload (the queue forgets it), pruned by age and count.
        -- `event` is the wire event as queued, so recording costs no second encoding.
        CREATE TABLE history (
            seq   INTEGER PRIMARY KEY,
            at    INTEGER NOT NULL,
            event BLOB    NOT NULL
        );
        -- Current segment memberships, so entries and exits survive a restart.
        CREATE TABLE memberships (
            segment_id TEXT PRIMARY KEY,
            entered_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- The last good copy of each synced document, with its ETag.
        CREATE TABLE documents (
            kind       TEXT PRIMARY KEY,
            etag       TEXT,
            body       TEXT    NOT NULL,
            fetched_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- When each in-app campaign was shown, for caps and the minimum gap.
        CREATE TABLE impressions (
            campaign_id TEXT    NOT NULL,
            at          INTEGER NOT NULL
        );
        CREATE INDEX impressions_by_campaign ON impressions (campaign_id, at);
    ",
    },
    Migration {
        version: 3,
        sql: "
        -- Promo codes the shopper received with pushes: the offer as it arrived (the
        -- payload's promo, JSON) and how often it was used. Codes are matched
        -- case-insensitively, as shoppers type them.
        CREATE TABLE promos (
            code        TEXT    PRIMARY KEY COLLATE NOCASE,
            offer       TEXT    NOT NULL,
            expires_at  INTEGER NOT NULL,
            uses        INTEGER NOT NULL DEFAULT 0,
            received_at INTEGER NOT NULL,
            message_id  TEXT,
            campaign_id TEXT
        ) WITHOUT ROWID;
        -- The deep link of a push opened before the app's router was ready; at most
        -- one (the latest tap wins), delivered once.
        CREATE TABLE pending_link (
            slot        INTEGER PRIMARY KEY CHECK (slot = 1),
            url         TEXT    NOT NULL,
            message_id  TEXT,
            campaign_id TEXT,
            send_id     TEXT,
            received_at INTEGER NOT NULL
        );
    ",
    },
    Migration {
        version: 4,
        sql: "
        -- The latest state of each channel the user set; a channel absent here was
        -- never set and is subscribed.
        CREATE TABLE permissions (
            channel    TEXT PRIMARY KEY,
            state      TEXT    NOT NULL,
            source     TEXT    NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- Every change, made on the device or brought down from the server, in the
        -- order the device took it.
        CREATE TABLE permission_history (
            seq        INTEGER PRIMARY KEY,
            channel    TEXT    NOT NULL,
            state      TEXT    NOT NULL,
            source     TEXT    NOT NULL,
            updated_at INTEGER NOT NULL
        );
        -- The OS push permission as the app last reported it; no row: never reported.
        CREATE TABLE push_permission (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            granted    INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        -- The device's current push token; no row: none.
        CREATE TABLE push_token (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            provider   TEXT    NOT NULL,
            token      TEXT    NOT NULL,
            updated_at INTEGER NOT NULL
        );
        -- The device's time zone and country, for sends in the user's local time.
        CREATE TABLE device_profile (
            id        INTEGER PRIMARY KEY CHECK (id = 1),
            time_zone TEXT,
            country   TEXT
        );
        -- Present while the user has opted out of collection and upload.
        CREATE TABLE opt_out (
            id       INTEGER PRIMARY KEY CHECK (id = 1),
            since_ms INTEGER NOT NULL
        );
    ",
    },
    Migration {
        version: 5,
        sql: "
        -- Pushes already opened, by message id, so a push handed over twice (Android
        -- delivering the same intent again, an app calling twice) counts one open.
        CREATE TABLE opened_pushes (
            message_id TEXT    PRIMARY KEY,
            opened_at  INTEGER NOT NULL
        ) WITHOUT ROWID;
    ",
    },
    Migration {
        version: 6,
        sql: "
        -- The identity token the app's backend signed for each recent user, sent with
        -- their events; `recency` orders them so only the latest few are kept.
        CREATE TABLE identity_tokens (
            user_id TEXT    PRIMARY KEY,
            token   TEXT    NOT NULL,
            recency INTEGER NOT NULL
        ) WITHOUT ROWID;
    ",
    },
    Migration {
        version: 7,
        sql: "
        -- The aggregates segment rules and message templates read, as of the history
        -- row `history_seq`: a start reads them and the rows after, not the history.
        CREATE TABLE engagement_state (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            history_seq INTEGER NOT NULL,
            state       BLOB    NOT NULL
        );
        -- The newest rows (crash repair at start) and trimming by age, without a scan.
        CREATE INDEX history_by_time ON history(at);
    ",
    },
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Brings the database up to the last of `migrations`, step by step.
/// Returns the version found before migrating.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<i64, StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let latest = migrations.last().map_or(0, |m| m.version);
    if found > latest {
        return Err(StoreError::NewerSchema {
            found,
            supported: latest,
        });
    }
    for step in migrations.iter().filter(|m| m.version > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(step.sql)?;
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_database_gets_the_latest_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), 0);
        assert_eq!(version(&conn), SCHEMA_VERSION);
        // Running again is a no-op.
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn upgrades_step_by_step_keeping_rows() {
        // A database written by the first release, holding a queued event.
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        conn.execute(
            "INSERT INTO events(created_at, payload) VALUES (1, x'7b7d')",
            [],
        )
        .unwrap();
        // A later, hypothetical step on top of every released one.
        const NEXT: Migration = Migration {
            version: SCHEMA_VERSION + 1,
            sql: "ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
        };
        let history = [MIGRATIONS, &[NEXT]].concat();

        assert_eq!(migrate(&mut conn, &history).unwrap(), 1);
        assert_eq!(version(&conn), SCHEMA_VERSION + 1);
        let (payload, attempts): (Vec<u8>, i64) = conn
            .query_row("SELECT payload, attempts FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((payload, attempts), (b"{}".to_vec(), 0));
        // Later versions' tables arrived on the way.
        for table in [
            "history",
            "memberships",
            "documents",
            "impressions",
            "promos",
            "pending_link",
            "permissions",
            "permission_history",
            "push_permission",
            "push_token",
            "device_profile",
            "opt_out",
            "opened_pushes",
            "identity_tokens",
        ] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
    }

    #[test]
    fn a_failing_step_leaves_the_previous_version() {
        const BROKEN: Migration = Migration {
            version: SCHEMA_VERSION + 1,
            sql: "ALTER TABLE nowhere ADD COLUMN x;",
        };
        let history = [MIGRATIONS, &[BROKEN]].concat();
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(migrate(&mut conn, &history).is_err());
        assert_eq!(version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn refuses_a_schema_from_a_newer_sdk() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn, MIGRATIONS),
            Err(StoreError::NewerSchema { .. })
        ));
    }
}
