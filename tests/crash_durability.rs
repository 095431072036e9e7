//! Durability: an event acknowledged by `track` survives SIGKILL of the process right
//! after, and is queued once. A real child process (this test binary, re-run in child
//! mode) tracks events and reports each acknowledged one on stdout; the parent kills it
//! with SIGKILL at a random moment, reopens the store and checks every acknowledged
//! event is there, exactly once. Some kills come after thousands of events, while the
//! child's threads move its append log into SQLite (`store/settle.rs`).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use beckon::client::Client;
use beckon::events::{Event, JsonValue, Product};
use beckon::protocol::{WireEvent, SEGMENT_ENTERED, SEGMENT_EXITED};
use beckon::store::{QueueLimits, Store};

mod common;

const CHILD_DIR: &str = "BECKON_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "BECKON_CRASH_CHILD_ROUND";

/// The child's work: track events as fast as possible, acknowledging each on stdout
/// only after `track` returned. Does nothing when run as an ordinary test.
#[test]
fn crash_child_tracks_until_killed() {
    let (Ok(dir), Ok(round)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let mut config = common::sdk_config(Path::new(&dir), "http://127.0.0.1:9");
    config.queue_limits = QueueLimits {
        max_events: 1_000_000,
        max_bytes: 1 << 30,
        ..Default::default()
    };
    let client = Client::new(config).unwrap();
    let stdout = std::io::stdout();
    for n in 0.. {
        let event = Event::ProductAdded {
            cart_id: Some(format!("cart-{round}")),
            product: Product {
                product_id: format!("sku-{n}"),
                price: Some(n as f64),
                ..Default::default()
            },
            properties: [(
                "round".to_string(),
                JsonValue::Text {
                    value: round.clone(),
                },
            )]
            .into(),
        };
        client.track(&event).unwrap();
        let mut out = stdout.lock();
        writeln!(out, "acked {round} {n}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs one child until it has acknowledged `kill_after` events, kills it with SIGKILL
/// and returns every acknowledgement it managed to write.
fn run_child_and_kill(dir: &Path, round: u32, kill_after: usize) -> Vec<(String, u64)> {
    let env = [
        (CHILD_DIR, dir.to_str().unwrap().to_owned()),
        (CHILD_ROUND, round.to_string()),
    ];
    common::run_child_and_kill("crash_child_tracks_until_killed", &env, kill_after)
        .iter()
        .map(|ack| {
            let (round, n) = ack.split_once(' ').unwrap();
            (round.to_owned(), n.parse().unwrap())
        })
        .collect()
}

/// The child's events in the queue, in queue order (several of one event would be a
/// second copy).
fn stored_acks(dir: &Path) -> Vec<(String, u64)> {
    let (mut store, report) = Store::open(dir, QueueLimits::default()).unwrap();
    assert_eq!(
        report.moved_aside, None,
        "a killed process must not corrupt the database"
    );
    let events = store.peek_batch(usize::MAX, usize::MAX).unwrap();
    events
        .iter()
        .filter_map(|e| {
            let event: WireEvent =
                serde_json::from_slice(&e.payload).expect("every stored row is a whole event");
            // The SDK's own segment reports are not the child's acknowledged events.
            if matches!(
                event.name.as_deref(),
                Some(SEGMENT_ENTERED | SEGMENT_EXITED)
            ) {
                return None;
            }
            let round = event.properties["round"].as_str().unwrap().to_owned();
            let n = event.properties["price"].as_f64().unwrap() as u64;
            Some((round, n))
        })
        .collect()
}

#[test]
fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut all_acked = Vec::new();
    for round in 0..8 {
        // Kill at a different point each time, sometimes almost at once, and twice
        // after more than the append log holds before `track` moves a piece itself.
        let kill_after = match round {
            0..6 => 1 + fastrand::usize(..400) * (round as usize % 3),
            _ => 2_500 + fastrand::usize(..3_000),
        };
        let acked = run_child_and_kill(dir.path(), round, kill_after);
        assert!(acked.len() >= kill_after);
        all_acked.extend(acked);
        let queued = stored_acks(dir.path());
        let stored: HashSet<_> = queued.iter().cloned().collect();
        assert_eq!(
            stored.len(),
            queued.len(),
            "round {round}: an event was queued twice"
        );
        let missing: Vec<_> = all_acked.iter().filter(|a| !stored.contains(a)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged events lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
}
