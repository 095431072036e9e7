//! Device membership reports (`Segment Entered` / `Segment Exited` uploaded through
//! `POST /v1/batch`) and the device side of `/size` and `/members`.

mod common;

use beckon::protocol::{SEGMENT_ENTERED, SEGMENT_EXITED};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn report(entered: bool, segment_id: &str, user_id: Option<&str>, at: DateTime<Utc>) -> Value {
    let name = if entered {
        SEGMENT_ENTERED
    } else {
        SEGMENT_EXITED
    };
    let mut event = event_at(name, at);
    event["properties"] = json!({"segment_id": segment_id});
    event["anonymous_id"] = json!("anon-device");
    event["user_id"] = user_id.map_or(Value::Null, |id| json!(id));
    event
}

async fn device_members(server: &TestServer, segment: &str) -> Vec<String> {
    let (status, body) = server
        .admin_get(&format!("{SEGMENTS}/{segment}/members?source=device"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"], "device");
    serde_json::from_value(body["members"].clone()).unwrap()
}

async fn upload(server: &TestServer, batch: Value) -> Value {
    let (status, answer) = server.send(&batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rejected"], json!([]));
    answer
}

#[tokio::test]
async fn the_latest_report_by_event_time_decides_and_duplicates_are_not_applied_again() {
    let mut server = TestServer::start().await;
    server.create(SEGMENTS, &buyer_segment("vip", 1)).await;
    let now = Utc::now();
    let hours_ago = |h: i64| now - TimeDelta::hours(h);
    assert!(device_members(&server, "vip").await.is_empty());

    let entry = report(true, "vip", Some("user-1"), hours_ago(3));
    upload(
        &server,
        batch(vec![
            entry.clone(),
            report(true, "vip", Some("user-2"), hours_ago(3)),
            report(true, "vip", None, hours_ago(3)),
            event_at("Product Viewed", hours_ago(3)),
        ]),
    )
    .await;
    assert_eq!(
        device_members(&server, "vip").await,
        ["anon-device", "user-1", "user-2"],
        "keyed by user id, else anonymous id"
    );

    upload(
        &server,
        batch(vec![report(false, "vip", Some("user-1"), hours_ago(1))]),
    )
    .await;
    assert_eq!(
        device_members(&server, "vip").await,
        ["anon-device", "user-2"]
    );

    // The entry again, as a retry would send it, in a batch whose sent_at would place
    // it after the exit: it is a duplicate, and its report must not count again.
    let retried = batch_sent_at(hours_ago(5), vec![entry]);
    let answer = upload(&server, retried).await;
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        device_members(&server, "vip").await,
        ["anon-device", "user-2"]
    );

    // A report that arrives late but happened earlier does not override a newer one.
    upload(
        &server,
        batch(vec![report(false, "vip", Some("user-2"), hours_ago(4))]),
    )
    .await;
    assert_eq!(
        device_members(&server, "vip").await,
        ["anon-device", "user-2"]
    );

    // Within one batch the later event wins, whatever the order they are listed in.
    upload(
        &server,
        batch(vec![
            report(true, "vip", Some("user-3"), hours_ago(1)),
            report(false, "vip", Some("user-3"), hours_ago(2)),
            report(false, "vip", None, hours_ago(1)),
        ]),
    )
    .await;
    assert_eq!(device_members(&server, "vip").await, ["user-2", "user-3"]);

    server.restart().await;
    assert_eq!(device_members(&server, "vip").await, ["user-2", "user-3"]);
    let (status, size) = server.admin_get(&format!("{SEGMENTS}/vip/size")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(size["device_members"], 2);
    assert_eq!(size["server_members"], 0, "nobody ordered");
}

#[tokio::test]
async fn malformed_reports_are_stored_as_events_without_changing_memberships() {
    let server = TestServer::start().await;
    server.create(SEGMENTS, &buyer_segment("vip", 1)).await;
    let now = Utc::now();
    let mut no_segment = report(true, "vip", Some("user-1"), now);
    no_segment["properties"] = json!({});
    let mut numeric = report(true, "vip", Some("user-1"), now);
    numeric["properties"] = json!({"segment_id": 7});
    let other_segment = report(true, "someone_else", Some("user-1"), now);
    let answer = upload(&server, batch(vec![no_segment, numeric, other_segment])).await;
    assert_eq!(answer["accepted"], 3);
    assert!(device_members(&server, "vip").await.is_empty());
    assert_eq!(server.export_all().await.len(), 3);
}

#[tokio::test]
async fn concurrent_uploads_still_follow_event_time() {
    // Concurrent uploads are committed together by the writer, in whatever order they
    // arrive; each user's reports are spread over all of them.
    let server = TestServer::start().await;
    server.create(SEGMENTS, &buyer_segment("vip", 1)).await;
    let now = Utc::now();
    let users: Vec<String> = (0..20).map(|u| format!("user-{u:02}")).collect();
    let batches: Vec<Value> = (0..10)
        .map(|i| {
            let at = now - TimeDelta::minutes(60 - i);
            let reports = users.iter().enumerate().map(|(u, user)| {
                // The newest report is an entry for odd users only.
                let entered = if i == 9 { u % 2 == 1 } else { i % 2 == 0 };
                report(entered, "vip", Some(user), at)
            });
            batch(
                reports
                    .chain((0..30).map(|n| event(&format!("Filler {n}"))))
                    .collect(),
            )
        })
        .rev()
        .collect();
    let answers = upload_concurrently(&server, batches).await;
    assert!(answers.iter().all(|a| a["accepted"] == 50), "{answers:?}");
    let odd: Vec<&String> = users.iter().skip(1).step_by(2).collect();
    assert_eq!(
        device_members(&server, "vip")
            .await
            .iter()
            .collect::<Vec<_>>(),
        odd
    );
}

async fn upload_concurrently(server: &TestServer, batches: Vec<Value>) -> Vec<Value> {
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches {
        let http = server.http.clone();
        let url = server.endpoint(beckon::protocol::BATCH_PATH);
        tasks.spawn(async move {
            let response = http
                .post(url)
                .header(beckon::protocol::APP_KEY_HEADER, APP_KEY)
                .json(&batch)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}
