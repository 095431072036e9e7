//! `GET /v1/events` against a real server: auth, line format, cursor pagination across
//! restarts, parameter validation.

mod common;

use std::collections::HashSet;

use beckon::protocol::{EVENTS_PATH, NEXT_CURSOR_HEADER};
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn export_requires_the_admin_token() {
    let server = TestServer::start().await;
    server.send(&batch(events(1))).await;
    let url = server.endpoint(EVENTS_PATH);
    let attempts = [
        None,
        Some("Bearer wrong".to_string()),
        Some(format!("Bearer {ADMIN_TOKEN}x")),
        Some(format!("Basic {ADMIN_TOKEN}")),
        Some(ADMIN_TOKEN.to_string()),
        Some(format!("Bearer {APP_KEY}")),
        Some("Bearer ".to_string()),
    ];
    for authorization in attempts {
        let mut request = server.http.get(&url);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer",
            "{authorization:?}"
        );
        assert!(response.headers().get(NEXT_CURSOR_HEADER).is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // The app key does not open the admin API either.
    let response = server
        .http
        .get(&url)
        .header(beckon::protocol::APP_KEY_HEADER, APP_KEY)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The scheme is case-insensitive.
    let response = server
        .http
        .get(&url)
        .header("authorization", format!("bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_line_is_the_event_with_server_times() {
    let server = TestServer::start().await;
    let mut identify = event("unused");
    identify["type"] = "identify".into();
    identify.as_object_mut().unwrap().remove("name");
    identify.as_object_mut().unwrap().remove("properties");
    identify["traits"] = serde_json::json!({"email": "a@example.com"});
    let track = event("Product Viewed");
    server
        .send(&batch(vec![track.clone(), identify.clone()]))
        .await;

    let (lines, cursor) = server.page("").await;
    assert_eq!(lines.len(), 2);
    assert_ne!(cursor, "0");
    for (line, sent) in lines.iter().zip([&track, &identify]) {
        let sent = sent.as_object().unwrap();
        for (field, value) in sent {
            if field != "timestamp" {
                assert_eq!(&line[field], value, "{field} in {line}");
            }
        }
        assert_eq!(line["original_timestamp"], sent["timestamp"]);
        for field in ["timestamp", "sent_at", "received_at"] {
            let text = line[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {line}"));
            text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        }
        let known: HashSet<&str> = [
            "id",
            "type",
            "name",
            "properties",
            "traits",
            "anonymous_id",
            "user_id",
            "context",
            "timestamp",
            "original_timestamp",
            "sent_at",
            "received_at",
        ]
        .into();
        for key in line.as_object().unwrap().keys() {
            assert!(
                known.contains(key.as_str()),
                "unexpected field {key} in {line}"
            );
        }
    }
    assert!(lines[1].get("name").is_none(), "identify has no name");
    // The line is the shared protocol type.
    let typed: beckon::protocol::ExportedEvent = serde_json::from_value(lines[0].clone()).unwrap();
    assert_eq!(typed.event.id, track["id"]);
}

#[tokio::test]
async fn the_cursor_survives_a_restart_without_repeating_or_missing_events() {
    let mut server = TestServer::start().await;
    let first = events(25);
    server.send(&batch(first.clone())).await;

    let mut seen = Vec::new();
    let (page, cursor) = server.page("limit=10").await;
    assert_eq!(page.len(), 10);
    seen.extend(page);

    server.restart().await;
    let (page, cursor) = server.page(&format!("cursor={cursor}&limit=10")).await;
    assert_eq!(page.len(), 10);
    seen.extend(page);

    // Events arriving after the restart come after the ones already there.
    let second = events(7);
    server.send(&batch(second.clone())).await;
    let mut cursor = cursor;
    loop {
        let (page, next) = server.page(&format!("cursor={cursor}&limit=4")).await;
        if page.is_empty() {
            assert_eq!(next, cursor);
            break;
        }
        assert!(page.len() <= 4);
        seen.extend(page);
        server.restart().await;
        cursor = next;
    }
    let expected: Vec<Value> = first.into_iter().chain(second).collect();
    assert_eq!(ids(&seen), ids(&expected));
}

#[tokio::test]
async fn at_the_end_of_the_log_the_cursor_stays_put() {
    let server = TestServer::start().await;
    let (lines, cursor) = server.page("").await;
    assert!(lines.is_empty());
    assert_eq!(cursor, "0", "an empty log starts at 0");
    let (lines, again) = server.page("cursor=0").await;
    assert!(lines.is_empty());
    assert_eq!(again, "0");

    server.send(&batch(events(3))).await;
    let (lines, cursor) = server.page("cursor=0").await;
    assert_eq!(lines.len(), 3);
    for _ in 0..2 {
        let (lines, polled) = server.page(&format!("cursor={cursor}")).await;
        assert!(lines.is_empty());
        assert_eq!(polled, cursor, "polling keeps the cursor");
    }
    // A new event shows up on the next poll.
    let late = events(1);
    server.send(&batch(late.clone())).await;
    let (lines, next) = server.page(&format!("cursor={cursor}")).await;
    assert_eq!(ids(&lines), ids(&late));
    assert_ne!(next, cursor);
    // A cursor past the end (e.g. from a bigger database) is no error, just empty.
    let (lines, far) = server.page("cursor=1000000").await;
    assert!(lines.is_empty());
    assert_eq!(far, "1000000");
}

#[tokio::test]
async fn limit_defaults_to_1000_and_is_bounded() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        let (status, answer) = server.send(&batch(events(500))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (page, cursor) = server.page("").await;
    assert_eq!(page.len(), 1000);
    let (rest, _) = server.page(&format!("cursor={cursor}")).await;
    assert_eq!(rest.len(), 500);
    let (all, _) = server.page("limit=10000").await;
    assert_eq!(all.len(), 1500);
    let (one, cursor_one) = server.page("limit=1").await;
    assert_eq!(one.len(), 1);
    let (two, _) = server.page(&format!("limit=1&cursor={cursor_one}")).await;
    assert_eq!(ids(&two), ids(&all[1..2]));

    for query in [
        "limit=0",
        "limit=10001",
        "limit=-1",
        "limit=abc",
        "limit=",
        "limit=1.5",
    ] {
        let response = server.export(query).await;
        let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains("limit"), "{query}: {message}");
    }
    for query in [
        "cursor=abc",
        "cursor=-1",
        "cursor=01",
        "cursor=",
        "cursor=1e3",
        "cursor=99999999999999999999",
    ] {
        let response = server.export(query).await;
        let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains("cursor"), "{query}: {message}");
    }
    let response = server.export("cursor=1&cursor=2").await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}
