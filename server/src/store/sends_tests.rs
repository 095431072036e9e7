//! The SQLite backend's sends, deliveries and attempts, on a real database file.

use beckon::consent::Channel;
use beckon::protocol::{Discount, PromoOffer, PushProvider};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{
    DeliveryContent, DeliveryResult, DeliveryStatus, NewDelivery, NewSend, SendStatus, SendStore,
    SqliteStore,
};
use crate::store::AttemptRecord;

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("server.db")).unwrap();
    (dir, store)
}

fn at(minute: i64) -> DateTime<Utc> {
    "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
}

fn new_send(id: &str, minute: i64) -> NewSend {
    NewSend {
        id: id.into(),
        request: json!({"schema_version": 1, "audience": {"segment": "vip"}}),
        created_at: at(minute),
        campaign_id: Some("xmas".into()),
        collapse_id: None,
        promo: Some(PromoOffer {
            code: "XMAS10".into(),
            discount: Discount::Percent { value: 10.0 },
            currency: None,
            expires_at: at(60 * 24),
            min_basket: None,
            max_uses: 1,
        }),
    }
}

fn push(user: &str, token: &str, minute: i64) -> NewDelivery {
    NewDelivery {
        user_key: user.into(),
        channel: Some(Channel::Push),
        provider: Some(PushProvider::Fcm),
        recipient: token.into(),
        status: DeliveryStatus::Pending,
        reasons: vec![],
        message_id: Some(format!("m-{user}-{token}")),
        scheduled_for: Some(at(minute)),
        deliver_at: Some(at(minute)),
        expires_at: None,
        time_zone: Some("Europe/Lisbon".into()),
        zone_source: Some("device".into()),
        held_by_quiet_hours: false,
        content: Some(DeliveryContent {
            locale: "en".into(),
            title: format!("Hi {user}"),
            body: "Your cart".into(),
            deep_link: Some("shop://cart".into()),
        }),
        detail: None,
    }
}

fn skipped(user: &str) -> NewDelivery {
    NewDelivery {
        channel: None,
        provider: None,
        recipient: String::new(),
        status: DeliveryStatus::Skipped,
        reasons: vec!["push: unsubscribed".into()],
        message_id: None,
        deliver_at: None,
        content: None,
        ..push(user, "", 0)
    }
}

fn attempt(number: u32, outcome: &str, status: Option<u16>) -> AttemptRecord {
    AttemptRecord {
        number,
        started_at: at(1),
        finished_at: at(1),
        outcome: outcome.into(),
        http_status: status,
        detail: Some(format!("try {number}")),
    }
}

fn result(id: i64, status: DeliveryStatus, attempts: Vec<AttemptRecord>) -> DeliveryResult {
    DeliveryResult {
        id,
        send_id: "s1".into(),
        status,
        detail: Some(status.to_string()),
        attempts,
    }
}

#[test]
fn a_send_is_planned_once_even_when_planning_runs_again() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    let stored = store.send("s1").unwrap().unwrap();
    assert_eq!(stored.status, SendStatus::Scheduled);
    assert_eq!(stored.promo.as_ref().unwrap().code, "XMAS10");
    assert_eq!(stored.campaign_id.as_deref(), Some("xmas"));
    assert_eq!(store.next_to_plan().unwrap().unwrap().id, "s1");

    let rows = vec![push("ana", "t1", 0), push("ana", "t2", 0), skipped("bo")];
    // Deliveries of a send not yet running are not stored.
    assert!(!store.add_deliveries("s1", &rows, at(0)).unwrap().open);
    store.start_planning("s1").unwrap();
    let added = store.add_deliveries("s1", &rows, at(0)).unwrap();
    assert_eq!((added.deliveries, added.users, added.open), (3, 2, true));
    // Planning again after a crash adds nothing twice.
    let again = store
        .add_deliveries("s1", &[push("ana", "t1", 0), push("cy", "t3", 5)], at(0))
        .unwrap();
    assert_eq!((again.deliveries, again.users), (1, 1));
    let running = store.send("s1").unwrap().unwrap();
    assert_eq!(running.status, SendStatus::Running);
    assert_eq!(running.counts.users, 3);
    assert_eq!(running.counts.pending, 3);
    assert_eq!(running.counts.skipped, 1);
    assert_eq!(running.counts.deliveries(), 4);
    assert_eq!(store.next_to_plan().unwrap().unwrap().id, "s1");
    store.finish_planning("s1", None, at(0)).unwrap();
    assert_eq!(store.next_to_plan().unwrap(), None);
    assert!(store.send("s1").unwrap().unwrap().planned_at.is_some());
}

#[test]
fn due_deliveries_are_claimed_once_and_their_results_counted() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    store.start_planning("s1").unwrap();
    let rows = vec![
        push("ana", "t1", 0),
        push("bo", "t2", 0),
        push("cy", "t3", 30),
    ];
    store.add_deliveries("s1", &rows, at(0)).unwrap();
    store.finish_planning("s1", None, at(0)).unwrap();
    assert_eq!(store.next_due().unwrap(), Some(at(0)));

    let due = store.claim_due(at(1), 10).unwrap();
    let users: Vec<&str> = due.iter().map(|d| d.user_key.as_str()).collect();
    assert_eq!(users, ["ana", "bo"]);
    assert_eq!(due[0].content.title, "Hi ana");
    assert_eq!(due[0].message_id, "m-ana-t1");
    assert!(
        store.claim_due(at(1), 10).unwrap().is_empty(),
        "claimed once"
    );
    assert_eq!(store.next_due().unwrap(), Some(at(30)));

    // Ana's first run stops after two retries (a restart); the claim is released.
    store
        .record_results(
            &[result(
                due[0].id,
                DeliveryStatus::Pending,
                vec![
                    attempt(1, "retry", Some(429)),
                    attempt(2, "retry", Some(503)),
                ],
            )],
            at(2),
        )
        .unwrap();
    let again = store.claim_due(at(3), 10).unwrap();
    assert_eq!(again.len(), 1);
    store
        .record_results(
            &[
                result(
                    due[0].id,
                    DeliveryStatus::Delivered,
                    vec![attempt(1, "delivered", None)],
                ),
                result(
                    due[1].id,
                    DeliveryStatus::Unregistered,
                    vec![attempt(1, "unregistered", Some(404))],
                ),
            ],
            at(3),
        )
        .unwrap();
    let send = store.send("s1").unwrap().unwrap();
    assert_eq!(send.status, SendStatus::Running, "cy is still pending");
    assert_eq!(
        (
            send.counts.pending,
            send.counts.delivered,
            send.counts.unregistered
        ),
        (1, 1, 1)
    );
    // A result recorded twice moves nothing twice.
    store
        .record_results(
            &[result(due[1].id, DeliveryStatus::Unregistered, vec![])],
            at(4),
        )
        .unwrap();
    assert_eq!(store.send("s1").unwrap().unwrap().counts.unregistered, 1);

    let page = store.deliveries("s1", 0, 10, None).unwrap();
    let numbers: Vec<(u32, &str)> = page[0]
        .attempts
        .iter()
        .map(|a| (a.number, a.outcome.as_str()))
        .collect();
    assert_eq!(numbers, [(1, "retry"), (2, "retry"), (3, "delivered")]);
    assert_eq!(page[0].attempts[0].http_status, Some(429));
    assert_eq!(page[0].finished_at, Some(at(3)));

    let later = store.claim_due(at(30), 10).unwrap();
    store
        .record_results(
            &[DeliveryResult {
                send_id: "s1".into(),
                ..result(
                    later[0].id,
                    DeliveryStatus::Failed,
                    vec![attempt(1, "failed", Some(400))],
                )
            }],
            at(31),
        )
        .unwrap();
    let done = store.send("s1").unwrap().unwrap();
    assert_eq!(done.status, SendStatus::Done);
    assert_eq!(done.finished_at, Some(at(31)));
    assert_eq!(store.next_due().unwrap(), None);
}

#[test]
fn claims_are_released_for_a_new_runner() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    store.start_planning("s1").unwrap();
    store
        .add_deliveries("s1", &[push("ana", "t1", 0)], at(0))
        .unwrap();
    assert_eq!(store.claim_due(at(0), 10).unwrap().len(), 1);
    assert!(store.claim_due(at(0), 10).unwrap().is_empty());
    assert_eq!(store.release_claims().unwrap(), 1);
    assert_eq!(store.claim_due(at(0), 10).unwrap().len(), 1);
}

#[test]
fn a_send_with_nothing_pending_is_done_once_planned() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    store.start_planning("s1").unwrap();
    store.add_deliveries("s1", &[skipped("bo")], at(0)).unwrap();
    assert_eq!(
        store.send("s1").unwrap().unwrap().status,
        SendStatus::Running
    );
    store
        .finish_planning("s1", Some("segment \"vip\" is archived"), at(1))
        .unwrap();
    let done = store.send("s1").unwrap().unwrap();
    assert_eq!(done.status, SendStatus::Done);
    assert_eq!(done.error.as_deref(), Some("segment \"vip\" is archived"));
}

#[test]
fn cancelling_skips_what_is_pending_but_not_what_is_in_flight() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    store.start_planning("s1").unwrap();
    let rows = vec![
        push("ana", "t1", 0),
        push("bo", "t2", 60),
        push("cy", "t3", 60),
    ];
    store.add_deliveries("s1", &rows, at(0)).unwrap();
    let in_flight = store.claim_due(at(0), 10).unwrap();
    assert_eq!(store.cancel_send("nope", at(1)).unwrap(), None);
    let cancelled = store.cancel_send("s1", at(1)).unwrap().unwrap();
    assert_eq!(cancelled.status, SendStatus::Cancelled);
    assert_eq!((cancelled.counts.pending, cancelled.counts.skipped), (1, 2));
    assert_eq!(store.next_due().unwrap(), None);
    // Deliveries planned after the cancel are not stored.
    assert!(
        !store
            .add_deliveries("s1", &[push("dee", "t4", 0)], at(2))
            .unwrap()
            .open
    );
    // The delivery in flight ends as it ends; the send stays cancelled.
    store
        .record_results(
            &[result(
                in_flight[0].id,
                DeliveryStatus::Delivered,
                vec![attempt(1, "delivered", None)],
            )],
            at(2),
        )
        .unwrap();
    let after = store.send("s1").unwrap().unwrap();
    assert_eq!(after.status, SendStatus::Cancelled);
    assert_eq!((after.counts.pending, after.counts.delivered), (0, 1));
    // Cancelling again changes nothing.
    assert_eq!(store.cancel_send("s1", at(3)).unwrap().unwrap(), after);
}

#[test]
fn deliveries_page_by_id_and_filter_by_status() {
    let (_dir, store) = open();
    store.create_send(&new_send("s1", 0)).unwrap();
    store.create_send(&new_send("s2", 0)).unwrap();
    store.start_planning("s1").unwrap();
    store.start_planning("s2").unwrap();
    let rows: Vec<NewDelivery> = (0..5)
        .map(|i| {
            if i % 2 == 0 {
                push(&format!("u{i}"), "t", 0)
            } else {
                skipped(&format!("u{i}"))
            }
        })
        .collect();
    store.add_deliveries("s1", &rows, at(0)).unwrap();
    // The same users and recipients in another send are other deliveries.
    let other: Vec<NewDelivery> = rows
        .iter()
        .cloned()
        .map(|mut d| {
            d.message_id = d.message_id.map(|m| format!("s2-{m}"));
            d
        })
        .collect();
    assert_eq!(
        store
            .add_deliveries("s2", &other, at(0))
            .unwrap()
            .deliveries,
        5
    );
    let first = store.deliveries("s1", 0, 2, None).unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.deliveries("s1", first[1].id, 10, None).unwrap();
    assert_eq!(rest.len(), 3);
    let users: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|d| d.planned.user_key.as_str())
        .collect();
    assert_eq!(users, ["u0", "u1", "u2", "u3", "u4"]);
    let skipped_only = store
        .deliveries("s1", 0, 10, Some(DeliveryStatus::Skipped))
        .unwrap();
    assert_eq!(skipped_only.len(), 2);
    assert_eq!(skipped_only[0].planned.reasons, ["push: unsubscribed"]);
    assert_eq!(skipped_only[0].planned.channel, None);
    assert!(store.deliveries("nope", 0, 10, None).unwrap().is_empty());
}
