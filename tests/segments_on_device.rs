//! Segment membership on a real SDK instance: entries and exits after stored events,
//! the listener on the engagement thread, reports reaching the server, persistence
//! across restarts and logout.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon::client::{Client, SegmentChange, SegmentListener};
use beckon::events::{Event, Order, Product, Properties};
use beckon::protocol::{SEGMENT_ENTERED, SEGMENT_EXITED};
use beckon::upload::FlushOutcome;

mod common;
use common::{eventually, sdk_config, TestServer};

#[derive(Default)]
struct Recorded {
    changes: Mutex<Vec<(SegmentChange, String)>>,
}

impl SegmentListener for Recorded {
    fn on_segments_changed(&self, changes: Vec<SegmentChange>) {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        let mut seen = self.changes.lock().unwrap();
        seen.extend(changes.into_iter().map(|c| (c, thread.clone())));
    }
}

fn added(id: &str) -> Event {
    Event::ProductAdded {
        product: Product {
            product_id: id.into(),
            price: Some(20.0),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        cart_id: None,
        properties: Properties::new(),
    }
}

fn ordered() -> Event {
    Event::OrderCompleted {
        order: Order {
            order_id: Some("o-1".into()),
            revenue: Some(20.0),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        properties: Properties::new(),
    }
}

fn change(segment: &str, entered: bool) -> SegmentChange {
    SegmentChange {
        segment_id: segment.into(),
        entered,
    }
}

#[test]
fn a_cart_makes_an_abandoner_and_an_order_a_first_time_customer() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    let listener = Arc::new(Recorded::default());
    client.set_segment_listener(Some(listener.clone())).unwrap();

    client.track(&added("sku-1")).unwrap();
    assert_eq!(client.segments().unwrap(), ["cart_abandoner"]);
    client.track(&ordered()).unwrap();
    assert_eq!(client.segments().unwrap(), ["first_time_customer"]);

    let seen = listener.changes.lock().unwrap().clone();
    let changes: Vec<SegmentChange> = seen.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(
        changes,
        [
            change("cart_abandoner", true),
            change("cart_abandoner", false),
            change("first_time_customer", true)
        ]
    );
    assert!(
        seen.iter().all(|(_, thread)| thread == "beckon-engagement"),
        "listeners run on the engagement thread: {seen:?}"
    );

    // The server hears of every entry and exit, once, in order.
    assert_eq!(
        client.flush(Duration::from_secs(10)).unwrap().outcome,
        FlushOutcome::Delivered
    );
    let reports: Vec<(String, String)> = server
        .export()
        .iter()
        .filter(|e| e["name"] == SEGMENT_ENTERED || e["name"] == SEGMENT_EXITED)
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["properties"]["segment_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reports,
        [
            (SEGMENT_ENTERED.to_owned(), "cart_abandoner".to_owned()),
            (SEGMENT_EXITED.to_owned(), "cart_abandoner".to_owned()),
            (SEGMENT_ENTERED.to_owned(), "first_time_customer".to_owned()),
        ]
    );
}

#[test]
fn memberships_survive_a_restart_without_being_reported_twice() {
    let dir = tempfile::tempdir().unwrap();
    let offline = "http://127.0.0.1:9";
    {
        let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
        client.track(&added("sku-1")).unwrap();
        assert_eq!(client.segments().unwrap(), ["cart_abandoner"]);
        client.shutdown();
    }
    let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
    let listener = Arc::new(Recorded::default());
    client.set_segment_listener(Some(listener.clone())).unwrap();
    assert_eq!(client.segments().unwrap(), ["cart_abandoner"]);
    let queued = client.stats().unwrap().queued_events;
    assert_eq!(queued, 2, "the add and one entry report, nothing more");
    // The history came back too: the order is judged against the stored add.
    client.track(&ordered()).unwrap();
    assert_eq!(client.segments().unwrap(), ["first_time_customer"]);
    assert!(eventually(Duration::from_secs(5), || {
        listener.changes.lock().unwrap().len() == 2
    }));
}

#[test]
fn logging_out_forgets_the_history_and_memberships() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    client.track(&added("sku-1")).unwrap();
    client.track(&ordered()).unwrap();
    assert_eq!(client.segments().unwrap(), ["first_time_customer"]);
    client.reset().unwrap();
    assert!(client.segments().unwrap().is_empty());
    client.track(&ordered()).unwrap();
    assert_eq!(
        client.segments().unwrap(),
        ["first_time_customer"],
        "one order for the new user, not a repeat customer"
    );
    drop(client);
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    assert_eq!(client.segments().unwrap(), ["first_time_customer"]);
}

#[test]
fn after_a_logout_and_a_restart_the_new_user_starts_without_the_old_history() {
    let dir = tempfile::tempdir().unwrap();
    let offline = "http://127.0.0.1:9";
    {
        let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
        client.track(&added("sku-1")).unwrap();
        assert_eq!(client.segments().unwrap(), ["cart_abandoner"]);
        client.reset().unwrap();
        assert!(client.segments().unwrap().is_empty());
        client.shutdown();
    }
    let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
    assert!(client.segments().unwrap().is_empty());
    assert_eq!(
        client.stats().unwrap().queued_events,
        2,
        "the add and its entry report, both the previous user's; nothing new"
    );
}

fn order(id: &str, revenue: f64) -> Event {
    Event::OrderCompleted {
        order: Order {
            order_id: Some(id.into()),
            revenue: Some(revenue),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        properties: Properties::new(),
    }
}

fn sorted(mut segments: Vec<String>) -> Vec<String> {
    segments.sort();
    segments
}

/// Deletes the stored history behind the SDK's back (it is closed).
fn delete_history(dir: &std::path::Path) {
    let db = rusqlite::Connection::open(dir.join(beckon::store::DATABASE_FILE)).unwrap();
    let deleted = db.execute("DELETE FROM history", []).unwrap();
    assert!(deleted > 0, "there was a history to delete");
}

#[test]
fn a_restart_reads_the_saved_aggregates_not_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let offline = "http://127.0.0.1:9";
    {
        let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
        client.track(&order("o-1", 300.0)).unwrap();
        assert_eq!(client.segments().unwrap(), ["first_time_customer"]);
        client.shutdown();
    }
    // Were the history read at start, the user would have no orders at all.
    delete_history(dir.path());
    let client = Client::new(sdk_config(dir.path(), offline)).unwrap();
    client.track(&order("o-2", 250.0)).unwrap();
    assert_eq!(
        sorted(client.segments().unwrap()),
        ["high_spender", "repeat_customer"],
        "two orders, 550 EUR: the first one counted from the saved aggregates"
    );
}

const CHILD_DIR: &str = "BECKON_SEGMENTS_CHILD_DIR";
const CHILD_SESSION: &str = "BECKON_SEGMENTS_CHILD_SESSION";

/// One app session in a child process: it orders 200 EUR and reports the segments
/// once the engagement thread has folded the order and written its history row. The
/// first session then shuts down (saving its aggregates); the second is killed before
/// it saves them (it saves every 1,000 events, each minute and at shutdown). Does
/// nothing when run as an ordinary test.
#[test]
fn child_session_orders() {
    let (Ok(dir), Ok(session)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_SESSION)) else {
        return;
    };
    let client = Client::new(sdk_config(std::path::Path::new(&dir), "http://127.0.0.1:9")).unwrap();
    client
        .track(&order(&format!("o-{session}"), 200.0))
        .unwrap();
    let segments = sorted(client.segments().unwrap()).join(",");
    if session == "1" {
        client.shutdown();
    }
    let mut out = std::io::stdout().lock();
    // On a line of its own: the test harness has begun one with the test's name.
    writeln!(out, "\nacked {segments}").unwrap();
    out.flush().unwrap();
    drop(out);
    std::thread::sleep(Duration::from_secs(30));
}

fn child_session(dir: &std::path::Path, session: u32) -> String {
    let env = [
        (CHILD_DIR, dir.to_str().unwrap().to_owned()),
        (CHILD_SESSION, session.to_string()),
    ];
    let mut acked = common::run_child_and_kill("child_session_orders", &env, 1);
    acked.remove(0)
}

#[test]
fn after_a_kill_the_events_since_the_last_save_are_folded_once() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(child_session(dir.path(), 1), "first_time_customer");
    assert_eq!(
        child_session(dir.path(), 2),
        "repeat_customer",
        "two orders, 200 + 200 EUR: not yet a high spender"
    );

    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    // 200 + 200 + 99 = 499: short of the 500 of a high spender, unless the killed
    // session's order were counted twice (or lost, were it 300).
    client.track(&order("o-3", 99.0)).unwrap();
    assert_eq!(sorted(client.segments().unwrap()), ["repeat_customer"]);
    client.track(&order("o-4", 1.0)).unwrap();
    assert_eq!(
        sorted(client.segments().unwrap()),
        ["high_spender", "repeat_customer"],
        "500 EUR over four orders"
    );
}
