//! Segment membership on a real SDK instance: entries and exits after stored events,
//! the listener on the engagement thread, reports reaching the server, persistence
//! across restarts and logout.

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
