//! `Client::new` on a device with a backlog, beside what SQLite alone costs to open the
//! same file in the same run.
//!
//! The store is seeded once through SQL: 10,000 queued events (the queue's default
//! limit) and a history of 100,000 (the last 10,000 of them the queued ones), spread
//! over 70 days, as `Product Viewed` events of the device's own anonymous user. Each
//! sample starts from a fresh copy of that file (the copy is not timed), so every
//! `Client::new` sees the full backlog. Samples alternate between:
//! - the baseline: `rusqlite::Connection` opened on the copy with the store's VFS and
//!   pragmas, and one read;
//! - `Client::new` on the copy: what an app's start waits for.
//!
//! Also printed, for reference, from the same samples: how long the first `track`
//! after `Client::new` takes, and when the engagement thread has loaded the history
//! (`segments()` answers), both of which happen after the constructor returned.
//!
//! Run: `cargo bench --bench start` (`BECKON_BENCH_SAMPLES` changes the 25 samples).

use std::path::Path;
use std::time::{Duration, Instant};

use beckon::client::{BeckonConfig, Client};
use beckon::events::{Event, Product};
use beckon::store::{QueueLimits, Store, DATABASE_FILE};
use chrono::{TimeDelta, Utc};
use rusqlite::{params, Connection, OpenFlags};

const QUEUED: usize = 10_000;
const HISTORY: usize = 100_000;

fn main() {
    let samples: usize = std::env::var("BECKON_BENCH_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(25);
    let seeded = tempfile::tempdir().unwrap();
    let started = Instant::now();
    seed(seeded.path());
    let size = std::fs::metadata(seeded.path().join(DATABASE_FILE))
        .unwrap()
        .len();
    println!(
        "seeded {QUEUED} queued events and a {HISTORY}-event history ({:.1} MB) in {:.1?}",
        size as f64 / 1e6,
        started.elapsed()
    );

    let mut raw = Vec::new();
    let mut new = Vec::new();
    let mut first_track = Vec::new();
    let mut engagement_ready = Vec::new();
    for i in 0..samples {
        for side in [i % 2, 1 - i % 2] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::copy(
                seeded.path().join(DATABASE_FILE),
                dir.path().join(DATABASE_FILE),
            )
            .unwrap();
            if side == 0 {
                let start = Instant::now();
                let conn = raw_open(&dir.path().join(DATABASE_FILE));
                let _: i64 = conn
                    .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                    .unwrap();
                raw.push(start.elapsed());
            } else {
                let start = Instant::now();
                let client = Client::new(config(dir.path())).unwrap();
                new.push(start.elapsed());
                let start = Instant::now();
                client.track(&event()).unwrap();
                first_track.push(start.elapsed());
                client.segments().unwrap();
                engagement_ready.push(start.elapsed());
                client.shutdown();
            }
        }
    }
    let (raw, new) = (p50(raw), p50(new));
    println!("{samples} samples each, p50:");
    println!("raw SQLite open + pragmas:       {raw:>10.2?}");
    println!("Client::new:                     {new:>10.2?}");
    println!(
        "ratio Client::new / raw open:    {:>9.1}×",
        new.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "after it, first track:           {:>10.2?}",
        p50(first_track)
    );
    println!(
        "after it, history loaded:        {:>10.2?}",
        p50(engagement_ready)
    );
}

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn config(dir: &Path) -> BeckonConfig {
    BeckonConfig::new(dir.to_str().unwrap(), "http://127.0.0.1:9", "bench-key")
}

fn event() -> Event {
    Event::ProductViewed {
        product: Product {
            product_id: "sku-42".into(),
            price: Some(89.9),
            ..Default::default()
        },
        properties: Default::default(),
    }
}

/// What SQLite alone costs to open the store's file as the store opens it.
fn raw_open(path: &Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags_and_vfs(path, flags, c"unix-excl").unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn
}

/// The queue and the history a device would have after months of use with the
/// network down for the last week.
fn seed(dir: &Path) {
    let (store, _) = Store::open(dir, QueueLimits::default()).unwrap();
    let anonymous_id = store.identity().anonymous_id.clone();
    drop(store);
    let mut conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut history = tx
            .prepare("INSERT INTO history(at, event) VALUES (?1, ?2)")
            .unwrap();
        let mut queue = tx
            .prepare("INSERT INTO events(seq, created_at, payload) VALUES (?1, ?2, ?3)")
            .unwrap();
        let now = Utc::now();
        for i in 0..HISTORY {
            let at = now - TimeDelta::minutes((HISTORY - i) as i64);
            let payload = serde_json::to_vec(&serde_json::json!({
                "id": uuid::Uuid::now_v7().to_string(),
                "type": "track",
                "name": "Product Viewed",
                "properties": {
                    "product_id": format!("sku-{}", i % 500),
                    "name": "Trail running shoe",
                    "category": "Shoes",
                    "brand": "Peak",
                    "price": 89.9,
                    "currency": "EUR",
                },
                "anonymous_id": anonymous_id,
                "timestamp": at,
                "context": {"library": {"name": "beckon", "version": "0.1.0"}},
            }))
            .unwrap();
            let at = at.timestamp_millis();
            history.execute(params![at, payload]).unwrap();
            if i >= HISTORY - QUEUED {
                let seq = (i - (HISTORY - QUEUED) + 1) as i64;
                queue.execute(params![seq, at, payload]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
}
