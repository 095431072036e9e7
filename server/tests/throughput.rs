//! Upload throughput through the full HTTP path (gzip, parse, validate, SQLite), and
//! the time server-side segment evaluation takes over the stored events.
//!
//! Ignored by default: they only mean something in an optimised build. Run with
//! `cargo test -p beckon-server --release --test throughput -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::{batch, events, gzip, TestServer};
use reqwest::StatusCode;

const BATCHES: usize = 200;
const PER_BATCH: usize = 500;
const CONNECTIONS: usize = 8;
const TARGET_EVENTS_PER_SECOND: f64 = 20_000.0;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run in release with --ignored"]
async fn uploads_at_least_20k_events_per_second() {
    let server = TestServer::start().await;
    // Bodies are compressed up front so the client's gzip is not part of the measurement.
    let bodies: Vec<Vec<u8>> = (0..BATCHES)
        .map(|_| gzip(&serde_json::to_vec(&batch(events(PER_BATCH))).unwrap()))
        .collect();
    let mut chunks: Vec<Vec<Vec<u8>>> = vec![Vec::new(); CONNECTIONS];
    for (i, body) in bodies.into_iter().enumerate() {
        chunks[i % CONNECTIONS].push(body);
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let http = server.http.clone();
        let url = server.endpoint(beckon::protocol::BATCH_PATH);
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let response = http
                    .post(&url)
                    .header(beckon::protocol::APP_KEY_HEADER, common::APP_KEY)
                    .header("content-encoding", "gzip")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let rate = (BATCHES * PER_BATCH) as f64 / elapsed.as_secs_f64();
    println!(
        "uploaded {} events in {elapsed:?}: {rate:.0} events/s",
        BATCHES * PER_BATCH
    );

    assert_eq!(server.export_all().await.len(), BATCHES * PER_BATCH);
    if !cfg!(debug_assertions) {
        assert!(rate >= TARGET_EVENTS_PER_SECOND, "{rate:.0} events/s");
    }
}

const EVALUATED_USERS: usize = 5_000;
const EVENTS_PER_USER: usize = 10;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run in release with --ignored"]
async fn evaluates_a_segment_over_50k_events_in_one_pass() {
    let server = TestServer::start().await;
    let names = ["Product Viewed", "Product Added", "Order Completed"];
    let all: Vec<serde_json::Value> = (0..EVALUATED_USERS * EVENTS_PER_USER)
        .map(|i| {
            let mut event = common::event(names[i % names.len()]);
            event["user_id"] = serde_json::json!(format!("user-{}", i % EVALUATED_USERS));
            // Every user gets three or four orders: 600 or more, a high spender.
            event["properties"]["revenue"] = serde_json::json!(200);
            event
        })
        .collect();
    for chunk in all.chunks(500) {
        let (status, _) = server.send(&batch(chunk.to_vec())).await;
        assert_eq!(status, StatusCode::OK);
    }
    for definition in beckon::segments::templates::builtin() {
        server
            .create(common::SEGMENTS, &definition.to_value())
            .await;
    }

    let started = Instant::now();
    let (status, size) = server
        .admin_get(&format!("{}/high_spender/size", common::SEGMENTS))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{size}");
    assert_eq!(size["server_members"], EVALUATED_USERS);
    println!(
        "evaluated {} events of {EVALUATED_USERS} users in {elapsed:?}",
        all.len()
    );
}
