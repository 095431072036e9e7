//! One engine: the server's members of every built-in segment, computed from events
//! uploaded through `POST /v1/batch`, equal what the engine finds on each user's
//! history built directly from the same events, as a device would.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use beckon::protocol::WireEvent;
use beckon::segments::{templates, DeviceSegments, SegmentSet, UserHistory};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const NOW: &str = "2025-06-01T12:00:00Z";
const USERS: u64 = 200;
/// Shoppers with thousands of events each, beyond a device's history horizon.
const LONG_USERS: u64 = 6;
const DAY: u64 = 24 * 3600;
const CATEGORIES: [&str; 5] = ["Shoes", "Bags", "Hats", "Watches", "Books"];

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

/// SplitMix64: a fixed seed gives the same histories on every run and platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> String {
        let bytes = (u128::from(self.next()) << 64 | u128::from(self.next())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

/// One shopper's events, oldest first, within the 120 days before [`NOW`]
/// (see [`shopper_over`]).
fn shopper(user: u64, rng: &mut Rng) -> Vec<Value> {
    let events = 2 + rng.below(30);
    shopper_over(user, rng, 120, events)
}

/// A long-time, busy shopper: thousands of events over 300 days, more than a device
/// keeps (180 days), active until the last day.
fn long_shopper(user: u64, rng: &mut Rng) -> Vec<Value> {
    let events = 2_000 + rng.below(1_000);
    shopper_over(user, rng, 300, events)
}

/// `count` events of one shopper, oldest first, within the `days` before [`NOW`].
///
/// Times are whole seconds plus half a second before `NOW`, while every window
/// boundary falls on a whole second: the server's clock-skew correction moves an
/// upload's events by the few milliseconds the request took, which must not carry any
/// event across a boundary (checked in the test).
fn shopper_over(user: u64, rng: &mut Rng, days: u64, count: u64) -> Vec<Value> {
    let span = days * DAY;
    let last_active = match rng.below(10) {
        0..=3 => rng.below(2 * DAY),
        4..=5 => rng.below(30 * DAY),
        _ if count > 100 => rng.below(2 * DAY),
        _ => rng.below(span),
    };
    let first_active = match count > 100 {
        true => span - 1,
        false => (last_active + rng.below(60 * DAY)).min(span - 1),
    };
    let mut offsets: Vec<u64> = (0..count)
        .map(|_| last_active + rng.below(first_active - last_active + 1))
        .collect();
    offsets.push(last_active);
    offsets.sort_unstable_by(|a, b| b.cmp(a));

    let anonymous_id = format!("anon-{user:03}");
    // Every tenth shopper never logs in; every seventh logs in after browsing a while.
    let user_id = match user % 10 {
        0 => None,
        _ => Some(format!("user-{user:03}")),
    };
    let logs_in_late = matches!(user % 7, 0);
    let favourite = rng.pick(&CATEGORIES);
    let mut cart: Vec<String> = Vec::new();
    let mut events = Vec::new();
    if rng.percent(30) {
        let plan = rng.pick(&["free", "gold"]);
        events.push(json!({"type": "identify", "traits": {"plan": plan}}));
    }
    for (n, offset) in offsets.iter().enumerate() {
        let product = format!("p-{}", rng.below(40));
        let category = if rng.percent(60) {
            favourite
        } else {
            rng.pick(&CATEGORIES)
        };
        let price = 5 + rng.below(150);
        let mut event = match rng.below(100) {
            0..=44 => track(
                "Product Viewed",
                json!({"product_id": product, "category": category, "price": price}),
            ),
            45..=59 => {
                cart.push(product.clone());
                track(
                    "Product Added",
                    json!({"product_id": product, "category": category, "price": price, "quantity": 1 + rng.below(3)}),
                )
            }
            60..=64 => {
                let removed = cart.pop().unwrap_or(product);
                track("Product Removed", json!({"product_id": removed}))
            }
            65..=72 => track(
                "Product Added to Wishlist",
                json!({"product_id": product, "category": category}),
            ),
            73..=87 => {
                cart.clear();
                let amount = 20 + rng.below(380);
                let amount_key = if rng.percent(20) { "total" } else { "revenue" };
                track(
                    "Order Completed",
                    json!({"order_id": rng.uuid(), amount_key: amount, "currency": "EUR"}),
                )
            }
            _ => {
                json!({"type": "screen", "name": rng.pick(&["Home", "Cart", "Search"]), "properties": {}})
            }
        };
        let at = now() - TimeDelta::seconds(*offset as i64) - TimeDelta::milliseconds(500);
        let logged_in = !logs_in_late || n >= offsets.len() / 2;
        event["id"] = json!(rng.uuid());
        event["anonymous_id"] = json!(anonymous_id);
        event["user_id"] = match (&user_id, logged_in) {
            (Some(id), true) => json!(id),
            _ => Value::Null,
        };
        event["timestamp"] = json!(rfc3339(at));
        events.push(event);
    }
    // The identify (if any) takes the time of the first event.
    if events[0]["type"] == "identify" {
        let first = events[1].clone();
        for key in ["timestamp", "anonymous_id", "user_id"] {
            events[0][key] = first[key].clone();
        }
        events[0]["id"] = json!(rng.uuid());
    }
    events
}

fn track(name: &str, properties: Value) -> Value {
    json!({"type": "track", "name": name, "properties": properties})
}

/// The documented user key: `user_id` when present, else `anonymous_id`.
fn user_key(event: &Value) -> String {
    event["user_id"]
        .as_str()
        .or(event["anonymous_id"].as_str())
        .unwrap()
        .to_string()
}

/// Members of every built-in segment as a device finds them: each user's events fed
/// one at a time, in time order, to the device's incremental engine (aggregates kept
/// per event, windows moving with each event's time), then the clock moved to [`NOW`].
/// The engine's one-shot evaluation of the whole history must agree.
fn device_side_members(shoppers: &[Vec<Value>]) -> BTreeMap<String, BTreeSet<String>> {
    let set = SegmentSet::new(templates::builtin()).unwrap();
    let mut by_user: BTreeMap<String, Vec<WireEvent>> = BTreeMap::new();
    for event in shoppers.iter().flatten() {
        let wire: WireEvent = serde_json::from_value(event.clone()).unwrap();
        by_user.entry(user_key(event)).or_default().push(wire);
    }
    let mut members: BTreeMap<String, BTreeSet<String>> = set
        .definitions()
        .iter()
        .map(|d| (d.id.clone(), BTreeSet::new()))
        .collect();
    for (user, events) in by_user.iter_mut() {
        events.sort_by_key(|e| e.timestamp);
        let start = events[0].timestamp;
        let (mut device, _) =
            DeviceSegments::load(set.clone(), None, &[], Vec::new, BTreeSet::new(), start);
        for event in events.iter() {
            device.record(event, event.timestamp);
        }
        device.tick(now());
        let history = UserHistory::from_wire(events.iter());
        assert_eq!(
            device.memberships(),
            &set.evaluate_all(&history, now()),
            "{user}: the device's incremental engine and a one-shot evaluation differ"
        );
        for segment in device.memberships() {
            members.get_mut(segment).unwrap().insert(user.clone());
        }
    }
    members
}

/// Whole shoppers per batch where they fit, so most users' events get the same skew
/// correction; a long shopper's events span several batches.
fn batches(shoppers: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let limit = beckon::protocol::MAX_BATCH_EVENTS;
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    for events in shoppers {
        if current.len() + events.len() > limit {
            batches.push(std::mem::take(&mut current));
        }
        for chunk in events.chunks(limit) {
            if current.len() + chunk.len() > limit {
                batches.push(std::mem::take(&mut current));
            }
            current.extend(chunk.iter().cloned());
        }
    }
    batches.push(current);
    batches
}

#[tokio::test]
async fn server_and_device_agree_on_every_builtin_segment() {
    let server = TestServer::start().await;
    let mut rng = Rng(0x5eed_beca);
    let mut shoppers: Vec<Vec<Value>> = (0..USERS).map(|u| shopper(u, &mut rng)).collect();
    shoppers.extend((USERS..USERS + LONG_USERS).map(|u| long_shopper(u, &mut rng)));
    let total: usize = shoppers.iter().map(Vec::len).sum();
    for events in batches(&shoppers) {
        // `sent_at` is stamped as the request leaves, as the SDK does.
        let (status, answer) = server.send(&batch(events)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["rejected"], json!([]), "{answer}");
    }
    let stored = server.export_all().await;
    assert_eq!(stored.len(), total);
    for event in &stored {
        let at = |key: &str| {
            event[key]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        };
        let shift = (at("timestamp") - at("original_timestamp")).abs();
        assert!(
            shift < TimeDelta::milliseconds(400),
            "the skew correction moved an event by {shift}; the test's timestamps assume less"
        );
    }

    for definition in templates::builtin() {
        server.create(SEGMENTS, &definition.to_value()).await;
    }
    let expected = device_side_members(&shoppers);
    let users: BTreeSet<String> = shoppers.iter().flatten().map(user_key).collect();
    for (segment, members) in &expected {
        let query = format!("{SEGMENTS}/{segment}/members?source=server&at={NOW}");
        let (status, body) = server.admin_get(&query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["evaluated_at"], NOW);
        let server_members: Vec<String> = serde_json::from_value(body["members"].clone()).unwrap();
        let expected_members: Vec<String> = members.iter().cloned().collect();
        assert_eq!(server_members, expected_members, "members of {segment}");

        let (_, size) = server
            .admin_get(&format!("{SEGMENTS}/{segment}/size?at={NOW}"))
            .await;
        assert_eq!(size["server_members"], members.len(), "size of {segment}");
        assert_eq!(size["device_members"], 0);
        println!("{segment}: {} of {} users", members.len(), users.len());
        // The comparison only means something if the data splits the users.
        assert!(
            !members.is_empty() && members.len() < users.len(),
            "{segment} has {} of {} users: the generated data does not exercise it",
            members.len(),
            users.len()
        );
    }
    // Evaluation is at the instant asked for: a year on, every window has closed.
    let later = "2026-06-01T12:00:00Z";
    let (_, body) = server
        .admin_get(&format!("{SEGMENTS}/cart_abandoner/size?at={later}"))
        .await;
    assert_eq!(body["server_members"], 0);
    let (_, body) = server
        .admin_get(&format!("{SEGMENTS}/inactive_90d/size?at={later}"))
        .await;
    assert_eq!(body["server_members"], users.len());
}

#[tokio::test]
async fn segment_sizes_and_members_without_any_events() {
    let server = TestServer::start().await;
    for definition in templates::builtin() {
        server.create(SEGMENTS, &definition.to_value()).await;
    }
    let never_ordered = json!({"schema": 1, "id": "never_ordered", "name": "Never ordered",
        "rule": {"count": {"event": "Order Completed"}, "exactly": 0}});
    server.create(SEGMENTS, &never_ordered).await;

    for segment in ["cart_abandoner", "never_ordered"] {
        let (status, size) = server
            .admin_get(&format!("{SEGMENTS}/{segment}/size?at={NOW}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{size}");
        assert_eq!(
            size,
            json!({"segment_id": segment, "server_members": 0, "device_members": 0, "evaluated_at": NOW})
        );
        for source in ["server", "device"] {
            let (status, members) = server
                .admin_get(&format!("{SEGMENTS}/{segment}/members?source={source}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{members}");
            assert_eq!(members["members"], json!([]));
            assert_eq!(members["source"], source);
        }
    }
    // Without `at`, the server's clock.
    let (_, size) = server
        .admin_get(&format!("{SEGMENTS}/cart_abandoner/size"))
        .await;
    let evaluated_at: DateTime<Utc> = size["evaluated_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - evaluated_at).abs() < TimeDelta::minutes(1));

    let missing = server.admin_get(&format!("{SEGMENTS}/nobody/size")).await;
    assert_eq!(
        error_message(&missing, StatusCode::NOT_FOUND, "not_found"),
        "segment \"nobody\" does not exist"
    );
    let bad_source = server
        .admin_get(&format!("{SEGMENTS}/cart_abandoner/members?source=both"))
        .await;
    assert_eq!(
        error_message(&bad_source, StatusCode::BAD_REQUEST, "bad_request"),
        "source must be \"server\" or \"device\", got \"both\""
    );
    let bad_at = server
        .admin_get(&format!("{SEGMENTS}/cart_abandoner/size?at=yesterday"))
        .await;
    let message = error_message(&bad_at, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.starts_with("at: \"yesterday\" is not an RFC 3339 time"),
        "{message}"
    );
    let (status, _) = server
        .admin_post(&format!("{SEGMENTS}/never_ordered/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in ["size", "members?source=device"] {
        let archived = server
            .admin_get(&format!("{SEGMENTS}/never_ordered/{path}"))
            .await;
        assert_eq!(
            error_message(&archived, StatusCode::CONFLICT, "conflict"),
            "segment \"never_ordered\" is archived; archived segments are not evaluated"
        );
    }
}
