//! The event log read one user at a time, for server-side segment evaluation.
//!
//! One query sorted by user key streams every user's events together, so evaluating
//! all users is a single pass with one user's history in memory at a time, instead of
//! a query per user.

use beckon::protocol::WireEvent;
use rusqlite::{Connection, Row};

use super::memberships::USER_KEY_SQL;
use super::sqlite::{parse_kind, parse_map, parse_time};
use super::StoreError;

/// Within a user, store order: the order the events were recorded in, which is what
/// the history keeps for events stamped at the same instant. `context` is not read:
/// segment rules never look at it.
fn scan_sql() -> String {
    format!(
        "SELECT {USER_KEY_SQL} AS user_key, seq, id, kind, name, anonymous_id, user_id,
            timestamp, properties, traits
        FROM events ORDER BY user_key, seq"
    )
}

/// Calls `visit` once per user, in user key order (byte order), with all of that
/// user's events.
pub(super) fn for_each_user(
    conn: &Connection,
    visit: &mut dyn FnMut(&str, &[WireEvent]),
) -> Result<(), StoreError> {
    let mut select = conn.prepare_cached(&scan_sql())?;
    let mut rows = select.query([])?;
    let mut user: Option<String> = None;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        let key = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if user.as_deref() != Some(key) {
            if let Some(done) = user.replace(key.to_owned()) {
                visit(&done, &events);
                events.clear();
            }
        }
        events.push(read_event(row)?);
    }
    if let Some(done) = user {
        visit(&done, &events);
    }
    Ok(())
}

fn read_event(row: &Row<'_>) -> Result<WireEvent, StoreError> {
    let seq: i64 = row.get(1)?;
    let corrupt = |detail: String| StoreError::Corrupt { seq, detail };
    let id: Vec<u8> = row.get(2)?;
    let id = uuid::Uuid::from_slice(&id)
        .map_err(|err| corrupt(format!("id: {err}")))?
        .hyphenated()
        .to_string();
    let kind_text: String = row.get(3)?;
    Ok(WireEvent {
        id,
        kind: parse_kind(&kind_text).ok_or_else(|| corrupt(format!("kind {kind_text:?}")))?,
        name: row.get(4)?,
        anonymous_id: row.get(5)?,
        user_id: row.get(6)?,
        timestamp: parse_time(&row.get::<_, String>(7)?).map_err(corrupt)?,
        properties: parse_map(row.get(8)?).map_err(corrupt)?,
        traits: parse_map(row.get(9)?).map_err(corrupt)?,
        context: serde_json::Map::new(),
    })
}
