//! Channel permissions per user: the current state of each channel, and the history of
//! every change heard.
//!
//! Whoever reports a change (a device through an event, the server through the admin
//! API, an anonymous device identifying), the shared rule [`Permission::supersedes`]
//! decides whether it becomes current, so the server and the devices converge on the
//! same state whatever order they hear of the changes in.

use std::collections::HashMap;

use beckon::consent::Permission;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::memberships::sortable_time;
use super::sqlite::parse_time;
use super::StoreError;

/// Who reported a permission change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum ChangeOrigin {
    /// A device's `Channel Permission Changed` event, by its id.
    Device { event_id: String },
    /// The server: the admin API, an unsubscribe link, a send pipeline.
    Server,
    /// Copied from what the device had recorded while anonymous, when it first
    /// identified as this user.
    Identify { anonymous_id: String },
}

/// One entry of a user's permission history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionChange {
    /// The change; `updated_at` is when it was made.
    #[serde(flatten)]
    pub permission: Permission,
    /// When the server heard of it.
    pub recorded_at: DateTime<Utc>,
    /// Whether it became the current state: a change older than the current one
    /// (heard late) is kept in the history without being applied.
    pub applied: bool,
    #[serde(flatten)]
    pub origin: ChangeOrigin,
}

const CURRENT_ONE: &str = "SELECT channel, state, source, updated_at FROM permissions
    WHERE user_key = ?1 AND channel = ?2";

const CURRENT: &str = "SELECT channel, state, source, updated_at FROM permissions
    WHERE user_key = ?1";

const CURRENT_OF_MANY: &str = "SELECT user_key, channel, state, source, updated_at
    FROM permissions WHERE user_key IN (SELECT value FROM json_each(?1))";

const UPSERT: &str = "INSERT INTO permissions (user_key, channel, state, source, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (user_key, channel) DO UPDATE SET
        state = excluded.state, source = excluded.source, updated_at = excluded.updated_at";

const RECORD: &str = "INSERT INTO permission_history
        (user_key, channel, state, source, changed_at, recorded_at, applied, origin, origin_ref)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const HISTORY: &str = "SELECT channel, state, source, changed_at, recorded_at, applied,
        origin, origin_ref
    FROM permission_history WHERE user_key = ?1 ORDER BY changed_at, id";

/// Records `change` in the user's history and makes it current when it supersedes the
/// current state of its channel (or the channel was never set). Returns whether it did.
pub(super) fn apply(
    conn: &Connection,
    user_key: &str,
    change: &Permission,
    origin: &ChangeOrigin,
    recorded_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let current = conn
        .prepare_cached(CURRENT_ONE)?
        .query_row(params![user_key, change.channel.as_str()], |row| {
            StoredPermission::from_row(row, 0)
        })
        .optional()?
        .map(StoredPermission::read)
        .transpose()?;
    let applied = current.is_none_or(|current| change.supersedes(&current));
    let changed_at = sortable_time(change.updated_at);
    if applied {
        conn.prepare_cached(UPSERT)?.execute(params![
            user_key,
            change.channel.as_str(),
            change.state.as_str(),
            change.source,
            changed_at,
        ])?;
    }
    let (origin_name, origin_ref) = match origin {
        ChangeOrigin::Device { event_id } => ("device", Some(event_id.as_str())),
        ChangeOrigin::Server => ("server", None),
        ChangeOrigin::Identify { anonymous_id } => ("identify", Some(anonymous_id.as_str())),
    };
    conn.prepare_cached(RECORD)?.execute(params![
        user_key,
        change.channel.as_str(),
        change.state.as_str(),
        change.source,
        changed_at,
        sortable_time(recorded_at),
        applied,
        origin_name,
        origin_ref,
    ])?;
    Ok(applied)
}

/// The current permission of every channel ever set for the user, in the order of
/// [`Channel::ALL`].
pub(super) fn current(conn: &Connection, user_key: &str) -> Result<Vec<Permission>, StoreError> {
    let mut select = conn.prepare_cached(CURRENT)?;
    let mut permissions = select
        .query_map([user_key], |row| StoredPermission::from_row(row, 0))?
        .map(|row| row?.read())
        .collect::<Result<Vec<_>, _>>()?;
    permissions.sort_by_key(|p| p.channel);
    Ok(permissions)
}

/// [`current`] for every user of `keys_json` (a JSON array of user keys) at once.
pub(super) fn current_of_many(
    conn: &Connection,
    keys_json: &str,
) -> Result<HashMap<String, Vec<Permission>>, StoreError> {
    let mut select = conn.prepare_cached(CURRENT_OF_MANY)?;
    let mut rows = select.query([keys_json])?;
    let mut by_user: HashMap<String, Vec<Permission>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let permission = StoredPermission::from_row(row, 1)?.read()?;
        by_user.entry(row.get(0)?).or_default().push(permission);
    }
    for permissions in by_user.values_mut() {
        permissions.sort_by_key(|p| p.channel);
    }
    Ok(by_user)
}

/// Every change recorded for the user, oldest change first (by when it was made).
pub(super) fn history(
    conn: &Connection,
    user_key: &str,
) -> Result<Vec<PermissionChange>, StoreError> {
    let mut select = conn.prepare_cached(HISTORY)?;
    let rows = select.query_map([user_key], |row| {
        Ok((
            StoredPermission::from_row(row, 0)?,
            row.get::<_, String>(4)?,
            row.get::<_, bool>(5)?,
            row.get::<_, String>(6)?,
            row.get::<_, Option<String>>(7)?,
        ))
    })?;
    let mut changes = Vec::new();
    for row in rows {
        let (permission, recorded_at, applied, origin, origin_ref) = row?;
        let origin = match (origin.as_str(), origin_ref) {
            ("device", Some(event_id)) => ChangeOrigin::Device { event_id },
            ("server", _) => ChangeOrigin::Server,
            ("identify", Some(anonymous_id)) => ChangeOrigin::Identify { anonymous_id },
            (other, _) => return Err(corrupt(format!("history origin {other:?}"))),
        };
        changes.push(PermissionChange {
            permission: permission.read()?,
            recorded_at: parse_time(&recorded_at).map_err(corrupt)?,
            applied,
            origin,
        });
    }
    Ok(changes)
}

/// A permission as stored, before its names and time are read.
struct StoredPermission {
    channel: String,
    state: String,
    source: String,
    updated_at: String,
}

impl StoredPermission {
    /// The row's columns `first..first + 4`: channel, state, source, time.
    fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            channel: row.get(first)?,
            state: row.get(first + 1)?,
            source: row.get(first + 2)?,
            updated_at: row.get(first + 3)?,
        })
    }

    fn read(self) -> Result<Permission, StoreError> {
        Ok(Permission {
            channel: self.channel.parse().map_err(|e| corrupt(format!("{e}")))?,
            state: self.state.parse().map_err(|e| corrupt(format!("{e}")))?,
            source: self.source,
            updated_at: parse_time(&self.updated_at).map_err(corrupt)?,
        })
    }
}

fn corrupt(detail: String) -> StoreError {
    StoreError::CorruptRow {
        table: "permissions",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon::consent::Channel;
    use beckon::consent::PermissionState::{self, *};

    fn open() -> Connection {
        super::super::migrations::test_database()
    }

    fn change(channel: Channel, state: PermissionState, minute: u32) -> Permission {
        Permission {
            channel,
            state,
            source: "app".into(),
            updated_at: format!("2025-06-01T12:{minute:02}:00Z").parse().unwrap(),
        }
    }

    fn device(id: &str) -> ChangeOrigin {
        ChangeOrigin::Device {
            event_id: id.into(),
        }
    }

    #[test]
    fn the_later_change_wins_whatever_order_they_arrive_in() {
        let conn = open();
        let now = Utc::now();
        let late = change(Channel::Email, Unsubscribed, 30);
        let early = change(Channel::Email, OptedIn, 10);
        assert!(apply(&conn, "u1", &late, &device("e2"), now).unwrap());
        assert!(!apply(&conn, "u1", &early, &device("e1"), now).unwrap());
        assert_eq!(current(&conn, "u1").unwrap(), std::slice::from_ref(&late));

        let history = history(&conn, "u1").unwrap();
        assert_eq!(history.len(), 2, "both are kept");
        assert_eq!(
            history[0].permission, early,
            "ordered by when they were made"
        );
        assert!(!history[0].applied);
        assert_eq!(history[0].origin, device("e1"));
        assert!(history[1].applied);
        assert_eq!(history[1].recorded_at, now);
        assert!(current(&conn, "u2").unwrap().is_empty());
        assert!(super::history(&conn, "u2").unwrap().is_empty());
    }

    #[test]
    fn channels_and_users_are_independent_and_listed_in_channel_order() {
        let conn = open();
        let now = Utc::now();
        for (user, permission) in [
            ("u1", change(Channel::Whatsapp, OptedIn, 1)),
            ("u1", change(Channel::Push, Unsubscribed, 2)),
            ("u2", change(Channel::Sms, OptedIn, 3)),
        ] {
            assert!(apply(&conn, user, &permission, &ChangeOrigin::Server, now).unwrap());
        }
        let channels = |user| -> Vec<Channel> {
            current(&conn, user)
                .unwrap()
                .iter()
                .map(|p| p.channel)
                .collect()
        };
        assert_eq!(channels("u1"), [Channel::Push, Channel::Whatsapp]);
        assert_eq!(channels("u2"), [Channel::Sms]);
        let many = current_of_many(&conn, r#"["u1", "u2", "nobody"]"#).unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many["u1"], current(&conn, "u1").unwrap());
        assert_eq!(many["u2"], current(&conn, "u2").unwrap());
    }

    #[test]
    fn history_keeps_every_origin() {
        let conn = open();
        let now = Utc::now();
        let origins = [
            device("e1"),
            ChangeOrigin::Server,
            ChangeOrigin::Identify {
                anonymous_id: "anon".into(),
            },
        ];
        for (minute, origin) in origins.iter().enumerate() {
            let permission = change(Channel::Sms, OptedIn, minute as u32);
            apply(&conn, "u1", &permission, origin, now).unwrap();
        }
        let read: Vec<ChangeOrigin> = history(&conn, "u1")
            .unwrap()
            .into_iter()
            .map(|c| c.origin)
            .collect();
        assert_eq!(read, origins);
        let json = serde_json::to_value(&history(&conn, "u1").unwrap()[0]).unwrap();
        assert_eq!(json["origin"], "device");
        assert_eq!(json["event_id"], "e1");
        assert_eq!(json["channel"], "sms");
        assert_eq!(json["state"], "opted_in");
    }

    #[test]
    fn an_unreadable_row_is_an_error_not_a_guess() {
        let conn = open();
        conn.execute(
            "INSERT INTO permissions VALUES ('u1', 'fax', 'opted_in', 'app', '2025')",
            [],
        )
        .unwrap();
        let err = current(&conn, "u1").unwrap_err();
        assert!(err.to_string().contains("fax"), "{err}");
    }
}
