//! `POST /v1/batch` against a real server: auth, encodings, limits, validation, dedup,
//! clock-skew correction.

mod common;

use beckon::protocol::{APP_KEY_HEADER, BATCH_PATH, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};
use chrono::{TimeDelta, Utc};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The decompressed body limit: a full batch plus 16 KiB of envelope.
const LIMIT: usize = beckon::protocol::MAX_BATCH_BYTES + 16 * 1024;

#[tokio::test]
async fn requests_without_a_known_app_key_are_refused() {
    let server = TestServer::start().await;
    let body = serde_json::to_vec(&batch(events(1))).unwrap();
    let url = server.endpoint(BATCH_PATH);

    let missing = server
        .http
        .post(&url)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for wrong in [
        "nope",
        "APP-KEY-TEST-1",
        "app-key-test-",
        "app-key-test-12",
        "",
    ] {
        let response = server
            .http
            .post(&url)
            .header(APP_KEY_HEADER, wrong)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Credentials are checked before the body is even looked at.
    let bomb = gzip(&vec![b' '; 4 * LIMIT]);
    let response = server
        .http
        .post(&url)
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = server
        .http
        .post(&url)
        .header("content-encoding", "br")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    assert!(server.export_all().await.is_empty(), "nothing stored");
    // Any configured key works.
    let response = server
        .http
        .post(&url)
        .header(APP_KEY_HEADER, "other-app-key")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn plain_and_gzip_bodies_are_both_stored() {
    let server = TestServer::start().await;
    let plain = events(2);
    let gzipped = events(3);
    let upper = events(1);

    let body = serde_json::to_vec(&batch(plain.clone())).unwrap();
    let (status, answer) = json_answer(server.post_raw(body, None).await).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{answer}"
    );

    let body = serde_json::to_vec(&batch(marked(&gzipped))).unwrap();
    let (status, answer) = json_answer(server.post_raw(gzip(&body), Some("gzip")).await).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{answer}"
    );

    let body = serde_json::to_vec(&batch(upper.clone())).unwrap();
    let (status, answer) = json_answer(server.post_raw(gzip(&body), Some("GZip")).await).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{answer}"
    );

    let body = serde_json::to_vec(&batch(events(1))).unwrap();
    let (status, _) = json_answer(server.post_raw(body, Some("identity")).await).await;
    assert_eq!(status, StatusCode::OK);

    let stored = server.export_all().await;
    assert_eq!(stored.len(), 7);
    let expected: Vec<_> = plain
        .iter()
        .chain(&gzipped)
        .chain(&upper)
        .cloned()
        .collect();
    assert_eq!(
        ids(&stored[..6]),
        ids(&expected),
        "store order is upload order"
    );
}

/// Marks events with a property so a mix-up between bodies would show.
fn marked(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .cloned()
        .map(|mut e| {
            e["properties"]["marker"] = json!("gzip");
            e
        })
        .collect()
}

/// A valid batch padded with trailing whitespace (still valid JSON) to exactly `len` bytes.
fn padded_batch(len: usize) -> (Vec<u8>, usize) {
    let events = events(3);
    let mut body = serde_json::to_vec(&batch(events)).unwrap();
    assert!(body.len() < len);
    body.resize(len, b' ');
    (body, 3)
}

#[tokio::test]
async fn the_body_limit_applies_to_the_decompressed_body() {
    let server = TestServer::start().await;

    let (at_limit, n) = padded_batch(LIMIT);
    let (status, answer) = json_answer(server.post_raw(at_limit.clone(), None).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], n);
    let (status, answer) = json_answer(server.post_raw(gzip(&at_limit), Some("gzip")).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 0, "same events again");
    assert_eq!(answer["duplicates"], n);

    let (over, _) = padded_batch(LIMIT + 1);
    let response = server.post_raw(over.clone(), None).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = server.post_raw(gzip(&over), Some("gzip")).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // A declared length over the limit is refused before the body is read.
    let (big, _) = padded_batch(2 * LIMIT);
    let response = server.post_raw(big, None).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // A gzip bomb: a few KiB on the wire, 10 MiB once inflated.
    let (mut bomb, _) = padded_batch(LIMIT);
    bomb.resize(10 * 1024 * 1024, b' ');
    let bomb = gzip(&bomb);
    assert!(
        bomb.len() < 100 * 1024,
        "compressed bomb is {} bytes",
        bomb.len()
    );
    let response = server.post_raw(bomb, Some("gzip")).await;
    let message = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("decompression"), "{message}");

    assert_eq!(
        server.export_all().await.len(),
        n,
        "only the accepted batch is stored"
    );
}

#[tokio::test]
async fn malformed_batches_are_refused_whole() {
    let server = TestServer::start().await;
    let now = rfc3339(Utc::now());
    let one = events(1);
    let too_many = batch(events(MAX_BATCH_EVENTS + 1));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", Vec::new()),
        ("not JSON", b"hello".to_vec()),
        (
            "truncated",
            br#"{"sent_at":"2024-05-01T10:00:00Z","batch":["#.to_vec(),
        ),
        ("an array", b"[]".to_vec()),
        (
            "no sent_at",
            serde_json::to_vec(&json!({"batch": one})).unwrap(),
        ),
        (
            "bad sent_at",
            serde_json::to_vec(&json!({"sent_at": "yesterday", "batch": one})).unwrap(),
        ),
        (
            "numeric sent_at",
            serde_json::to_vec(&json!({"sent_at": 1714557600, "batch": one})).unwrap(),
        ),
        (
            "no batch",
            serde_json::to_vec(&json!({"sent_at": now})).unwrap(),
        ),
        (
            "batch is an object",
            serde_json::to_vec(&json!({"sent_at": now, "batch": {"a": 1}})).unwrap(),
        ),
        (
            "batch is null",
            serde_json::to_vec(&json!({"sent_at": now, "batch": null})).unwrap(),
        ),
        ("too many events", serde_json::to_vec(&too_many).unwrap()),
        (
            "trailing garbage",
            [
                serde_json::to_vec(&batch(events(1))).unwrap(),
                b"x".to_vec(),
            ]
            .concat(),
        ),
    ];
    for (what, body) in cases {
        let response = server.post_raw(body.clone(), None).await;
        let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(!message.is_empty(), "{what}");
        let response = server.post_raw(gzip(&body), Some("gzip")).await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    // Claims gzip but is not.
    let plain = serde_json::to_vec(&batch(events(1))).unwrap();
    let response = server.post_raw(plain.clone(), Some("gzip")).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    // A cut-off gzip stream.
    let compressed = gzip(&plain);
    let response = server
        .post_raw(compressed[..compressed.len() / 2].to_vec(), Some("gzip"))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    // Encodings other than gzip and identity.
    for encoding in ["br", "deflate", "gzip, gzip", "compress"] {
        let response = server.post_raw(plain.clone(), Some(encoding)).await;
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }

    assert!(
        server.export_all().await.is_empty(),
        "no refused batch stored anything"
    );
}

#[tokio::test]
async fn the_largest_allowed_batch_and_an_empty_one_are_accepted() {
    let server = TestServer::start().await;
    let (status, answer) = server.send(&batch(vec![])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"accepted": 0, "duplicates": 0, "rejected": []})
    );
    let (status, answer) = server.send(&batch(events(MAX_BATCH_EVENTS))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["accepted"], MAX_BATCH_EVENTS);
    assert_eq!(server.export_all().await.len(), MAX_BATCH_EVENTS);
}

#[tokio::test]
async fn invalid_events_are_rejected_one_by_one_and_the_rest_stored() {
    let server = TestServer::start().await;
    let good = events(3);
    let mut bad_id = event("Bad Id");
    bad_id["id"] = json!("not-a-uuid");
    let mut no_name = event("x");
    no_name.as_object_mut().unwrap().remove("name");
    let mut oversized = event("Oversized");
    oversized["properties"]["blob"] = json!("x".repeat(MAX_EVENT_BYTES));
    let mut numeric_id = event("Numeric Id");
    numeric_id["id"] = json!(42);
    let mut bad_time = event("Bad Time");
    bad_time["timestamp"] = json!("noon");
    let mut control = event("Control");
    control["user_id"] = json!("a\u{0}b");

    let batch_events = vec![
        good[0].clone(),
        bad_id,
        good[1].clone(),
        no_name.clone(),
        oversized.clone(),
        json!(42),
        good[2].clone(),
        numeric_id,
        bad_time.clone(),
        control.clone(),
    ];
    let (status, answer) = server.send(&batch(batch_events)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["duplicates"], 0);
    let rejected = answer["rejected"].as_array().unwrap();
    let summary: Vec<(u64, Value)> = rejected
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["id"].clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, json!("not-a-uuid")),
            (3, no_name["id"].clone()),
            (4, oversized["id"].clone()),
            (5, Value::Null),
            (7, Value::Null),
            (8, bad_time["id"].clone()),
            (9, control["id"].clone()),
        ]
    );
    let error = |i: usize| rejected[i]["error"].as_str().unwrap().to_string();
    assert!(error(0).starts_with("id:"), "{}", error(0));
    assert!(error(1).starts_with("name:"), "{}", error(1));
    assert!(error(2).contains("limit"), "{}", error(2));
    assert!(error(6).starts_with("user_id:"), "{}", error(6));

    let stored = server.export_all().await;
    assert_eq!(ids(&stored), ids(&good));
}

#[tokio::test]
async fn a_retried_batch_is_stored_once() {
    let server = TestServer::start().await;
    let sent = events(5);
    let (status, first) = server.send(&batch(sent.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(5), Some(0))
    );
    let (status, second) = server.send(&batch(sent.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (second["accepted"].as_u64(), second["duplicates"].as_u64()),
        (Some(0), Some(5))
    );

    // A partial overlap, a repeat inside one batch, and the same UUID in capitals.
    let fresh = event("Fresh");
    let mut shouted = sent[0].clone();
    shouted["id"] = json!(sent[0]["id"].as_str().unwrap().to_uppercase());
    let (_, third) = server
        .send(&batch(vec![
            sent[1].clone(),
            fresh.clone(),
            fresh.clone(),
            shouted,
        ]))
        .await;
    assert_eq!(
        (third["accepted"].as_u64(), third["duplicates"].as_u64()),
        (Some(1), Some(3))
    );

    let stored = server.export_all().await;
    let mut expected = ids(&sent);
    expected.push(fresh["id"].as_str().unwrap().to_string());
    assert_eq!(
        ids(&stored),
        expected,
        "each event exactly once, first copy kept"
    );

    // Dedup is durable, not an in-memory cache.
    let mut server = server;
    server.restart().await;
    let (_, after_restart) = server.send(&batch(sent)).await;
    assert_eq!(after_restart["duplicates"], 5);
    assert_eq!(server.export_all().await.len(), 6);
}

#[tokio::test]
async fn a_device_clock_one_hour_behind_is_corrected() {
    let server = TestServer::start().await;
    let before = Utc::now();
    let device_now = before - TimeDelta::hours(1);
    let happened = device_now - TimeDelta::minutes(5);
    let sent = event_at("Order Completed", happened);
    let (status, _) = server
        .send(&batch_sent_at(device_now, vec![sent.clone()]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = Utc::now();

    let stored = server.export_all().await;
    assert_eq!(stored.len(), 1);
    let line = &stored[0];
    let time = |field: &str| {
        line[field]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    };
    assert_eq!(line["original_timestamp"], sent["timestamp"]);
    assert_eq!(time("sent_at"), device_now.trunc_subsecs_millis());
    let received = time("received_at");
    assert!(before <= received && received <= after, "{line}");
    // Exactly five minutes before arrival on the server clock.
    assert_eq!(
        received - time("timestamp"),
        device_now.trunc_subsecs_millis() - happened.trunc_subsecs_millis()
    );
    let corrected = time("timestamp");
    assert!(corrected > before - TimeDelta::minutes(5) - TimeDelta::seconds(1));
    assert!(corrected < after - TimeDelta::minutes(5) + TimeDelta::seconds(1));
}

trait TruncMillis {
    fn trunc_subsecs_millis(self) -> Self;
}

impl TruncMillis for chrono::DateTime<Utc> {
    fn trunc_subsecs_millis(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 3)
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let server = TestServer::start().await;
    let response = server
        .http
        .get(server.endpoint(BATCH_PATH))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = server
        .http
        .get(server.endpoint("/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = server
        .http
        .get(server.endpoint("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}
