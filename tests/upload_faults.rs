//! Uploading through a hostile network: the SDK runs against a proxy that injects
//! 500s, 429s with Retry-After, timeouts and connections dropped mid-response in front
//! of the real server. Afterwards the server must hold every event exactly once.

use std::collections::HashMap;
use std::time::Duration;

use beckon::client::Client;
use beckon::events::{Event, JsonValue, Properties};
use beckon::upload::FlushOutcome;
use beckon_server::Rate;

mod common;
use common::fault_proxy::{Fault, FaultProxy};
use common::{eventually, sdk_config, TestServer};

fn numbered(n: usize) -> Event {
    Event::Custom {
        name: "Fault Test".into(),
        properties: Properties::from([("n".to_string(), JsonValue::Integer { value: n as i64 })]),
    }
}

/// Flushes until the queue is empty (each failed attempt ends a flush early).
fn flush_until_empty(client: &Client) {
    let emptied = eventually(Duration::from_secs(60), || {
        client.flush(Duration::from_secs(5)).unwrap();
        client.stats().unwrap().queued_events == 0
    });
    assert!(
        emptied,
        "queue never emptied: {:?}",
        client.stats().unwrap()
    );
}

#[test]
fn every_event_arrives_exactly_once_through_injected_faults() {
    let server = TestServer::start();
    let script = vec![
        Fault::Reply(500),
        Fault::Throttle(1),
        Fault::StoreThenFail,
        Fault::Pass,
        Fault::StoreThenCut,
        Fault::Reply(503),
        Fault::StoreThenStall(Duration::from_millis(2_500)),
        Fault::Pass,
        Fault::StoreThenCut,
        Fault::Reply(408),
        Fault::StoreThenFail,
    ];
    let steps = script.len();
    let faults = script.iter().filter(|f| **f != Fault::Pass).count();
    let proxy = server
        .runtime
        .block_on(FaultProxy::start(server.url.clone(), script));
    let dir = tempfile::tempdir().unwrap();
    let mut config = sdk_config(dir.path(), &proxy.url);
    config.flush_policy.max_batch_events = 15;
    config.flush_policy.request_timeout_ms = 1_000;
    let client = Client::new(config).unwrap();

    const EVENTS: usize = 200;
    for n in 0..EVENTS {
        client.track(&numbered(n)).unwrap();
    }
    flush_until_empty(&client);

    let exported = server.export();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for event in &exported {
        *seen
            .entry(event["properties"]["n"].as_i64().unwrap())
            .or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        duplicated.is_empty(),
        "duplicates on the server: {duplicated:?}"
    );
    assert_eq!(seen.len(), EVENTS, "events missing on the server");
    assert_eq!(exported.len(), EVENTS);

    let requests = proxy.seen();
    assert!(
        requests.len() > steps,
        "every fault was exercised: {requests:?}"
    );
    let stats = client.stats().unwrap();
    assert_eq!(stats.uploaded_events, EVENTS as u64);
    assert_eq!(
        stats.retries, faults as u64,
        "one retry per injected fault: {stats:?}"
    );
    assert_eq!(stats.dropped.rejected_by_server, 0);

    // The request after the 429 waited at least its Retry-After.
    let throttled = requests
        .iter()
        .position(|r| r.fault == Fault::Throttle(1))
        .unwrap();
    let waited = requests[throttled + 1].at - requests[throttled].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?} despite Retry-After: 1"
    );
}

#[test]
fn every_event_arrives_exactly_once_from_a_server_limiting_its_rate() {
    // One request per second for the app key: nearly every batch is answered 429 with
    // Retry-After first.
    let server = TestServer::start_with(|config| {
        config.rates.per_app_key = Rate {
            per_second: 1,
            burst: 1,
        };
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = sdk_config(dir.path(), &server.url);
    config.flush_policy.max_batch_events = 10;
    let client = Client::new(config).unwrap();

    const EVENTS: usize = 60;
    for n in 0..EVENTS {
        client.track(&numbered(n)).unwrap();
    }
    flush_until_empty(&client);

    let mut numbers: Vec<i64> = server
        .export()
        .iter()
        .map(|e| e["properties"]["n"].as_i64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..EVENTS as i64).collect::<Vec<_>>());
    let stats = client.stats().unwrap();
    assert_eq!(stats.uploaded_events, EVENTS as u64);
    assert!(
        stats.retries >= 1,
        "the server refused some batches: {stats:?}"
    );
    assert_eq!(stats.dropped.rejected_by_server, 0);
}

#[test]
fn a_refused_batch_is_dropped_and_counted_and_does_not_block_the_next() {
    let server = TestServer::start();
    let proxy = server.runtime.block_on(FaultProxy::start(
        server.url.clone(),
        vec![Fault::Reply(400)],
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut config = sdk_config(dir.path(), &proxy.url);
    config.flush_policy.max_batch_events = 10;
    let client = Client::new(config).unwrap();
    for n in 0..10 {
        client.track(&numbered(n)).unwrap();
    }
    let report = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.outcome, FlushOutcome::Delivered);
    assert_eq!(
        (report.uploaded, report.rejected, report.queued),
        (0, 10, 0)
    );
    let stats = client.stats().unwrap();
    assert_eq!(stats.dropped.rejected_by_server, 10);
    assert!(stats.last_error.unwrap().contains("400"));
    assert!(stats.last_error_at_ms.is_some());

    for n in 10..25 {
        client.track(&numbered(n)).unwrap();
    }
    let report = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.outcome, FlushOutcome::Delivered);
    assert_eq!(
        (report.uploaded, report.rejected, report.queued),
        (15, 0, 0)
    );
    let stats = client.stats().unwrap();
    assert_eq!(stats.dropped.rejected_by_server, 10);
    assert_eq!(
        (stats.last_error, stats.last_error_at_ms),
        (None, None),
        "the batches after it were taken"
    );
    let numbers: Vec<i64> = server
        .export()
        .iter()
        .map(|e| e["properties"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (10..25).collect::<Vec<_>>(),
        "the first batch was the refused one"
    );
}

#[test]
fn a_flush_during_retry_after_does_not_hammer_the_server() {
    let server = TestServer::start();
    let proxy = server.runtime.block_on(FaultProxy::start(
        server.url.clone(),
        vec![Fault::Throttle(30)],
    ));
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &proxy.url)).unwrap();
    client.track(&numbered(1)).unwrap();

    let first = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(first.outcome, FlushOutcome::WillRetry);
    assert!(first.retry_in_ms.unwrap() > 29_000, "{first:?}");
    assert!(first.error.unwrap().contains("429"));

    let second = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(second.outcome, FlushOutcome::WillRetry);
    assert_eq!(second.queued, 1);
    assert_eq!(
        proxy.seen().len(),
        1,
        "no request while the server's Retry-After holds"
    );
}

#[test]
fn an_unreachable_server_keeps_events_and_backs_off() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    client.track(&numbered(1)).unwrap();
    let report = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.outcome, FlushOutcome::WillRetry);
    assert_eq!(report.queued, 1);
    assert!(report.error.unwrap().contains("connect"));
    // The worker keeps retrying on its own, with growing delays.
    assert!(eventually(Duration::from_secs(5), || client
        .stats()
        .unwrap()
        .retries
        >= 3));
    assert_eq!(client.stats().unwrap().queued_events, 1);
}
