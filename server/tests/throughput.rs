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
    let rate = upload_rate(&server, bodies).await;
    assert_eq!(server.export_all().await.len(), BATCHES * PER_BATCH);
    if !cfg!(debug_assertions) {
        assert!(rate >= TARGET_EVENTS_PER_SECOND, "{rate:.0} events/s");
    }
}

/// The same uploads with verified identities required, beside the same uploads without,
/// in one run: every batch carries an RS256 JWT (the costliest check) for its user.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run in release with --ignored"]
async fn verifying_identities_keeps_at_least_half_the_upload_rate() {
    const USERS: usize = 50;
    let tokens: Vec<String> = (0..USERS)
        .map(|u| rs256_token(&format!("user-{u}")))
        .collect();
    let bodies = |with_tokens: bool| -> Vec<Vec<u8>> {
        (0..BATCHES)
            .map(|b| {
                let user = format!("user-{}", b % USERS);
                let anonymous_id = uuid::Uuid::new_v4().to_string();
                let events: Vec<serde_json::Value> = events(PER_BATCH)
                    .into_iter()
                    .map(|mut e| {
                        e["user_id"] = serde_json::json!(user);
                        e["anonymous_id"] = serde_json::json!(anonymous_id);
                        e
                    })
                    .collect();
                let mut body = batch(events);
                if with_tokens {
                    body["identity_tokens"] = serde_json::json!({ &user: tokens[b % USERS] });
                }
                gzip(&serde_json::to_vec(&body).unwrap())
            })
            .collect()
    };
    let plain = TestServer::start().await;
    let verifying = TestServer::start_configured(false, |config| {
        config.identity.jwt_keys = vec![beckon_server::delivery::KeySource::Inline(
            include_str!("fixtures/identity/rs256-public.pem").into(),
        )];
        config
            .identity
            .set_enforcement(&["required".into()])
            .unwrap();
    })
    .await;
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..3 {
        rates.0.push(upload_rate(&plain, bodies(false)).await);
        rates.1.push(upload_rate(&verifying, bodies(true)).await);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (plain_rate, verifying_rate) = (median(&mut rates.0), median(&mut rates.1));
    let ratio = verifying_rate / plain_rate;
    println!(
        "without verification {plain_rate:.0} events/s, with RS256 identity tokens \
         {verifying_rate:.0} events/s: {ratio:.2}x"
    );
    assert_eq!(verifying.export_all().await.len(), 3 * BATCHES * PER_BATCH);
    if !cfg!(debug_assertions) {
        assert!(ratio >= 0.5, "{ratio:.2}x");
    }
}

fn rs256_token(user_id: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!(
        "fixtures/identity/rs256-private.pem"
    ))
    .unwrap();
    let claims = serde_json::json!({
        "sub": user_id,
        "exp": (chrono::Utc::now() + chrono::TimeDelta::hours(1)).timestamp(),
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

/// Uploads the bodies over [`CONNECTIONS`] connections; events per second.
async fn upload_rate(server: &TestServer, bodies: Vec<Vec<u8>>) -> f64 {
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
    rate
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
