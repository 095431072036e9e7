//! The SQLite backend's definitions, membership reports and per-user scan, below the
//! HTTP layer.

use beckon::protocol::{ExportedEvent, WireEvent, WireKind, SEGMENT_ENTERED, SEGMENT_EXITED};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::{DefinitionStore, EventStore};
use super::{Draft, Kind, SqliteStore, Status};

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("server.db")).unwrap();
    (dir, store)
}

fn at(minute: i64) -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
}

fn stored(name: &str, user_id: Option<&str>, minute: i64, properties: Value) -> ExportedEvent {
    ExportedEvent {
        event: WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: WireKind::Track,
            name: Some(name.into()),
            properties: properties.as_object().unwrap().clone(),
            traits: Map::new(),
            anonymous_id: "anon".into(),
            user_id: user_id.map(Into::into),
            timestamp: at(minute),
            context: json!({"app": "x"}).as_object().unwrap().clone(),
        },
        original_timestamp: at(minute),
        sent_at: at(minute),
        received_at: at(minute),
    }
}

fn draft(rule: u32, status: Status) -> Draft {
    Draft {
        body: json!({"rule": rule}),
        status,
    }
}

#[test]
fn definitions_get_versions_and_identical_writes_change_nothing() {
    let (_dir, store) = open();
    let write = |d: Draft| {
        store
            .write_definition(Kind::Segment, "s", &mut |_| Some(d.clone()))
            .unwrap()
            .unwrap()
    };
    let first = write(draft(1, Status::Active));
    assert_eq!((first.version, first.created_at), (1, first.updated_at));
    let second = write(draft(2, Status::Active));
    assert_eq!(second.version, 2);
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(write(draft(2, Status::Active)), second);
    let archived = write(draft(2, Status::Archived));
    assert_eq!((archived.version, archived.status), (3, Status::Archived));
    assert_eq!(
        store.catalog().unwrap().get(Kind::Segment, "s"),
        Some(&archived)
    );
    assert!(store.catalog().unwrap().get(Kind::Campaign, "s").is_none());
}

#[test]
fn a_refused_write_stores_nothing_and_decide_sees_the_current_catalog() {
    let (_dir, store) = open();
    store
        .write_definition(Kind::Segment, "a", &mut |_| Some(draft(1, Status::Active)))
        .unwrap();
    let mut seen = Vec::new();
    let refused = store
        .write_definition(Kind::Segment, "b", &mut |catalog| {
            seen.extend(catalog.all(Kind::Segment).map(|r| r.id.clone()));
            None
        })
        .unwrap();
    assert_eq!(refused, None);
    assert_eq!(seen, ["a"]);
    assert_eq!(store.catalog().unwrap().all(Kind::Segment).count(), 1);
}

#[test]
fn reports_apply_once_and_the_newest_by_event_time_wins() {
    let (_dir, store) = open();
    let entered = |user: &str, minute| {
        stored(
            SEGMENT_ENTERED,
            Some(user),
            minute,
            json!({"segment_id": "vip"}),
        )
    };
    let exited = |user: &str, minute| {
        stored(
            SEGMENT_EXITED,
            Some(user),
            minute,
            json!({"segment_id": "vip"}),
        )
    };
    let first = entered("u1", 0);
    store
        .insert(vec![first.clone(), entered("u2", 0), exited("u2", -5)])
        .unwrap();
    assert_eq!(store.device_members("vip").unwrap(), ["u1", "u2"]);
    store.insert(vec![exited("u1", 10)]).unwrap();
    assert_eq!(store.device_members("vip").unwrap(), ["u2"]);
    // The same event again, even with a later time: a duplicate, not applied.
    let mut again = first;
    again.event.timestamp = at(20);
    let outcome = store.insert(vec![again]).unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (0, 1));
    assert_eq!(store.device_members("vip").unwrap(), ["u2"]);
    // At the same instant, the one stored later wins.
    store
        .insert(vec![exited("u2", 30), entered("u2", 30)])
        .unwrap();
    assert_eq!(store.device_members("vip").unwrap(), ["u2"]);
    store.insert(vec![exited("u2", 30)]).unwrap();
    assert!(store.device_members("vip").unwrap().is_empty());
    assert!(store.device_members("other").unwrap().is_empty());
}

#[test]
fn the_scan_visits_each_user_once_with_their_events_in_store_order() {
    let (_dir, store) = open();
    store
        .insert(vec![
            stored("B1", Some("bob"), 5, json!({})),
            stored("A1", None, 9, json!({"n": 1})),
            stored("B2", Some("bob"), 1, json!({})),
            stored("C1", Some("carol"), 0, json!({})),
            stored("A2", None, 0, json!({})),
        ])
        .unwrap();
    let mut visits: Vec<(String, Vec<String>)> = Vec::new();
    store
        .for_each_user(&mut |user, events| {
            let names = events.iter().map(|e| e.name.clone().unwrap()).collect();
            visits.push((user.to_owned(), names));
        })
        .unwrap();
    let expected = [
        ("anon", vec!["A1", "A2"]),
        ("bob", vec!["B1", "B2"]),
        ("carol", vec!["C1"]),
    ]
    .map(|(user, names)| {
        (
            user.to_owned(),
            names.into_iter().map(String::from).collect(),
        )
    });
    assert_eq!(visits, expected);

    let mut first = None;
    store
        .for_each_user(&mut |_, events| {
            first.get_or_insert_with(|| events[0].clone());
        })
        .unwrap();
    let first = first.unwrap();
    assert_eq!(first.properties, *json!({"n": 1}).as_object().unwrap());
    assert_eq!(first.timestamp, at(9));
    assert!(first.context.is_empty(), "context is not read");

    let (_dir, empty) = open();
    let mut called = false;
    empty.for_each_user(&mut |_, _| called = true).unwrap();
    assert!(!called);
}
