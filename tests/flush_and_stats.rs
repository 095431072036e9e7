//! What `flush` and `stats` say about uploads, against a real server on loopback:
//! events queued while the server was out of reach, then uploaded by a new instance on
//! the same data directory, with the default flush policy (a backlog of `flush_at`
//! events or more starts uploading on its own at start).

use std::path::Path;
use std::time::Duration;

use beckon::client::{BeckonConfig, Client, Stats};
use beckon::events::{Event, JsonValue, Properties};
use beckon::upload::{FlushOutcome, FlushReport};

mod common;
use common::fault_proxy::FaultProxy;
use common::{eventually, TestServer, APP_KEY};

/// Nothing listens there: every upload fails at once with a connection error.
const UNREACHABLE: &str = "http://127.0.0.1:1";

const EVENT_NAME: &str = "Backlog Test";

/// The default flush policy (upload at 20 events, batches of 500), with short retries.
fn config(dir: &Path, server_url: &str) -> BeckonConfig {
    let mut config = BeckonConfig::new(dir.to_str().unwrap(), server_url, APP_KEY);
    config.flush_policy.request_timeout_ms = 2_000;
    config.flush_policy.retry_base_ms = 50;
    config.flush_policy.retry_max_ms = 400;
    config
}

fn numbered(n: usize) -> Event {
    Event::Custom {
        name: EVENT_NAME.into(),
        properties: Properties::from([("n".to_string(), JsonValue::Integer { value: n as i64 })]),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Queues `events` while the server is out of reach; returns the device's anonymous
/// id and the stats the instance left.
fn queue_offline(dir: &Path, events: usize) -> (String, Stats) {
    let client = Client::new(config(dir, UNREACHABLE)).unwrap();
    for n in 0..events {
        client.track(&numbered(n)).unwrap();
    }
    let before = now_ms();
    let report = client.flush(Duration::from_secs(10)).unwrap();
    let after = now_ms();
    assert_eq!(report.outcome, FlushOutcome::WillRetry, "{report:?}");
    assert_eq!(report.uploaded, 0, "{report:?}");
    let stats = client.stats().unwrap();
    assert!(
        stats.last_error.as_deref().unwrap().contains("connect"),
        "{stats:?}"
    );
    // The flush's attempt, or one the worker made on its own just before it.
    let at = stats.last_error_at_ms.unwrap();
    assert!(before - 5_000 <= at && at <= after, "{at} {before} {after}");
    (client.anonymous_id(), stats)
}

/// Starts a new instance on `dir` behind a proxy that holds its requests, and flushes.
/// The worker's first request (the sync at start) waits at the proxy, and the upload
/// comes after it, so nothing can be uploaded before `flush` is called; the proxy
/// opens while the flush waits.
fn flush_new_instance(server: &TestServer, dir: &Path) -> (Client, FlushReport) {
    let proxy = server
        .runtime
        .block_on(FaultProxy::start_closed(server.url.clone(), vec![]));
    let client = Client::new(config(dir, &proxy.url)).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || proxy.held() > 0),
        "the worker never reached the server"
    );
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        proxy.open();
        proxy
    });
    let report = client.flush(Duration::from_secs(60)).unwrap();
    drop(opener.join().unwrap());
    (client, report)
}

#[test]
fn a_flush_reports_what_the_server_accepted_during_it_whatever_the_backlog() {
    let server = TestServer::start();
    // Under the flush threshold, at it, over it, and more than one batch of 500.
    for events in [1, 19, 20, 100, 1_001] {
        let dir = tempfile::tempdir().unwrap();
        let (anonymous_id, _) = queue_offline(dir.path(), events);
        let (client, report) = flush_new_instance(&server, dir.path());

        assert_eq!(
            report.outcome,
            FlushOutcome::Delivered,
            "{events}: {report:?}"
        );
        let stats = client.stats().unwrap();
        assert_eq!(
            report.uploaded, stats.uploaded_events,
            "{events}: every upload of this instance happened during the flush"
        );
        assert_eq!((report.rejected, report.queued), (0, 0), "{events}");
        let exported: Vec<_> = server
            .export()
            .into_iter()
            .filter(|e| e["anonymous_id"] == anonymous_id.as_str())
            .collect();
        assert_eq!(exported.len() as u64, report.uploaded, "{events}");
        let tracked = exported.iter().filter(|e| e["name"] == EVENT_NAME).count();
        assert_eq!(tracked, events, "{events}: each tracked event exactly once");
        if events > 500 {
            assert!(stats.uploaded_batches >= 3, "{events}: {stats:?}");
        }

        let again = client.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(
            (again.outcome, again.uploaded),
            (FlushOutcome::Delivered, 0),
            "{events}: nothing left, nothing counted twice"
        );
    }
}

#[test]
fn the_last_error_and_its_time_are_kept_until_an_upload_succeeds_across_restarts() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (_, offline) = queue_offline(dir.path(), 5);

    // A new process, still out of reach: five events do not start an upload on their
    // own, so the error and its time are those the last instance left.
    {
        let client = Client::new(config(dir.path(), UNREACHABLE)).unwrap();
        let stats = client.stats().unwrap();
        assert_eq!(
            (&stats.last_error, stats.last_error_at_ms),
            (&offline.last_error, offline.last_error_at_ms)
        );
    }

    {
        let client = Client::new(config(dir.path(), &server.url)).unwrap();
        let report = client.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(report.outcome, FlushOutcome::Delivered, "{report:?}");
        assert_eq!((report.uploaded, report.error), (5, None));
        let stats = client.stats().unwrap();
        assert_eq!(
            (
                stats.last_error,
                stats.last_error_at_ms,
                stats.last_sync_error
            ),
            (None, None, None),
            "{offline:?}"
        );
    }

    // Cleared for good: a later process reads no error either.
    {
        let client = Client::new(config(dir.path(), &server.url)).unwrap();
        let stats = client.stats().unwrap();
        assert_eq!((stats.last_error, stats.last_error_at_ms), (None, None));
        assert_eq!(stats.uploaded_events, 5);
    }

    // And a new failure is kept with its own, later time.
    let (_, again) = queue_offline(dir.path(), 1);
    assert!(again.last_error_at_ms.unwrap() >= offline.last_error_at_ms.unwrap());
}
