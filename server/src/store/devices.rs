//! Devices and their push tokens.
//!
//! A device is an app install, known by its anonymous id. It belongs to the user key of
//! its latest event (by event time), so its token reaches whoever is signed in on it
//! now. A device holds at most one live token: registering a new one replaces the old.
//! A token belongs to one device at a time: registered on another device, it moves.
//!
//! Every change carries a time and applies only over an older one (a removal wins a
//! tie), so late uploads cannot revive a removed token or move one back.

use std::collections::HashMap;

use beckon::protocol::PushProvider;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::memberships::sortable_time;
use super::sqlite::parse_time;
use super::StoreError;

/// Why a token stopped being used.
pub mod removal {
    /// The app reported that it gave the token up.
    pub const BY_DEVICE: &str = "removed_by_device";
    /// The device registered a newer token.
    pub const REPLACED: &str = "replaced";
}

/// A live token a push can be sent to, for one of the user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushTarget {
    pub provider: PushProvider,
    pub token: String,
    pub anonymous_id: String,
    /// What the app last reported of the OS push permission; `None` before any report.
    pub os_permission: Option<bool>,
}

impl PushTarget {
    /// Push needs the OS permission granted: an install that never reported it counts
    /// as not granted (consent first).
    pub fn os_allows(&self) -> bool {
        self.os_permission == Some(true)
    }
}

/// A token as the admin sees it, live or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub provider: PushProvider,
    pub token: String,
    /// When this device registered it.
    pub registered_at: DateTime<Utc>,
    /// Its latest change (registration, refresh or removal).
    pub updated_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_reason: Option<String>,
}

/// One of a user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub anonymous_id: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub os_permission: Option<bool>,
    pub os_permission_at: Option<DateTime<Utc>>,
    /// Every token this device holds or held, newest change first.
    pub tokens: Vec<TokenRecord>,
}

/// The device follows the user key of its latest event; at the same instant the later
/// upload wins.
const SIGHTED: &str = "INSERT INTO devices
        (anonymous_id, user_key, user_key_at, first_seen_at, last_seen_at)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (anonymous_id) DO UPDATE SET
        user_key = CASE WHEN excluded.user_key_at >= devices.user_key_at
            THEN excluded.user_key ELSE devices.user_key END,
        user_key_at = max(devices.user_key_at, excluded.user_key_at),
        first_seen_at = min(devices.first_seen_at, excluded.first_seen_at),
        last_seen_at = max(devices.last_seen_at, excluded.last_seen_at)";

const OS_PERMISSION: &str = "UPDATE devices SET os_permission = ?2, os_permission_at = ?3
    WHERE anonymous_id = ?1 AND (os_permission_at IS NULL OR os_permission_at <= ?3)";

const TOKEN: &str = "SELECT anonymous_id, updated_at, removed_at FROM push_tokens
    WHERE token = ?1";

const NEWER_LIVE_TOKEN: &str = "SELECT EXISTS (SELECT 1 FROM push_tokens
    WHERE anonymous_id = ?1 AND token <> ?2 AND removed_at IS NULL AND updated_at > ?3)";

const REGISTER: &str = "INSERT INTO push_tokens
        (token, provider, anonymous_id, registered_at, updated_at, removed_at, removed_reason)
    VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
    ON CONFLICT (token) DO UPDATE SET
        provider = excluded.provider,
        anonymous_id = excluded.anonymous_id,
        registered_at = CASE
            WHEN push_tokens.anonymous_id = excluded.anonymous_id
                AND push_tokens.removed_at IS NULL
            THEN push_tokens.registered_at ELSE excluded.registered_at END,
        updated_at = excluded.updated_at,
        removed_at = excluded.removed_at,
        removed_reason = excluded.removed_reason";

const REPLACE_OLDER: &str = "UPDATE push_tokens
    SET removed_at = ?3, removed_reason = ?4, updated_at = ?3
    WHERE anonymous_id = ?1 AND token <> ?2 AND removed_at IS NULL AND updated_at <= ?3";

/// A removal of a token nobody holds is kept, so a registration made before it and
/// heard after it cannot bring the token back.
const REMOVE_UNKNOWN: &str = "INSERT INTO push_tokens
        (token, provider, anonymous_id, registered_at, updated_at, removed_at, removed_reason)
    VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5)";

const REMOVE: &str = "UPDATE push_tokens
    SET removed_at = ?2, removed_reason = ?3, updated_at = ?2
    WHERE token = ?1 AND removed_at IS NULL";

/// The provider's word is final for the token as it is now; the time is the server's,
/// so only a registration made after it can revive the token.
const DROP: &str = "UPDATE push_tokens
    SET removed_at = ?2, removed_reason = ?3, updated_at = max(updated_at, ?2)
    WHERE token = ?1 AND removed_at IS NULL";

const TARGETS_OF_MANY: &str = "SELECT d.user_key, t.provider, t.token, t.anonymous_id,
        d.os_permission
    FROM devices d JOIN push_tokens t ON t.anonymous_id = d.anonymous_id
    WHERE d.user_key IN (SELECT value FROM json_each(?1)) AND t.removed_at IS NULL
    ORDER BY d.user_key, t.registered_at, t.token";

const DEVICES: &str = "SELECT anonymous_id, first_seen_at, last_seen_at, os_permission,
        os_permission_at
    FROM devices WHERE user_key = ?1 ORDER BY last_seen_at DESC, anonymous_id";

/// Whose the token is now: the user key of the install holding it live, when that
/// install is not `?2`.
const OWNER_ELSEWHERE: &str = "SELECT d.user_key FROM push_tokens t
    JOIN devices d ON d.anonymous_id = t.anonymous_id
    WHERE t.token = ?1 AND t.removed_at IS NULL AND t.anonymous_id <> ?2";

const TOKENS_OF_DEVICE: &str = "SELECT provider, token, registered_at, updated_at,
        removed_at, removed_reason
    FROM push_tokens WHERE anonymous_id = ?1 ORDER BY updated_at DESC, token";

/// An event of `user_key` from device `anonymous_id` happened `at`.
pub(super) fn sighted(
    conn: &Connection,
    anonymous_id: &str,
    user_key: &str,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(SIGHTED)?.execute(params![
        anonymous_id,
        user_key,
        sortable_time(last_at),
        sortable_time(first_at),
        sortable_time(last_at),
    ])?;
    Ok(())
}

/// The app reported the OS push permission `at`; applied when newer than the last report.
pub(super) fn set_os_permission(
    conn: &Connection,
    anonymous_id: &str,
    user_key: &str,
    granted: bool,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    sighted(conn, anonymous_id, user_key, at, at)?;
    let changed = conn.prepare_cached(OS_PERMISSION)?.execute(params![
        anonymous_id,
        granted,
        sortable_time(at)
    ])?;
    Ok(changed == 1)
}

/// The device registered (or refreshed) `token` at `at`. Returns whether the token is
/// now live on this device.
pub(super) fn register_token(
    conn: &Connection,
    anonymous_id: &str,
    provider: PushProvider,
    token: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at_text = sortable_time(at);
    if let Some(known) = token_state(conn, token)? {
        if known.updated_at >= at_text {
            return Ok(false);
        }
    }
    // A registration older than the device's live token is history already.
    let stale: bool = conn
        .prepare_cached(NEWER_LIVE_TOKEN)?
        .query_row(params![anonymous_id, token, at_text], |row| row.get(0))?;
    let (removed_at, reason) = if stale {
        (Some(at_text.as_str()), Some(removal::REPLACED))
    } else {
        (None, None)
    };
    conn.prepare_cached(REGISTER)?.execute(params![
        token,
        provider.as_str(),
        anonymous_id,
        at_text,
        removed_at,
        reason,
    ])?;
    if !stale {
        conn.prepare_cached(REPLACE_OLDER)?.execute(params![
            anonymous_id,
            token,
            at_text,
            removal::REPLACED
        ])?;
    }
    Ok(!stale)
}

/// With identities verified: whether install `anonymous_id`, registering `token` for
/// `user_key`, would take a token another install holds for someone else. A token moves
/// between installs of one user (a reinstall keeps the APNs token) and follows its own
/// install when it signs in as another user, but a registration never hands another
/// user's token to this one.
pub(super) fn would_take_from_another_user(
    conn: &Connection,
    anonymous_id: &str,
    user_key: &str,
    token: &str,
) -> Result<bool, StoreError> {
    let owner: Option<String> = conn
        .prepare_cached(OWNER_ELSEWHERE)?
        .query_row(params![token, anonymous_id], |row| row.get(0))
        .optional()?;
    Ok(owner.is_some_and(|owner| owner != user_key))
}

/// The device gave `token` up at `at`. Applies when the token is unknown or held by this
/// device and not changed since; returns whether it did.
pub(super) fn remove_token(
    conn: &Connection,
    anonymous_id: &str,
    provider: PushProvider,
    token: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at_text = sortable_time(at);
    match token_state(conn, token)? {
        None => {
            conn.prepare_cached(REMOVE_UNKNOWN)?.execute(params![
                token,
                provider.as_str(),
                anonymous_id,
                at_text,
                removal::BY_DEVICE
            ])?;
            Ok(true)
        }
        Some(known) => {
            if known.anonymous_id != anonymous_id || known.removed || known.updated_at > at_text {
                return Ok(false);
            }
            let changed = conn.prepare_cached(REMOVE)?.execute(params![
                token,
                at_text,
                removal::BY_DEVICE
            ])?;
            Ok(changed == 1)
        }
    }
}

/// The provider said `token` is no longer valid. Returns whether a live token was
/// marked removed.
pub(super) fn drop_token(
    conn: &Connection,
    token: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(DROP)?
        .execute(params![token, sortable_time(now), reason])?;
    Ok(changed == 1)
}

struct TokenState {
    anonymous_id: String,
    updated_at: String,
    removed: bool,
}

fn token_state(conn: &Connection, token: &str) -> Result<Option<TokenState>, StoreError> {
    let state = conn
        .prepare_cached(TOKEN)?
        .query_row([token], |row| {
            Ok(TokenState {
                anonymous_id: row.get(0)?,
                updated_at: row.get(1)?,
                removed: row.get::<_, Option<String>>(2)?.is_some(),
            })
        })
        .optional()?;
    Ok(state)
}

/// The live tokens of the devices of every user in `keys_json` (a JSON array of user
/// keys), by user key.
pub(super) fn targets_of_many(
    conn: &Connection,
    keys_json: &str,
) -> Result<HashMap<String, Vec<PushTarget>>, StoreError> {
    let mut select = conn.prepare_cached(TARGETS_OF_MANY)?;
    let mut rows = select.query([keys_json])?;
    let mut by_user: HashMap<String, Vec<PushTarget>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let provider: String = row.get(1)?;
        let target = PushTarget {
            provider: read_provider(&provider)?,
            token: row.get(2)?,
            anonymous_id: row.get(3)?,
            os_permission: row.get(4)?,
        };
        by_user.entry(row.get(0)?).or_default().push(target);
    }
    Ok(by_user)
}

/// The live tokens of the user's devices.
pub(super) fn targets(conn: &Connection, user_key: &str) -> Result<Vec<PushTarget>, StoreError> {
    let keys = serde_json::to_string(&[user_key])?;
    Ok(targets_of_many(conn, &keys)?
        .remove(user_key)
        .unwrap_or_default())
}

/// The devices whose latest event is the user's, most recently seen first.
pub(super) fn devices(conn: &Connection, user_key: &str) -> Result<Vec<Device>, StoreError> {
    let mut select = conn.prepare_cached(DEVICES)?;
    let rows = select.query_map([user_key], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, Option<bool>>(3)?,
            row.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut devices = Vec::new();
    for row in rows {
        let (anonymous_id, first, last, os_permission, os_at) = row?;
        let tokens = tokens_of_device(conn, &anonymous_id)?;
        devices.push(Device {
            anonymous_id,
            first_seen_at: time(&first)?,
            last_seen_at: time(&last)?,
            os_permission,
            os_permission_at: os_at.as_deref().map(time).transpose()?,
            tokens,
        });
    }
    Ok(devices)
}

fn tokens_of_device(conn: &Connection, anonymous_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
    let mut select = conn.prepare_cached(TOKENS_OF_DEVICE)?;
    let mut rows = select.query([anonymous_id])?;
    let mut tokens = Vec::new();
    while let Some(row) = rows.next()? {
        tokens.push(read_token(row)?);
    }
    Ok(tokens)
}

fn read_token(row: &Row<'_>) -> Result<TokenRecord, StoreError> {
    let provider: String = row.get(0)?;
    let removed_at: Option<String> = row.get(4)?;
    Ok(TokenRecord {
        provider: read_provider(&provider)?,
        token: row.get(1)?,
        registered_at: time(&row.get::<_, String>(2)?)?,
        updated_at: time(&row.get::<_, String>(3)?)?,
        removed_at: removed_at.as_deref().map(time).transpose()?,
        removed_reason: row.get(5)?,
    })
}

fn read_provider(name: &str) -> Result<PushProvider, StoreError> {
    PushProvider::parse(name).ok_or_else(|| corrupt(format!("provider {name:?}")))
}

fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).map_err(corrupt)
}

fn corrupt(detail: String) -> StoreError {
    StoreError::CorruptRow {
        table: "devices",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn open() -> Connection {
        super::super::migrations::test_database()
    }

    fn at(minute: i64) -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
    }

    fn see(conn: &Connection, device: &str, user: &str, minute: i64) {
        sighted(conn, device, user, at(minute), at(minute)).unwrap();
    }

    fn live(conn: &Connection, user: &str) -> Vec<(String, String)> {
        targets(conn, user)
            .unwrap()
            .into_iter()
            .map(|t| (t.anonymous_id, t.token))
            .collect()
    }

    fn pair(device: &str, token: &str) -> (String, String) {
        (device.into(), token.into())
    }

    #[test]
    fn a_device_follows_the_user_of_its_latest_event() {
        let conn = open();
        see(&conn, "d1", "d1", 0);
        register_token(&conn, "d1", PushProvider::Fcm, "t1", at(0)).unwrap();
        assert_eq!(live(&conn, "d1"), [pair("d1", "t1")]);
        see(&conn, "d1", "alice", 5);
        assert!(live(&conn, "d1").is_empty());
        assert_eq!(live(&conn, "alice"), [pair("d1", "t1")]);
        // An older anonymous event heard late does not take the device back.
        see(&conn, "d1", "d1", 3);
        assert_eq!(live(&conn, "alice"), [pair("d1", "t1")]);
        let devices = devices(&conn, "alice").unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(
            (devices[0].first_seen_at, devices[0].last_seen_at),
            (at(0), at(5))
        );
        see(&conn, "d1", "bob", 9);
        assert_eq!(live(&conn, "bob"), [pair("d1", "t1")]);
        assert!(live(&conn, "alice").is_empty());
    }

    #[test]
    fn a_new_token_replaces_the_old_one_and_a_late_old_one_stays_replaced() {
        let conn = open();
        see(&conn, "d1", "u", 0);
        assert!(register_token(&conn, "d1", PushProvider::Fcm, "old", at(1)).unwrap());
        assert!(register_token(&conn, "d1", PushProvider::Fcm, "new", at(2)).unwrap());
        assert_eq!(live(&conn, "u"), [pair("d1", "new")]);
        // A registration of a third token made before "new" but heard after it.
        assert!(!register_token(&conn, "d1", PushProvider::Fcm, "older", at(1)).unwrap());
        assert_eq!(live(&conn, "u"), [pair("d1", "new")]);
        let tokens = &devices(&conn, "u").unwrap()[0].tokens;
        let reasons: Vec<(&str, Option<&str>)> = tokens
            .iter()
            .map(|t| (t.token.as_str(), t.removed_reason.as_deref()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("new", None),
                ("old", Some(removal::REPLACED)),
                ("older", Some(removal::REPLACED)),
            ]
        );
    }

    #[test]
    fn a_token_moves_to_the_device_that_registered_it_last() {
        let conn = open();
        see(&conn, "d1", "alice", 0);
        see(&conn, "d2", "bob", 0);
        register_token(&conn, "d1", PushProvider::Apns, "abcd", at(1)).unwrap();
        assert!(register_token(&conn, "d2", PushProvider::Apns, "abcd", at(2)).unwrap());
        assert!(live(&conn, "alice").is_empty());
        assert_eq!(live(&conn, "bob"), [pair("d2", "abcd")]);
        // d1's registration again, as a retry heard late: it does not move it back.
        assert!(!register_token(&conn, "d1", PushProvider::Apns, "abcd", at(1)).unwrap());
        assert_eq!(live(&conn, "bob"), [pair("d2", "abcd")]);
        // d1 cannot remove a token it no longer holds.
        assert!(!remove_token(&conn, "d1", PushProvider::Apns, "abcd", at(3)).unwrap());
        assert_eq!(live(&conn, "bob"), [pair("d2", "abcd")]);
        assert_eq!(
            devices(&conn, "bob").unwrap()[0].tokens[0].registered_at,
            at(2)
        );
    }

    #[test]
    fn removals_win_ties_and_cannot_be_undone_by_older_registrations() {
        let conn = open();
        see(&conn, "d1", "u", 0);
        register_token(&conn, "d1", PushProvider::Fcm, "t", at(1)).unwrap();
        assert!(remove_token(&conn, "d1", PushProvider::Fcm, "t", at(1)).unwrap());
        assert!(live(&conn, "u").is_empty());
        assert!(!register_token(&conn, "d1", PushProvider::Fcm, "t", at(1)).unwrap());
        assert!(live(&conn, "u").is_empty());
        // A removal heard before the registration it follows.
        assert!(remove_token(&conn, "d1", PushProvider::Fcm, "u2", at(5)).unwrap());
        assert!(!register_token(&conn, "d1", PushProvider::Fcm, "u2", at(4)).unwrap());
        assert!(live(&conn, "u").is_empty());
        // Registered again later: live again, registered anew.
        assert!(register_token(&conn, "d1", PushProvider::Fcm, "t", at(6)).unwrap());
        assert_eq!(live(&conn, "u"), [pair("d1", "t")]);
        let token = &devices(&conn, "u").unwrap()[0].tokens[0];
        assert_eq!((token.registered_at, token.removed_at), (at(6), None));
    }

    #[test]
    fn a_provider_drop_removes_the_token_until_a_later_registration() {
        let conn = open();
        see(&conn, "d1", "u", 0);
        register_token(&conn, "d1", PushProvider::Fcm, "t", at(1)).unwrap();
        assert!(drop_token(&conn, "t", "unregistered", at(10)).unwrap());
        assert!(!drop_token(&conn, "t", "unregistered", at(11)).unwrap());
        assert!(!drop_token(&conn, "unknown", "unregistered", at(11)).unwrap());
        assert!(live(&conn, "u").is_empty());
        let token = &devices(&conn, "u").unwrap()[0].tokens[0];
        assert_eq!(token.removed_reason.as_deref(), Some("unregistered"));
        assert_eq!(token.removed_at, Some(at(10)));
        assert!(!register_token(&conn, "d1", PushProvider::Fcm, "t", at(9)).unwrap());
        assert!(register_token(&conn, "d1", PushProvider::Fcm, "t", at(12)).unwrap());
        assert_eq!(live(&conn, "u"), [pair("d1", "t")]);
    }

    #[test]
    fn the_os_permission_follows_the_latest_report() {
        let conn = open();
        see(&conn, "d1", "u", 0);
        register_token(&conn, "d1", PushProvider::Fcm, "t", at(0)).unwrap();
        let os = |conn: &Connection| targets(conn, "u").unwrap()[0].os_permission;
        assert_eq!(os(&conn), None);
        assert!(!targets(&conn, "u").unwrap()[0].os_allows());
        assert!(set_os_permission(&conn, "d1", "u", true, at(5)).unwrap());
        assert!(!set_os_permission(&conn, "d1", "u", false, at(4)).unwrap());
        assert_eq!(os(&conn), Some(true));
        assert!(targets(&conn, "u").unwrap()[0].os_allows());
        assert!(set_os_permission(&conn, "d1", "u", false, at(6)).unwrap());
        assert_eq!(os(&conn), Some(false));
        assert_eq!(
            devices(&conn, "u").unwrap()[0].os_permission_at,
            Some(at(6))
        );
    }
}
