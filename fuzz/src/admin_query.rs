//! The admin API's queries and bodies besides definitions and sends: the events
//! export's and a send's deliveries' paging (`cursor`, `limit`, `status`), the `at`
//! instant and `source` of the segment routes, and `PUT
//! /v1/admin/users/{user_key}/permissions/{channel}` (path and body), read by the
//! routes' own functions (`beckon_server::fuzzing`).
//!
//! The first byte picks the route (`% 5`) and, in its higher bits, which parameters are
//! given at all; the parameters follow, NUL-separated, as the query decodes them:
//!
//! - `0`: export, `cursor` NUL `limit`;
//! - `1`: deliveries, `cursor` NUL `limit` NUL `status`;
//! - `2`: segment members, `at` NUL `source`;
//! - `3`: permission change, `user_key` NUL `channel` NUL body;
//! - `4`: a position drawn from the bytes, written as a cursor by the server, then read
//!   back, and changed the ways a client may change an opaque token.
//!
//! Checked: what is refused is a 400 (a 413 for a body over its limit), never a 500
//! nor a panic, and its message stays short whatever the input; a cursor the server
//! wrote reads back to the same position, on both routes, and any other text (a
//! leading zero, a sign, a space, past the log's range) is refused; `limit` is 1 to
//! 10,000, 1,000 when absent; an accepted `at` writes back (RFC 3339, and the answer's
//! JSON) to the same instant; an accepted permission change is the channel, state and
//! source given, stamped with the server's time.

use arbitrary::{Result, Unstructured};
use beckon::consent::{Channel, PermissionState};
use beckon_server::fuzzing::{
    deliveries_query, evaluation_instant, export_query, member_source, permission_change,
    write_cursor,
};
use beckon_server::ApiError;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::gen;

/// The longest refusal message: a fixed sentence, the names it lists, and at most
/// 80 characters of what was given (escaped).
const MAX_MESSAGE_CHARS: usize = 600;
/// The log's positions are SQLite row ids.
const MAX_POSITION: u64 = i64::MAX as u64;

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let present = which / 5;
    let mut fields = rest.splitn(3, |&b| b == 0).map(String::from_utf8_lossy);
    let mut next = |bit: u8| {
        let field = fields.next().map(|f| f.into_owned()).unwrap_or_default();
        (present & (1 << bit) == 0).then_some(field)
    };
    match which % 5 {
        0 => export(next(0), next(1)),
        1 => deliveries(next(0), next(1), next(2)),
        2 => segment(next(0), next(1)),
        3 => {
            let mut parts = rest.splitn(3, |&b| b == 0);
            let user_key = String::from_utf8_lossy(parts.next().unwrap_or_default());
            let channel = String::from_utf8_lossy(parts.next().unwrap_or_default());
            permission(&user_key, &channel, parts.next().unwrap_or_default());
        }
        _ => {
            let _ = cursors(&mut Unstructured::new(rest));
        }
    }
}

/// A refusal: a 400 (or 413) with a short message.
fn refused(error: &ApiError, what: &str) {
    let status = error.status.as_u16();
    assert!(
        status == 400 || status == 413,
        "{what}: refused with {status} {}",
        error.code
    );
    assert!(
        error.message.chars().count() <= MAX_MESSAGE_CHARS,
        "{what}: a {}-character message",
        error.message.chars().count()
    );
}

fn cursor_read(text: Option<&str>, position: u64) {
    match text {
        None => assert_eq!(position, 0, "no cursor is the start of the log"),
        Some(text) => assert_eq!(
            write_cursor(position),
            text,
            "a cursor reads to a position written the same way"
        ),
    }
}

fn limit_read(text: Option<&str>, limit: usize) {
    assert!((1..=10_000).contains(&limit), "{limit}");
    match text {
        None => assert_eq!(limit, 1_000),
        Some(text) => assert_eq!(text.parse::<usize>().ok(), Some(limit), "{text:?}"),
    }
}

fn export(cursor: Option<String>, limit: Option<String>) {
    match export_query(cursor.as_deref(), limit.as_deref()) {
        Ok((position, size)) => {
            cursor_read(cursor.as_deref(), position);
            limit_read(limit.as_deref(), size);
        }
        Err(error) => refused(&error, "export"),
    }
}

fn deliveries(cursor: Option<String>, limit: Option<String>, status: Option<String>) {
    match deliveries_query(cursor.as_deref(), limit.as_deref(), status.as_deref()) {
        Ok((after, size, kept)) => {
            cursor_read(cursor.as_deref(), after);
            limit_read(limit.as_deref(), size);
            assert_eq!(kept, status.as_deref());
        }
        Err(error) => refused(&error, "deliveries"),
    }
    // The same cursor reads the same on both routes.
    let export = export_query(cursor.as_deref(), None).map(|(position, _)| position);
    let sends = deliveries_query(cursor.as_deref(), None, None).map(|(after, _, _)| after);
    assert_eq!(export.ok(), sends.ok(), "{cursor:?}");
}

fn segment(at: Option<String>, source: Option<String>) {
    match evaluation_instant(at.as_deref()) {
        Ok(instant) => {
            if at.is_some() {
                let written = instant.to_rfc3339();
                assert_eq!(
                    evaluation_instant(Some(&written)).ok(),
                    Some(instant),
                    "{written}"
                );
                let json = serde_json::to_string(&instant).expect("an instant is JSON");
                assert_eq!(
                    serde_json::from_str::<DateTime<Utc>>(&json).ok(),
                    Some(instant),
                    "{json}"
                );
            }
        }
        Err(error) => refused(&error, "at"),
    }
    match member_source(source.as_deref()) {
        Ok(name) => assert_eq!(name, source.as_deref().unwrap_or("server")),
        Err(error) => refused(&error, "source"),
    }
}

fn permission(user_key: &str, channel: &str, body: &[u8]) {
    let now = gen::now();
    match permission_change(user_key, channel, body, now) {
        Ok(change) => {
            assert_eq!(change.channel.as_str(), channel);
            assert_eq!(channel.parse::<Channel>().ok(), Some(change.channel));
            let body: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
            assert_eq!(
                body.get("state").and_then(Value::as_str),
                Some(change.state.as_str())
            );
            assert_eq!(
                change.state.as_str().parse::<PermissionState>().ok(),
                Some(change.state)
            );
            let source = body
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("server");
            assert_eq!(change.source, source);
            assert_eq!(change.updated_at, now, "stamped with the server's time");
        }
        Err(error) => refused(&error, "permission"),
    }
}

fn cursors(u: &mut Unstructured) -> Result<()> {
    let position = if u.arbitrary()? {
        u.int_in_range(0..=MAX_POSITION)?
    } else {
        u.int_in_range(0..=1_000_000u64)?
    };
    let written = write_cursor(position);
    assert_eq!(
        export_query(Some(&written), None).ok(),
        Some((position, 1_000))
    );
    assert_eq!(
        deliveries_query(Some(&written), None, None).ok(),
        Some((position, 1_000, None))
    );
    let foreign = match u.int_in_range(0..=7u8)? {
        0 => format!("0{written}"),
        1 => format!("+{written}"),
        2 => format!(" {written}"),
        3 => format!("{written} "),
        4 => format!("-{written}"),
        5 => (u128::from(MAX_POSITION) + 1 + u128::from(position)).to_string(),
        6 => format!("{written}{}", u.int_in_range(0..=9u8)?),
        _ => {
            let text: String = u.arbitrary()?;
            if text
                .parse::<u64>()
                .is_ok_and(|n| n <= MAX_POSITION && n.to_string() == text)
            {
                return Ok(());
            }
            text
        }
    };
    // One more digit stays a cursor while it is within the log's range.
    if foreign
        .parse::<u64>()
        .is_ok_and(|n| n <= MAX_POSITION && n.to_string() == foreign)
    {
        return Ok(());
    }
    for error in [
        export_query(Some(&foreign), None).err(),
        deliveries_query(Some(&foreign), None, None).err(),
    ] {
        let error = error.unwrap_or_else(|| panic!("the foreign cursor {foreign:?} is read"));
        refused(&error, "a foreign cursor");
        assert_eq!(error.code, "bad_request");
    }
    Ok(())
}
