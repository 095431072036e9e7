//! `GET /v1/sync` against a real server: the document, its ETag, conditional requests,
//! credentials.

mod common;

use beckon::messages::Campaign;
use beckon::protocol::{SyncDocument, APP_KEY_HEADER, SYNC_PATH};
use beckon::segments::{SegmentDefinition, SegmentSet};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

/// The document and ETag of a 200 answer, after checking its headers.
async fn current(server: &TestServer) -> (SyncDocument, String) {
    let response = server.sync(None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );
    let document = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (document, etag)
}

async fn assert_not_modified(server: &TestServer, if_none_match: &str, etag: &str) {
    let response = server.sync(Some(if_none_match)).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_MODIFIED,
        "{if_none_match}"
    );
    assert_eq!(response.headers()["etag"], etag);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn devices_get_active_definitions_and_revalidate_with_the_etag() {
    let mut server = TestServer::start().await;
    let (empty, empty_etag) = current(&server).await;
    assert_eq!(empty, SyncDocument::empty());
    assert_not_modified(&server, &empty_etag, &empty_etag).await;

    server.create(SEGMENTS, &buyer_segment("buyer", 1)).await;
    server.create(SEGMENTS, &buyer_segment("vip", 5)).await;
    server
        .create(CAMPAIGNS, &campaign("nudge", &["vip"], "buyer"))
        .await;
    let (document, etag) = current(&server).await;
    assert_ne!(etag, empty_etag);
    assert_eq!(
        document.segments,
        [buyer_segment("buyer", 1), buyer_segment("vip", 5)]
    );
    assert_eq!(document.campaigns.len(), 1);
    // What a device does with it: every part reads with the shared parsers.
    let definitions: Vec<SegmentDefinition> = document
        .segments
        .iter()
        .map(|s| SegmentDefinition::from_value(s).unwrap())
        .collect();
    SegmentSet::new(definitions).unwrap();
    let nudge = Campaign::from_value(&document.campaigns[0]).unwrap();
    assert_eq!(
        nudge,
        Campaign::from_value(&campaign("nudge", &["vip"], "buyer")).unwrap()
    );

    assert_not_modified(&server, &etag, &etag).await;
    assert_not_modified(&server, &format!("W/{etag}"), &etag).await;
    assert_not_modified(&server, &format!("\"other\", {etag}"), &etag).await;
    assert_not_modified(&server, "*", &etag).await;
    let stale = server.sync(Some(&empty_etag)).await;
    assert_eq!(stale.status(), StatusCode::OK);

    // Every change the devices must see gives a new ETag; a no-op update does not.
    let (status, _) = server
        .admin_put(&format!("{SEGMENTS}/vip"), &buyer_segment("vip", 5))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current(&server).await.1, etag, "nothing changed");
    let (status, _) = server
        .admin_put(&format!("{SEGMENTS}/vip"), &buyer_segment("vip", 6))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (document, updated_etag) = current(&server).await;
    assert_ne!(updated_etag, etag);
    assert_eq!(document.segments[1]["rule"]["at_least"], 6);
    let old = server.sync(Some(&etag)).await;
    assert_eq!(
        old.status(),
        StatusCode::OK,
        "the old ETag no longer matches"
    );

    let (status, _) = server
        .admin_post(&format!("{CAMPAIGNS}/nudge/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (document, archived_etag) = current(&server).await;
    assert_ne!(archived_etag, updated_etag);
    assert!(
        document.campaigns.is_empty(),
        "archived campaigns are not sent"
    );

    // The ETag depends on the content alone, not on the process that computed it.
    server.restart().await;
    assert_not_modified(&server, &archived_etag, &archived_etag).await;
}

#[tokio::test]
async fn sync_requires_an_app_key() {
    let server = TestServer::start().await;
    let url = server.endpoint(SYNC_PATH);
    let missing = server.http.get(&url).send().await.unwrap();
    assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = server
        .http
        .get(&url)
        .header(APP_KEY_HEADER, "nope")
        .send()
        .await
        .unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let admin = server
        .http
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_error(admin, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// A segment of about `kib` KiB: a trait test against a long list of long codes.
fn bulky_segment(id: &str, kib: usize) -> serde_json::Value {
    let codes: Vec<String> = (0..kib)
        .map(|i| format!("{i:04}{}", "x".repeat(1020)))
        .collect();
    json!({"schema": 1, "id": id, "name": "Bulky", "rule": {"trait": "code", "in": codes}})
}

#[tokio::test]
async fn changes_that_would_outgrow_the_sync_document_are_refused() {
    let server = TestServer::start().await;
    // Answers are checked by status only: a failing assertion should not print
    // megabytes of definition.
    let post = |id: &'static str| {
        let request = server
            .admin(reqwest::Method::POST, SEGMENTS)
            .json(&bulky_segment(id, 1000));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(post("first").await, StatusCode::CREATED);
    assert_eq!(post("second").await, StatusCode::CREATED);
    let (_, etag) = current(&server).await;

    let too_much = server
        .admin_post(SEGMENTS, &bulky_segment("third", 1000))
        .await;
    let message = error_message(&too_much, StatusCode::CONFLICT, "conflict");
    assert!(
        message.starts_with("the sync document would be ")
            && message.ends_with(
                " bytes, over the 2097152 bytes devices accept; \
                 archive unused segments or campaigns first"
            ),
        "{message}"
    );
    assert_not_modified(&server, &etag, &etag).await;

    // A body that could never fit is refused before it is parsed.
    let huge = json!({"padding": "x".repeat(beckon::protocol::MAX_SYNC_BYTES)});
    let response = server
        .admin(reqwest::Method::POST, SEGMENTS)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Room is made by archiving.
    let (status, _) = server
        .admin_post(&format!("{SEGMENTS}/first/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(post("third").await, StatusCode::CREATED);
}
