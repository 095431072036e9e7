//! End-to-end upload throughput: events queued by the SDK, uploaded in gzip batches to
//! a real `beckon-server` on loopback, until `flush()` reports them delivered. The
//! baseline in the same run posts the same events, pre-assembled into the same gzip
//! batches, straight to the same server: what HTTP and the server cost without the SDK.
//!
//! Also the assembly of one full batch on the upload thread: splicing the stored
//! payloads, beside finding the batch's user ids in them (for their identity tokens)
//! and compressing.
//!
//! Run: `cargo bench --bench upload`.

use std::time::{Duration, Instant};

// Only `shoe` is needed here. The library compiles the same file for its own unit
// tests, which clippy sees as a second load.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../tests/common/samples.rs"]
mod samples;
use samples::shoe;

use beckon::client::{Client, ClientError};
use beckon::events::{Event, Properties};
use beckon::protocol::{APP_KEY_HEADER, BATCH_PATH, MAX_BATCH_EVENTS};
use beckon::store::{QueueLimits, QueuedEvent, Store};
use beckon::upload::{assemble_batch, batch_tokens, batch_user_ids, gzip, FlushOutcome};
use beckon_server::RateLimits;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{TestServer, APP_KEY};
#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_config;

const EVENTS: usize = 10_000;

fn event() -> Event {
    Event::ProductViewed {
        product: shoe(),
        properties: Properties::new(),
    }
}

fn client(dir: &std::path::Path, url: &str) -> Client {
    Client::new(quiet_config(dir, url, APP_KEY, 1_000_000)).unwrap()
}

/// `count` events exactly as the SDK queues them, by a signed-in user when `user_id`.
fn queued_events(
    sdk_dir: &std::path::Path,
    url: &str,
    count: usize,
    user_id: Option<&str>,
) -> Vec<QueuedEvent> {
    {
        let client = client(sdk_dir, url);
        if let Some(user_id) = user_id {
            client.identify(user_id, &Properties::new(), None).unwrap();
        }
        for _ in 0..count {
            client.track(&event()).unwrap();
        }
    }
    let (mut store, _) = Store::open(sdk_dir, QueueLimits::default()).unwrap();
    store.peek_batch(usize::MAX, usize::MAX).unwrap()
}

/// Batches exactly as the SDK would send them, built once, outside the timing.
fn prebuilt_batches(dir: &std::path::Path, url: &str) -> Vec<Vec<u8>> {
    queued_events(&dir.join("prebuilt"), url, EVENTS, None)
        .chunks(MAX_BATCH_EVENTS)
        .map(|chunk| {
            gzip(&assemble_batch(
                chrono::Utc::now(),
                &Default::default(),
                chunk,
            ))
        })
        .collect()
}

/// One full batch of a signed-in user's events: splicing it, finding its user ids,
/// and compressing it, each on its own.
fn assembly(c: &mut Criterion, dir: &std::path::Path, url: &str) {
    let events = queued_events(
        &dir.join("assembly"),
        url,
        MAX_BATCH_EVENTS - 1,
        Some("shopper-1"),
    );
    let tokens = std::collections::BTreeMap::from([("shopper-1".to_string(), "a".repeat(64))]);
    let mut group = c.benchmark_group("assembly");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("splice_batch", |b| {
        b.iter(|| assemble_batch(chrono::Utc::now(), &tokens, &events))
    });
    group.bench_function("batch_user_ids", |b| {
        b.iter(|| {
            let users = batch_user_ids(&events);
            assert_eq!(users.len(), 1);
            users
        })
    });
    group.bench_function("batch_tokens_none_stored", |b| {
        b.iter(|| batch_tokens(Default::default(), &events))
    });
    let body = assemble_batch(chrono::Utc::now(), &tokens, &events);
    group.bench_function("gzip", |b| b.iter(|| gzip(&body)));
    group.finish();
}

fn with_fresh_ids(batch: &[u8]) -> Vec<u8> {
    // Each round must be new to the server, or it would only count duplicates; the ids
    // are time-ordered like the SDK's own.
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(batch), &mut text).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&text).unwrap();
    for event in value["batch"].as_array_mut().unwrap() {
        event["id"] = uuid::Uuid::now_v7().to_string().into();
    }
    gzip(&serde_json::to_vec(&value).unwrap())
}

fn benches(c: &mut Criterion) {
    // One client on loopback sends far more than any device would: the benchmark
    // measures the upload path, not the rate limits.
    let server = TestServer::start_with(|config| config.rates = RateLimits::off());
    let runtime = &server.runtime;
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let batches = prebuilt_batches(dir.path(), &url);
    assembly(c, dir.path(), &url);

    let mut group = c.benchmark_group("upload");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    let http = reqwest::Client::new();
    group.bench_function("baseline_prebuilt_batches", |b| {
        b.iter_custom(|rounds| {
            let mut total = Duration::ZERO;
            for _ in 0..rounds {
                let bodies: Vec<Vec<u8>> = batches.iter().map(|b| with_fresh_ids(b)).collect();
                let start = Instant::now();
                runtime.block_on(async {
                    for body in bodies {
                        let response = http
                            .post(format!("{url}{BATCH_PATH}"))
                            .header(APP_KEY_HEADER, APP_KEY)
                            .header("content-encoding", "gzip")
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .unwrap();
                        assert!(response.status().is_success());
                        response.bytes().await.unwrap();
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });

    group.bench_function("sdk_flush", |b| {
        b.iter_custom(|rounds| {
            let mut total = Duration::ZERO;
            for round in 0..rounds {
                let client = client(
                    &dir.path()
                        .join(format!("sdk-{round}-{}", fastrand::u64(..))),
                    &url,
                );
                for _ in 0..EVENTS {
                    client.track(&event()).unwrap();
                }
                // The views make the shopper an almost-buyer: that report goes too, once
                // the engagement thread has caught up with the burst.
                while let Err(ClientError::Busy(_)) = client.segments() {}
                let queued = client.stats().unwrap().queued_events;
                assert!(queued >= EVENTS as u64);
                let start = Instant::now();
                let report = client.flush(Duration::from_secs(120)).unwrap();
                total += start.elapsed();
                assert_eq!(
                    (report.outcome, report.uploaded),
                    (FlushOutcome::Delivered, queued)
                );
            }
            total
        })
    });
    group.finish();
}

criterion_group!(upload, benches);
criterion_main!(upload);
