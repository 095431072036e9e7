//! `/v1/admin/segments` against a real server: CRUD, versions, archiving, validation by
//! the shared engine (alone and as a set), references, credentials.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn segment_path(id: &str) -> String {
    format!("{SEGMENTS}/{id}")
}

fn time(record: &Value, key: &str) -> chrono::DateTime<chrono::Utc> {
    record[key].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn segments_are_created_read_updated_and_archived_with_versions() {
    let mut server = TestServer::start().await;
    assert_eq!(
        server.admin_get(SEGMENTS).await,
        (StatusCode::OK, json!({"segments": []}))
    );

    let response = server
        .admin(Method::POST, SEGMENTS)
        .json(&buyer_segment("buyer", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/v1/admin/segments/buyer");
    let (status, created) = json_answer(response).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["id"], "buyer");
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(created["definition"], buyer_segment("buyer", 1));
    assert_eq!(
        server.admin_get(&segment_path("buyer")).await,
        (StatusCode::OK, created.clone())
    );

    let taken = server
        .admin_post(SEGMENTS, &buyer_segment("buyer", 2))
        .await;
    let message = error_message(&taken, StatusCode::CONFLICT, "conflict");
    assert_eq!(message, "segment \"buyer\" already exists");

    let (status, updated) = server
        .admin_put(&segment_path("buyer"), &buyer_segment("buyer", 2))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["definition"]["rule"]["at_least"], 2);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert!(time(&updated, "updated_at") > time(&created, "updated_at"));

    let (status, same) = server
        .admin_put(&segment_path("buyer"), &buyer_segment("buyer", 2))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, updated, "an identical update is not a new version");

    let renamed = server
        .admin_put(&segment_path("buyer"), &buyer_segment("other", 2))
        .await;
    assert_eq!(
        error_message(&renamed, StatusCode::BAD_REQUEST, "bad_request"),
        "id: \"other\" in the body does not match \"buyer\" in the path"
    );
    let unknown = server
        .admin_put(&segment_path("nobody"), &buyer_segment("nobody", 2))
        .await;
    assert_eq!(
        error_message(&unknown, StatusCode::NOT_FOUND, "not_found"),
        "segment \"nobody\" does not exist"
    );
    let unknown = server.admin_get(&segment_path("nobody")).await;
    assert_eq!(
        error_message(&unknown, StatusCode::NOT_FOUND, "not_found"),
        "segment \"nobody\" does not exist"
    );

    let archive = format!("{}/archive", segment_path("buyer"));
    let (status, archived) = server.admin_post(&archive, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert_eq!(archived["status"], "archived");
    assert_eq!(archived["version"], 3);
    assert_eq!(archived["definition"], updated["definition"]);
    let (status, again) = server.admin_post(&archive, &json!({})).await;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &archived),
        "archiving twice"
    );

    let frozen = server
        .admin_put(&segment_path("buyer"), &buyer_segment("buyer", 3))
        .await;
    assert_eq!(
        error_message(&frozen, StatusCode::CONFLICT, "conflict"),
        "segment \"buyer\" is archived; archived segments cannot be changed"
    );
    let reused = server
        .admin_post(SEGMENTS, &buyer_segment("buyer", 1))
        .await;
    assert_eq!(
        error_message(&reused, StatusCode::CONFLICT, "conflict"),
        "segment \"buyer\" already exists (archived); ids are never reused"
    );

    server
        .create(SEGMENTS, &buyer_segment("active_buyer", 1))
        .await;
    server.restart().await;
    let (status, list) = server.admin_get(SEGMENTS).await;
    assert_eq!(status, StatusCode::OK);
    let summary: Vec<(&str, &str, u64)> = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("active_buyer", "active", 1), ("buyer", "archived", 3)],
        "archived segments are listed with their status, and survive a restart"
    );
    assert_eq!(list["segments"][1], archived);
}

#[tokio::test]
async fn invalid_definitions_are_refused_with_the_engines_messages() {
    let server = TestServer::start().await;
    let refused = |answer: (StatusCode, Value)| {
        error_message(&answer, StatusCode::BAD_REQUEST, "bad_request")
    };
    let segment =
        |id: &str, rule: Value| json!({"schema": 1, "id": id, "name": "Test", "rule": rule});

    let bad_window = segment(
        "x",
        json!({"count": {"event": "Product Added", "within": "3x"}, "at_least": 1}),
    );
    assert_eq!(
        refused(server.admin_post(SEGMENTS, &bad_window).await),
        "segment \"x\": rule.count.within: \"3x\" is not a duration; use 30m, 24h or 7d"
    );
    let typo = segment(
        "x",
        json!({"count": {"event": "Product Added", "withn": "3d"}, "at_least": 1}),
    );
    assert_eq!(
        refused(server.admin_post(SEGMENTS, &typo).await),
        "segment \"x\": rule.count.withn: is not allowed in a count; expected event, within, where, per"
    );
    assert_eq!(
        refused(
            server
                .admin_post(SEGMENTS, &json!({"schema": 2, "id": "x"}))
                .await
        ),
        "schema: version 2 is not supported; this engine reads version 1"
    );
    let response = server
        .admin(Method::POST, SEGMENTS)
        .body("{\"schema\": 1,")
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(
        message.starts_with("the body is not valid JSON: "),
        "{message}"
    );

    // Checked as part of the whole active set: every problem is listed.
    let two_unknown = segment("x", json!({"all": [{"segment": "m1"}, {"segment": "m2"}]}));
    assert_eq!(
        refused(server.admin_post(SEGMENTS, &two_unknown).await),
        "segment \"x\": rule.all[0].segment: \"m1\" is not a defined segment; \
         segment \"x\": rule.all[1].segment: \"m2\" is not a defined segment"
    );
    assert_eq!(
        refused(
            server
                .admin_post(SEGMENTS, &segment("x", json!({"segment": "x"})))
                .await
        ),
        "segment \"x\": rule.segment: a segment cannot contain itself"
    );

    server.create(SEGMENTS, &buyer_segment("a", 1)).await;
    server
        .create(SEGMENTS, &segment("b", json!({"segment": "a"})))
        .await;
    let cycle = segment("a", json!({"not": {"segment": "b"}}));
    assert_eq!(
        refused(server.admin_put(&segment_path("a"), &cycle).await),
        "segment \"a\": rule.not.segment: refers back to itself through b → a → b"
    );

    server.create(SEGMENTS, &buyer_segment("old", 1)).await;
    let (status, _) = server
        .admin_post(&format!("{SEGMENTS}/old/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let uses_archived = segment("c", json!({"any": [{"segment": "a"}, {"segment": "old"}]}));
    assert_eq!(
        refused(server.admin_post(SEGMENTS, &uses_archived).await),
        "segment \"c\": rule.any[1].segment: \"old\" is not a defined segment (it is archived)"
    );

    let (_, list) = server.admin_get(SEGMENTS).await;
    let ids: Vec<&str> = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "old"], "nothing refused was stored");
    let (_, a) = server.admin_get(&segment_path("a")).await;
    assert_eq!(
        (a["version"].as_u64(), &a["definition"]),
        (Some(1), &buyer_segment("a", 1))
    );
}

#[tokio::test]
async fn a_segment_in_use_cannot_be_archived() {
    let server = TestServer::start().await;
    server.create(SEGMENTS, &buyer_segment("a", 1)).await;
    server.create(SEGMENTS, &buyer_segment("lonely", 1)).await;
    let referrer = json!({"schema": 1, "id": "b", "name": "B", "rule": {"not": {"segment": "a"}}});
    server.create(SEGMENTS, &referrer).await;
    server
        .create(CAMPAIGNS, &campaign("promo", &["lonely"], "a"))
        .await;

    let archive = |id: &str| format!("{SEGMENTS}/{id}/archive");
    let refused = server.admin_post(&archive("a"), &json!({})).await;
    assert_eq!(
        error_message(&refused, StatusCode::CONFLICT, "conflict"),
        "segment \"a\" is still used by segment \"b\", campaign \"promo\"; change or archive them first"
    );
    let refused = server.admin_post(&archive("lonely"), &json!({})).await;
    assert_eq!(
        error_message(&refused, StatusCode::CONFLICT, "conflict"),
        "segment \"lonely\" is still used by campaign \"promo\"; change or archive them first"
    );
    let (_, a) = server.admin_get(&format!("{SEGMENTS}/a")).await;
    assert_eq!(a["status"], "active");

    // Once the referrers are gone, archiving goes through.
    let (status, _) = server.admin_post(&archive("b"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .admin_post(&format!("{CAMPAIGNS}/promo/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for id in ["a", "lonely"] {
        let (status, record) = server.admin_post(&archive(id), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{record}");
        assert_eq!(record["status"], "archived");
    }
}

#[tokio::test]
async fn every_admin_route_requires_the_admin_token() {
    let server = TestServer::start().await;
    server.create(SEGMENTS, &buyer_segment("a", 1)).await;
    let routes = [
        (Method::GET, SEGMENTS.to_string()),
        (Method::POST, SEGMENTS.to_string()),
        (Method::GET, format!("{SEGMENTS}/a")),
        (Method::PUT, format!("{SEGMENTS}/a")),
        (Method::POST, format!("{SEGMENTS}/a/archive")),
        (Method::GET, format!("{SEGMENTS}/a/size")),
        (Method::GET, format!("{SEGMENTS}/a/members?source=device")),
        (Method::GET, CAMPAIGNS.to_string()),
        (Method::POST, CAMPAIGNS.to_string()),
        (Method::GET, format!("{CAMPAIGNS}/c")),
        (Method::PUT, format!("{CAMPAIGNS}/c")),
        (Method::POST, format!("{CAMPAIGNS}/c/archive")),
    ];
    for (method, path) in routes {
        let url = server.endpoint(&path);
        let body = buyer_segment("a", 5).to_string();
        let none = server.http.request(method.clone(), &url).body(body.clone());
        let wrong = server
            .http
            .request(method.clone(), &url)
            .bearer_auth("wrong")
            .body(body.clone());
        let app_key = server
            .http
            .request(method.clone(), &url)
            .header(beckon::protocol::APP_KEY_HEADER, APP_KEY)
            .body(body);
        for request in [none, wrong, app_key] {
            let response = request.send().await.unwrap();
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
    let (_, a) = server.admin_get(&format!("{SEGMENTS}/a")).await;
    assert_eq!(
        (&a["status"], &a["version"]),
        (&json!("active"), &json!(1)),
        "unchanged"
    );
}

#[tokio::test]
async fn a_new_database_starts_with_the_builtin_segments_once() {
    let mut server = TestServer::start_with_builtins().await;
    let ids = |listed: &Value| -> Vec<(String, String)> {
        listed["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (status, listed) = server.admin_get(SEGMENTS).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected: Vec<String> = beckon::segments::templates::builtin()
        .into_iter()
        .map(|d| d.id)
        .collect();
    expected.sort();
    let mut found: Vec<String> = ids(&listed).into_iter().map(|(id, _)| id).collect();
    found.sort();
    assert_eq!(found, expected);

    // An admin's choice sticks: an archived built-in is not brought back on restart.
    let (status, _) = server
        .admin_post(&format!("{SEGMENTS}/high_spender/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    server.restart().await;
    let (_, listed) = server.admin_get(SEGMENTS).await;
    let listed = ids(&listed);
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    assert!(listed.contains(&("high_spender".into(), "archived".into())));
}

#[tokio::test]
async fn explain_says_which_clause_decided_for_one_user() {
    let server = TestServer::start_with_builtins().await;
    let now = chrono::Utc::now();
    let (status, answer) = server
        .send(&batch(vec![event_at(
            "Product Added",
            now - chrono::TimeDelta::hours(2),
        )]))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let explain = |user: &str| format!("{SEGMENTS}/cart_abandoner/explain?user={user}");

    let (status, inside) = server.admin_get(&explain("user-1")).await;
    assert_eq!(status, StatusCode::OK, "{inside}");
    assert_eq!(inside["member"], true);
    let because = inside["because"].as_str().unwrap();
    assert!(
        because.starts_with("in \"cart_abandoner\" because "),
        "{because}"
    );
    let paths: Vec<&str> = inside["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["rule.all[0]", "rule.all[1]"], "{inside}");

    // An order since the add: out, and the clause that failed is the one named.
    let (status, _) = server
        .send(&batch(vec![event_at(
            "Order Completed",
            now - chrono::TimeDelta::hours(1),
        )]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, outside) = server.admin_get(&explain("user-1")).await;
    assert_eq!(outside["member"], false, "{outside}");
    assert_eq!(outside["clauses"][0]["path"], "rule.all[1]", "{outside}");
    assert_eq!(outside["clauses"][0]["holds"], false, "{outside}");

    let answer = server.admin_get(&explain("nobody")).await;
    assert!(error_message(&answer, StatusCode::NOT_FOUND, "not_found").contains("nobody"));
    let answer = server
        .admin_get(&format!("{SEGMENTS}/cart_abandoner/explain"))
        .await;
    assert!(error_message(&answer, StatusCode::BAD_REQUEST, "bad_request").contains("user"));
}
