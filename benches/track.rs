//! `track` latency and queue throughput, each beside its baseline in the same run:
//! a raw prepared-statement SQLite insert of the same payload, into the same kind of
//! table, with the store's durability (WAL, synchronous=NORMAL, autocommit, the file held
//! by one process: exclusive locking mode here, the `unix-excl` VFS in the store, which
//! cost the same). It is plain SQLite: its WAL frames are two writes each, the store's
//! one, and it checkpoints on the committing thread, the store never.
//!
//! Run: `cargo bench --bench track`. Besides criterion's estimates it prints p50/p99
//! latencies measured over individual calls, and the ratios.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use beckon::client::Client;
use beckon::events::{Event, JsonValue, Product};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rusqlite::Connection;

#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_config;

fn product_viewed() -> Event {
    Event::ProductViewed {
        product: Product {
            product_id: "sku-42".into(),
            name: Some("Trail running shoe".into()),
            category: Some("Shoes".into()),
            brand: Some("Peak".into()),
            price: Some(89.9),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        properties: HashMap::from([(
            "source".to_string(),
            JsonValue::Text {
                value: "search".into(),
            },
        )]),
    }
}

/// A client that never uploads during the run, with room for every event.
fn quiet_client(dir: &std::path::Path) -> Client {
    Client::new(quiet_config(dir, "http://127.0.0.1:9", "bench-key", 500)).unwrap()
}

/// The baseline: what SQLite alone costs for one durable row of the same size.
fn raw_insert_connection(dir: &std::path::Path) -> Connection {
    let conn = Connection::open(dir.join("raw.db")).unwrap();
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, payload BLOB NOT NULL);",
    )
    .unwrap();
    conn
}

fn payload_len(dir: &std::path::Path) -> usize {
    let client = quiet_client(&dir.join("probe"));
    client.track(&product_viewed()).unwrap();
    let stats = client.stats().unwrap();
    stats.queued_bytes as usize
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn time_each(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let samples = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

/// p50/p99 over single calls, interleaving the two so both see the same machine state.
fn latency_report() {
    let dir = tempfile::tempdir().unwrap();
    let payload = vec![b'x'; payload_len(dir.path())];
    let client = quiet_client(&dir.path().join("sdk"));
    let conn = raw_insert_connection(dir.path());
    let mut insert = conn
        .prepare("INSERT INTO events(created_at, payload) VALUES (?1, ?2)")
        .unwrap();
    let event = product_viewed();
    let mut raw = Vec::new();
    let mut track = Vec::new();
    for round in 0..10 {
        let (r50, r99) = time_each(2_000, || {
            insert.execute(rusqlite::params![1_i64, &payload]).unwrap();
        });
        let (t50, t99) = time_each(2_000, || client.track(&event).unwrap());
        if round > 0 {
            raw.push((r50, r99));
            track.push((t50, t99));
        }
    }
    let median = |v: &[(Duration, Duration)], i: usize| {
        let mut xs: Vec<Duration> = v.iter().map(|p| if i == 0 { p.0 } else { p.1 }).collect();
        xs.sort();
        xs[xs.len() / 2]
    };
    let (r50, r99, t50, t99) = (
        median(&raw, 0),
        median(&raw, 1),
        median(&track, 0),
        median(&track, 1),
    );
    println!("payload: {} bytes", payload.len());
    println!("raw SQLite insert: p50 {:>8.2?}  p99 {:>8.2?}", r50, r99);
    println!("Client::track:     p50 {:>8.2?}  p99 {:>8.2?}", t50, t99);
    println!(
        "ratio track/raw:   p50 {:.2}×  p99 {:.2}×",
        t50.as_secs_f64() / r50.as_secs_f64(),
        t99.as_secs_f64() / r99.as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    latency_report();
    let dir = tempfile::tempdir().unwrap();
    let payload = vec![b'x'; payload_len(dir.path())];
    let event = product_viewed();

    let mut group = c.benchmark_group("enqueue");
    group.throughput(Throughput::Elements(1));
    let conn = raw_insert_connection(dir.path());
    let mut insert = conn
        .prepare("INSERT INTO events(created_at, payload) VALUES (?1, ?2)")
        .unwrap();
    group.bench_function("raw_sqlite_insert", |b| {
        b.iter(|| insert.execute(rusqlite::params![1_i64, &payload]).unwrap())
    });
    let client = quiet_client(&dir.path().join("sdk"));
    group.bench_function("client_track", |b| b.iter(|| client.track(&event).unwrap()));
    group.bench_function("encode_only", |b| b.iter(|| event.encode().unwrap()));
    group.finish();

    let mut group = c.benchmark_group("validation_rejects");
    let bad = Event::ProductViewed {
        product: Product {
            product_id: String::new(),
            ..Default::default()
        },
        properties: HashMap::new(),
    };
    group.bench_function("invalid_event", |b| {
        b.iter_batched(
            || bad.clone(),
            |e| client.track(&e).unwrap_err(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = track;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(track);
