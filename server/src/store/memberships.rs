//! Segment memberships as devices report them: `Segment Entered` / `Segment Exited`
//! events, applied while the batch that carries them is stored.

use beckon::protocol::{WireEvent, WireKind, SEGMENT_ENTERED, SEGMENT_EXITED, SEGMENT_ID_PROPERTY};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction};

use super::StoreError;

/// The newest report wins: by event time, then by upload order for reports stamped at
/// the same instant. Row values compare column by column, like a tuple.
const APPLY: &str = "INSERT INTO device_memberships
        (segment_id, user_key, inside, reported_at, event_seq)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (segment_id, user_key) DO UPDATE SET
        inside = excluded.inside,
        reported_at = excluded.reported_at,
        event_seq = excluded.event_seq
    WHERE (excluded.reported_at, excluded.event_seq)
        > (device_memberships.reported_at, device_memberships.event_seq)";

const MEMBERS: &str = "SELECT user_key FROM device_memberships
    WHERE segment_id = ?1 AND inside = 1 ORDER BY user_key";

const SEGMENTS_OF: &str = "SELECT segment_id FROM device_memberships
    WHERE user_key = ?1 AND inside = 1 ORDER BY segment_id";

/// Who an event belongs to, for segments: its `user_id` when it has one, else its
/// `anonymous_id`. Server-side evaluation groups events the same way (`USER_KEY_SQL`).
pub fn user_key(event: &WireEvent) -> &str {
    event.user_id.as_deref().unwrap_or(&event.anonymous_id)
}

/// [`user_key`] as an SQL expression over the `events` table.
pub(super) const USER_KEY_SQL: &str = "COALESCE(user_id, anonymous_id)";

/// A device saying the user entered or left a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipReport<'a> {
    pub segment_id: &'a str,
    pub user_key: &'a str,
    pub entered: bool,
    pub at: DateTime<Utc>,
}

impl<'a> MembershipReport<'a> {
    /// `None` for every other event (at the cost of a name comparison, so the upload
    /// path stays as fast for them), and for a report without a string `segment_id`.
    pub fn read(event: &'a WireEvent) -> Option<Self> {
        let entered = match (event.kind, event.name.as_deref()) {
            (WireKind::Track, Some(SEGMENT_ENTERED)) => true,
            (WireKind::Track, Some(SEGMENT_EXITED)) => false,
            _ => return None,
        };
        let segment_id = event.properties.get(SEGMENT_ID_PROPERTY)?.as_str()?;
        (!segment_id.is_empty()).then_some(MembershipReport {
            segment_id,
            user_key: user_key(event),
            entered,
            at: event.timestamp,
        })
    }
}

/// Applies a report whose event was just stored as row `seq`. Called only for events
/// that were not duplicates, so a retried upload never applies a report twice.
pub(super) fn apply(
    tx: &Transaction<'_>,
    report: &MembershipReport<'_>,
    seq: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(APPLY)?.execute(params![
        report.segment_id,
        report.user_key,
        report.entered,
        sortable_time(report.at),
        seq,
    ])?;
    Ok(())
}

/// Users whose latest report for the segment is an entry, by user key.
pub(super) fn members(conn: &Connection, segment_id: &str) -> Result<Vec<String>, StoreError> {
    let mut select = conn.prepare_cached(MEMBERS)?;
    let keys = select
        .query_map([segment_id], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(keys)
}

/// The segments the user's devices last reported the user inside, by id.
pub(super) fn segments_of(conn: &Connection, user_key: &str) -> Result<Vec<String>, StoreError> {
    let mut select = conn.prepare_cached(SEGMENTS_OF)?;
    let ids = select
        .query_map([user_key], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Fixed width (years 1–9999, nanoseconds always written), so text order is time order.
pub(super) fn sortable_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn event(kind: WireKind, name: &str, properties: Value, user_id: Option<&str>) -> WireEvent {
        WireEvent {
            id: "00000000-0000-4000-8000-000000000000".into(),
            kind,
            name: Some(name.into()),
            properties: properties.as_object().unwrap().clone(),
            traits: Map::new(),
            anonymous_id: "anon".into(),
            user_id: user_id.map(Into::into),
            timestamp: "2025-01-01T00:00:00Z".parse().unwrap(),
            context: Map::new(),
        }
    }

    #[test]
    fn reads_entries_and_exits_keyed_by_user_then_anonymous_id() {
        let entered = event(
            WireKind::Track,
            SEGMENT_ENTERED,
            json!({"segment_id": "vip"}),
            Some("u1"),
        );
        let report = MembershipReport::read(&entered).unwrap();
        assert_eq!((report.segment_id, report.user_key), ("vip", "u1"));
        assert!(report.entered);
        let exited = event(
            WireKind::Track,
            SEGMENT_EXITED,
            json!({"segment_id": "vip"}),
            None,
        );
        let report = MembershipReport::read(&exited).unwrap();
        assert_eq!(report.user_key, "anon");
        assert!(!report.entered);
    }

    #[test]
    fn ignores_other_events_and_reports_without_a_segment_id() {
        let props = json!({"segment_id": "vip"});
        for ignored in [
            event(WireKind::Track, "Product Viewed", props.clone(), None),
            event(WireKind::Screen, SEGMENT_ENTERED, props, None),
            event(WireKind::Track, SEGMENT_ENTERED, json!({}), None),
            event(
                WireKind::Track,
                SEGMENT_ENTERED,
                json!({"segment_id": 7}),
                None,
            ),
            event(
                WireKind::Track,
                SEGMENT_ENTERED,
                json!({"segment_id": ""}),
                None,
            ),
        ] {
            assert_eq!(MembershipReport::read(&ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn sortable_times_order_as_text_like_the_times_themselves() {
        let times: Vec<DateTime<Utc>> = [
            "0999-01-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00.000000001Z",
            "2025-01-01T00:00:00.5Z",
            "2025-01-01T00:00:01Z",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let texts: Vec<String> = times.iter().copied().map(sortable_time).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert!(texts.iter().all(|t| t.len() == texts[0].len()));
    }
}
