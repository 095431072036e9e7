//! What a phone pays after `track` returns, as the shopper's history grows. For a
//! shopper whose stored history holds 1k, 10k, 50k and 100k events (seeded through the
//! store, spread over 170 days), with an in-app campaign triggered by every product
//! view (rendered with the behaviour values templates read: last product viewed,
//! favourite category, cart), it prints:
//!
//! * the engagement thread's CPU time per event (moving the event from the append log
//!   into the queue's table, history row, segment updates, trigger matching, behaviour
//!   values, selection and rendering), read from the thread's own scheduler
//!   statistics, and the upload thread's (the WAL's checkpoints), beside the
//!   caller-side `track` latency of the same events in the same run;
//! * the start after that session (10,000 events still queued): `Client::new`, and the
//!   first answer from the engagement thread, beside a raw SQLite open of the same file;
//! * the database's size on disk.
//!
//! Run: `cargo bench --bench engagement` (Linux: it reads `/proc/self/task`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon::client::{BeckonConfig, Client, InAppMessage, InAppMessageListener};
use beckon::events::{Event, Product, Properties};
use beckon::store::{QueueLimits, Store, DATABASE_FILE};
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

#[path = "../tests/common/mod.rs"]
mod common;
use common::TestServer;
#[path = "common/shopper.rs"]
mod shopper;
use shopper::{stored_event, CATEGORIES};
#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_config;

const SIZES: [usize; 4] = [1_000, 10_000, 50_000, 100_000];
/// Events tracked and measured per size; they stay queued for the start measured after.
const TRACKED: usize = 10_000;
const WARM_UP: usize = 500;

/// Counts the messages the campaign produced, and declines them so each view is
/// selected and rendered again (no gap, no cap).
#[derive(Default)]
struct Screen {
    offered: AtomicU64,
}

impl InAppMessageListener for Screen {
    fn on_message(&self, message: InAppMessage) -> bool {
        assert!(!message.title.is_empty());
        self.offered.fetch_add(1, Ordering::Relaxed);
        false
    }
}

fn campaign() -> Value {
    json!({
        "schema_version": 1,
        "id": "viewed-nudge",
        "name": "Seen something you like",
        "status": "active",
        "priority": 1,
        "trigger": {"event": "Product Viewed"},
        "default_locale": "en",
        "variants": {"en": {
            "title": "Still thinking about {{last_viewed_product | it}}?",
            "body": "More {{favourite_category | finds}} for you; in your cart: {{cart_items | nothing yet}}"
        }}
    })
}

fn viewed(i: usize) -> Event {
    Event::ProductViewed {
        product: Product {
            product_id: format!("sku-{}", i % 500),
            name: Some(format!("Product {}", i % 500)),
            category: Some(CATEGORIES[i % CATEGORIES.len()].into()),
            price: Some(10.0 + (i % 90) as f64),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        properties: Properties::new(),
    }
}

/// `stored` events over the last 170 days, written straight into the history.
fn seed(dir: &Path, stored: usize) {
    let (mut store, _) = Store::open(dir, QueueLimits::default()).unwrap();
    let anonymous_id = store.identity().anonymous_id.clone();
    let now = Utc::now();
    let span = TimeDelta::days(170).num_seconds();
    let payloads: Vec<(i64, Vec<u8>)> = (0..stored)
        .map(|i| {
            let at = now - TimeDelta::seconds(span - span * i as i64 / stored as i64);
            let event = stored_event(i, &anonymous_id, at);
            (at.timestamp_millis(), serde_json::to_vec(&event).unwrap())
        })
        .collect();
    for chunk in payloads.chunks(5_000) {
        store
            .append_history(chunk.iter().map(|(at, p)| (*at, p.as_slice())))
            .unwrap();
    }
    store.close().unwrap();
}

/// Nothing is uploaded during the run: the events stay queued for the restart.
fn config(dir: &Path, server_url: &str) -> BeckonConfig {
    quiet_config(dir, server_url, common::APP_KEY, 1_000_000)
}

/// CPU time the named thread of this process has used (Linux scheduler statistics).
fn thread_cpu(name: &str) -> Duration {
    // The kernel keeps the first 15 bytes of a thread's name.
    let name = &name[..name.len().min(15)];
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap();
            let ns: u64 = stat.split_whitespace().next().unwrap().parse().unwrap();
            return Duration::from_nanos(ns);
        }
    }
    panic!("no thread named {name}")
}

/// Waits until the engagement thread has handled everything sent before: its answer
/// comes after them (a backlog longer than the call's timeout answers `Busy`).
fn settled(client: &Client) {
    loop {
        match client.segments() {
            Ok(_) => return,
            Err(beckon::client::ClientError::Busy(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Row {
    stored: usize,
    track_p50: Duration,
    track_p99: Duration,
    background: Duration,
    /// The upload thread's CPU time per event over the same events: the checkpoints of
    /// the WAL their commits grew (nothing is uploaded during the run).
    upload: Duration,
    new_p50: Duration,
    first_answer_p50: Duration,
    raw_open_p50: Duration,
    bytes: u64,
}

fn measure(server: &TestServer, stored: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), stored);
    let client = Client::new(config(dir.path(), &server.url)).unwrap();
    client.sync(Duration::from_secs(30)).unwrap();
    let screen = Arc::new(Screen::default());
    client.set_in_app_listener(Some(screen.clone())).unwrap();
    for i in 0..WARM_UP {
        client.track(&viewed(i)).unwrap();
    }
    // Waits for the engagement thread to be done with everything sent before.
    settled(&client);

    let cpu_before = thread_cpu("beckon-engagement");
    let upload_before = thread_cpu("beckon-upload");
    let mut caller = Vec::with_capacity(TRACKED);
    for i in 0..TRACKED {
        let start = Instant::now();
        client.track(&viewed(i)).unwrap();
        caller.push(start.elapsed());
    }
    settled(&client);
    let background = (thread_cpu("beckon-engagement") - cpu_before) / TRACKED as u32;
    // The checkpointer copies once the store's commits paused for `IDLE`.
    std::thread::sleep(beckon::store::IDLE * 5);
    let upload = (thread_cpu("beckon-upload") - upload_before) / TRACKED as u32;
    assert_eq!(
        screen.offered.load(Ordering::Relaxed),
        (WARM_UP + TRACKED) as u64,
        "every view fired the campaign"
    );
    client.shutdown();
    drop(client);

    // The next start: 10,000 events queued, the history and the saved aggregates.
    let (new_p50, first_answer_p50, raw_open_p50) = starts(dir.path(), &server.url);
    let bytes = ["", "-wal"]
        .iter()
        .map(|suffix| {
            std::fs::metadata(dir.path().join(format!("{DATABASE_FILE}{suffix}")))
                .map_or(0, |m| m.len())
        })
        .sum();
    Row {
        stored,
        track_p50: percentile(&mut caller, 50),
        track_p99: percentile(&mut caller, 99),
        background,
        upload,
        new_p50,
        first_answer_p50,
        raw_open_p50,
        bytes,
    }
}

/// Medians over a few starts of `Client::new`, of the time from calling it to the
/// engagement thread's first answer, and of a raw SQLite open of the same file with
/// the store's pragmas and one read.
fn starts(dir: &Path, server_url: &str) -> (Duration, Duration, Duration) {
    let (mut new, mut answer, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        let start = Instant::now();
        let conn = rusqlite::Connection::open(dir.join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        let _: i64 = conn
            .query_row("SELECT count(*) FROM memberships", [], |r| r.get(0))
            .unwrap();
        raw.push(start.elapsed());
        drop(conn);

        let start = Instant::now();
        let client = Client::new(config(dir, server_url)).unwrap();
        new.push(start.elapsed());
        settled(&client);
        answer.push(start.elapsed());
        client.shutdown();
    }
    (
        percentile(&mut new, 50),
        percentile(&mut answer, 50),
        percentile(&mut raw, 50),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // Built and run as a test (`cargo test --benches`): the measurement is long
        // and belongs to `cargo bench`.
        return;
    }
    let server = TestServer::start();
    let (status, body) = server.admin_post("/v1/admin/campaigns", &campaign());
    assert_eq!(status, 201, "{body}");
    // `BECKON_BENCH_SIZES=1000,100000` measures only those sizes.
    let sizes: Vec<usize> = match std::env::var("BECKON_BENCH_SIZES") {
        Ok(list) => list.split(',').map(|n| n.trim().parse().unwrap()).collect(),
        Err(_) => SIZES.to_vec(),
    };
    let rows: Vec<Row> = sizes.iter().map(|&n| measure(&server, n)).collect();
    let base = rows[0].background.as_secs_f64();
    println!(
        "engagement per event, {TRACKED} product views per size, each firing an in-app campaign:"
    );
    println!(
        "  {:>8} | {:>10} {:>10} | {:>13} {:>6} {:>9} | {:>9} {:>12} {:>9} | {:>8}",
        "stored",
        "track p50",
        "track p99",
        "background/ev",
        "vs 1k",
        "upload/ev",
        "new p50",
        "1st answer",
        "raw open",
        "db MiB"
    );
    for row in &rows {
        println!(
            "  {:>8} | {:>8.2}µs {:>8.2}µs | {:>11.2}µs {:>5.2}x {:>7.2}µs | {:>7.2}ms {:>10.2}ms {:>7.2}ms | {:>8.1}",
            row.stored,
            micros(row.track_p50),
            micros(row.track_p99),
            micros(row.background),
            row.background.as_secs_f64() / base,
            micros(row.upload),
            millis(row.new_p50),
            millis(row.first_answer_p50),
            millis(row.raw_open_p50),
            row.bytes as f64 / (1024.0 * 1024.0),
        );
    }
}
