//! Syncing definitions against a scripted server: conditional requests with the
//! stored ETag, a refused document that leaves the last good copy in place, failures
//! that neither crash nor storm the server, and a restart on the last good copy.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use beckon::client::Client;
use beckon::common::RetryPolicy;
use beckon::protocol::{APP_KEY_HEADER, MAX_SYNC_BYTES, PERMISSIONS_PATH, SYNC_PATH};
use beckon::segments::templates;
use beckon::store::{QueueLimits, Store, StoreLock};
use beckon::sync::{load_last_good, SyncOutcome, SyncedDefinitions, SYNC_DOCUMENT};
use beckon::upload::{UploadConfig, Uploader};
use serde_json::{json, Value};

mod common;
#[path = "common/http_stub.rs"]
mod http_stub;

use common::{eventually, sdk_config, APP_KEY};
use http_stub::{HttpStub, Reply};

const WAIT: Duration = Duration::from_secs(10);

fn campaign() -> Value {
    json!({
        "schema_version": 1,
        "id": "nudge",
        "name": "Free shipping nudge",
        "status": "active",
        "trigger": {"segment_entered": "cart_abandoner"},
        "audience": {"segments": ["cart_abandoner"]},
        "default_locale": "en",
        "variants": {"en": {"title": "Hi {{first_name | there}}", "body": "Your cart misses you"}}
    })
}

/// The built-in segments plus one campaign.
fn good_document() -> Value {
    json!({
        "schema": 1,
        "segments": templates::builtin().iter().map(|d| d.to_value()).collect::<Vec<_>>(),
        "campaigns": [campaign()],
        "settings": {"in_app_min_gap_seconds": 60}
    })
}

fn bad_document() -> Value {
    let mut document = good_document();
    document["segments"][0]["rule"]["all"][0]["count"]["within"] = json!("3x");
    document
}

fn ok(document: &Value, etag: &str) -> Reply {
    Reply::json(200, document.to_string()).header("etag", etag)
}

struct Device {
    uploader: Uploader,
    store: Arc<StoreLock>,
    synced: mpsc::Receiver<SyncedDefinitions>,
    _dir: tempfile::TempDir,
}

/// An upload worker against `stub` with its own store, reporting new definitions on
/// `synced`. Returns once the stub has received the sync the worker makes at start.
fn start_device(stub: &HttpStub, sync_interval: Option<Duration>, retry: RetryPolicy) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
    let store = beckon::store::shared(store);
    let config = UploadConfig {
        server_url: stub.url.clone(),
        app_key: APP_KEY.into(),
        flush_at: 500,
        flush_interval: Duration::from_secs(3600),
        request_timeout: Duration::from_secs(2),
        max_batch_events: 500,
        max_batch_bytes: 400_000,
        retry,
        sync_interval,
        http: None,
    };
    let (tx, synced) = mpsc::channel();
    let uploader = Uploader::start(
        store.clone(),
        config,
        Box::new(move |definitions| tx.send(definitions).unwrap()),
    )
    .unwrap();
    assert!(eventually(WAIT, || stub.count() >= 1), "no sync at start");
    Device {
        uploader,
        store,
        synced,
        _dir: dir,
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(200),
        cap: Duration::from_millis(400),
        ..RetryPolicy::default()
    }
}

#[test]
fn syncs_conditionally_and_keeps_the_last_good_copy_through_bad_answers() {
    let stub = HttpStub::start(APP_KEY, vec![Reply::json(503, "{}")]);
    let device = start_device(&stub, None, quick_retries());
    let store = || device.store.lock();

    // 200 with an ETag: stored, then handed over.
    stub.then(ok(&good_document(), "\"v1\""));
    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::Updated, "{report:?}");
    let definitions = device.synced.try_recv().expect("the callback got them");
    assert_eq!(definitions.segments.len(), templates::builtin().len());
    assert_eq!(definitions.campaigns[0].id(), "nudge");
    assert_eq!(definitions.settings.in_app_min_gap_seconds, 60);
    let stored = store().load_document(SYNC_DOCUMENT).unwrap().unwrap();
    assert_eq!(stored.etag.as_deref(), Some("\"v1\""));
    let good_body = stored.body;
    let status = store().document_status(SYNC_DOCUMENT).unwrap();
    assert_eq!(
        (status.failures, status.last_error),
        (1, None),
        "the 503 at start was counted, and the success cleared its error"
    );
    let first_confirmed = status.fetched_at_ms.unwrap();

    // 304 for the ETag: nothing new.
    stub.then(Reply::status(304));
    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::NotModified, "{report:?}");
    assert!(
        device.synced.try_recv().is_err(),
        "nothing new to hand over"
    );
    assert!(
        store()
            .document_status(SYNC_DOCUMENT)
            .unwrap()
            .fetched_at_ms
            >= Some(first_confirmed)
    );

    // An invalid document: refused whole, the last good copy stays.
    stub.then(ok(&bad_document(), "\"v2\""));
    let report = device.uploader.sync(WAIT);
    let refusal = r#"sync document refused: segments[0] ("cart_abandoner"): rule.all[0].count.within: "3x" is not a duration; use 30m, 24h or 7d"#;
    assert_eq!(report.outcome, SyncOutcome::Refused, "{report:?}");
    assert_eq!(report.error.as_deref(), Some(refusal));
    assert!(
        device.synced.try_recv().is_err(),
        "a refused document is not applied"
    );
    let stored = store().load_document(SYNC_DOCUMENT).unwrap().unwrap();
    assert_eq!(
        (stored.etag.as_deref(), &stored.body),
        (Some("\"v1\""), &good_body)
    );
    let status = store().document_status(SYNC_DOCUMENT).unwrap();
    assert_eq!(
        (status.failures, status.last_error.as_deref()),
        (2, Some(refusal))
    );

    // A server error: failed, counted, nothing else changes.
    stub.then(Reply::json(500, r#"{"error":"database is down"}"#));
    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::Failed, "{report:?}");
    let error = report.error.unwrap();
    assert!(
        error.contains("500") && error.contains("database is down"),
        "{error}"
    );
    let status = store().document_status(SYNC_DOCUMENT).unwrap();
    assert_eq!((status.failures, status.last_error), (3, Some(error)));
    assert_eq!(
        store().load_document(SYNC_DOCUMENT).unwrap().unwrap().body,
        good_body
    );

    // What went over the wire: the app key on every request, the ETag once known,
    // and never the ETag of the refused document.
    let requests = stub.requests();
    assert_eq!(requests.len(), 5, "{requests:#?}");
    for request in &requests {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", SYNC_PATH)
        );
        assert_eq!(request.header(APP_KEY_HEADER), Some(APP_KEY));
    }
    let sent: Vec<Option<&str>> = requests.iter().map(|r| r.header("if-none-match")).collect();
    assert_eq!(
        sent,
        [None, None, Some("\"v1\""), Some("\"v1\""), Some("\"v1\"")]
    );

    // The next start runs on the last good copy.
    device.uploader.shutdown();
    let restored = load_last_good(&mut store()).expect("the last good copy");
    assert_eq!(
        restored.segments.get("cart_abandoner"),
        definitions.segments.get("cart_abandoner")
    );
    assert_eq!(restored.campaigns, definitions.campaigns);
}

#[test]
fn a_client_syncs_through_its_api_and_restarts_on_the_last_good_copy() {
    // A client's sync also asks for the user's permissions, right after the document;
    // this server knows nothing of the user.
    let no_permissions = || Reply::json(404, "{}");
    let stub = HttpStub::start(
        APP_KEY,
        vec![ok(&good_document(), "\"v1\""), no_permissions()],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = sdk_config(dir.path(), &stub.url);
    config.sync_interval_seconds = 0;

    let client = Client::new(config.clone()).unwrap();
    assert!(eventually(WAIT, || stub.count() == 2), "no sync at start");
    stub.then(Reply::status(304));
    stub.then(no_permissions());
    let report = client.sync(WAIT).unwrap();
    assert_eq!(
        report.outcome,
        SyncOutcome::NotModified,
        "the start sync stored v1 and its ETag: {report:?}"
    );
    client.shutdown();
    assert!(client.sync(WAIT).is_err(), "no sync after shutdown");

    {
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let last_good = load_last_good(&mut store).expect("stored at the first start");
        assert_eq!(last_good.campaigns[0].id(), "nudge");
    }

    // A new instance asks with the stored ETag from its first request on.
    stub.then(Reply::status(304));
    stub.then(no_permissions());
    let again = Client::new(config).unwrap();
    assert!(eventually(WAIT, || stub.count() == 6));
    let requests = stub.requests();
    let (syncs, others): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.path == SYNC_PATH);
    let sent: Vec<Option<String>> = syncs
        .iter()
        .map(|r| r.header("if-none-match").map(str::to_owned))
        .collect();
    assert_eq!(sent, [None, Some("\"v1\"".into()), Some("\"v1\"".into())]);
    assert!(
        others.iter().all(|r| r.path.starts_with(PERMISSIONS_PATH)),
        "{others:?}"
    );
    again.shutdown();
}

#[test]
fn compressed_documents_are_read_and_oversized_ones_refused_without_reading_them() {
    let stub = HttpStub::start(APP_KEY, vec![Reply::json(503, "{}")]);
    let device = start_device(&stub, None, quick_retries());

    let compressed = beckon::upload::gzip(good_document().to_string().as_bytes());
    stub.then(
        Reply::json(200, compressed)
            .header("content-encoding", "gzip")
            .header("etag", "\"gz\""),
    );
    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::Updated, "{report:?}");
    assert_eq!(stub.requests()[1].header("accept-encoding"), Some("gzip"));

    // Declared too large; too large with no declared length; small but expanding past
    // the limit.
    let huge = vec![b' '; MAX_SYNC_BYTES + 1];
    let bomb = beckon::upload::gzip(&huge);
    for reply in [
        Reply::json(200, huge.clone()),
        Reply::json(200, huge.clone()).without_length(),
        Reply::json(200, bomb).header("content-encoding", "gzip"),
    ] {
        stub.then(reply);
        let report = device.uploader.sync(WAIT);
        assert_eq!(report.outcome, SyncOutcome::Refused, "{report:?}");
        assert_eq!(
            report.error.as_deref(),
            Some("sync document refused: the answer is over the 2097152-byte limit")
        );
    }
    let stored = device.store.lock().load_document(SYNC_DOCUMENT).unwrap();
    assert_eq!(stored.unwrap().etag.as_deref(), Some("\"gz\""));
}

#[test]
fn the_servers_retry_after_holds_explicit_syncs_and_foreground_syncs_are_spaced() {
    let throttled = Reply::json(429, "{}").header("retry-after", "30");
    let stub = HttpStub::start(APP_KEY, vec![throttled]);
    let device = start_device(&stub, Some(Duration::from_secs(3600)), quick_retries());

    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::Failed, "{report:?}");
    let error = report.error.unwrap();
    assert!(error.starts_with("the server asked to wait"), "{error}");
    assert_eq!(stub.count(), 1, "no request while Retry-After holds");

    let stub = HttpStub::start(APP_KEY, vec![ok(&good_document(), "\"v1\"")]);
    let device = start_device(&stub, None, quick_retries());
    // Right after the start sync: a foreground sync is skipped, an explicit one is not.
    device.uploader.sync_in_background();
    stub.then(Reply::status(304));
    let report = device.uploader.sync(WAIT);
    assert_eq!(report.outcome, SyncOutcome::NotModified, "{report:?}");
    assert_eq!(stub.count(), 2, "{:#?}", stub.requests());
}

#[test]
fn failed_syncs_back_off_and_successful_ones_repeat_on_the_interval() {
    // Nothing but 503s: each retry waits longer (base 200 ms, cap 400 ms, ±10 %).
    let stub = HttpStub::start(APP_KEY, vec![]);
    let _failing = start_device(&stub, Some(Duration::from_secs(3600)), quick_retries());
    assert!(eventually(WAIT, || stub.count() >= 4));
    let at: Vec<_> = stub.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(180), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(360), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(360), "{gaps:?}");

    // A short interval: the device asks again on its own, with its ETag.
    let stub = HttpStub::start(APP_KEY, vec![ok(&good_document(), "\"v1\"")]);
    for _ in 0..5 {
        stub.then(Reply::status(304));
    }
    let _syncing = start_device(&stub, Some(Duration::from_millis(100)), quick_retries());
    assert!(eventually(WAIT, || stub.count() >= 3));
    for request in &stub.requests()[1..] {
        assert_eq!(request.header("if-none-match"), Some("\"v1\""));
    }
}
