//! `/v1/admin/campaigns` against a real server: CRUD, archiving, validation by the
//! shared campaign parser, references to segments.

mod common;

use beckon::messages::Campaign;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn server_with_segments(ids: &[&str]) -> TestServer {
    let server = TestServer::start().await;
    for id in ids {
        server.create(SEGMENTS, &buyer_segment(id, 1)).await;
    }
    server
}

fn refused(answer: (StatusCode, Value)) -> String {
    error_message(&answer, StatusCode::BAD_REQUEST, "bad_request")
}

#[tokio::test]
async fn campaigns_are_created_read_updated_and_archived() {
    let server = server_with_segments(&["buyer", "vip"]).await;
    let definition = campaign("nudge", &["buyer"], "vip");
    let created = server.create(CAMPAIGNS, &definition).await;
    assert_eq!(
        (&created["id"], &created["status"], &created["version"]),
        (&json!("nudge"), &json!("active"), &json!(1))
    );
    let stored = Campaign::from_value(&created["definition"]).expect("stored JSON reads back");
    assert_eq!(stored, Campaign::from_value(&definition).unwrap());
    assert_eq!(
        server.admin_get(&format!("{CAMPAIGNS}/nudge")).await,
        (StatusCode::OK, created.clone())
    );

    let mut paused = definition.clone();
    paused["status"] = json!("paused");
    paused["priority"] = json!(10);
    let (status, updated) = server
        .admin_put(&format!("{CAMPAIGNS}/nudge"), &paused)
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["definition"]["status"], "paused");
    assert_eq!(updated["definition"]["priority"], 10);

    let (status, archived) = server
        .admin_post(&format!("{CAMPAIGNS}/nudge/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert_eq!(archived["status"], "archived");
    assert_eq!(archived["version"], 3);
    assert_eq!(
        archived["definition"]["status"], "archived",
        "the stored definition agrees with the record"
    );
    let frozen = server
        .admin_put(&format!("{CAMPAIGNS}/nudge"), &definition)
        .await;
    assert_eq!(
        error_message(&frozen, StatusCode::CONFLICT, "conflict"),
        "campaign \"nudge\" is archived; archived campaigns cannot be changed"
    );
    let reused = server.admin_post(CAMPAIGNS, &definition).await;
    assert_eq!(
        error_message(&reused, StatusCode::CONFLICT, "conflict"),
        "campaign \"nudge\" already exists (archived); ids are never reused"
    );

    server
        .create(CAMPAIGNS, &campaign("another", &[], "buyer"))
        .await;
    let (_, list) = server.admin_get(CAMPAIGNS).await;
    let summary: Vec<(&str, &str)> = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [("another", "active"), ("nudge", "archived")]);
    let missing = server.admin_get(&format!("{CAMPAIGNS}/nope")).await;
    assert_eq!(
        error_message(&missing, StatusCode::NOT_FOUND, "not_found"),
        "campaign \"nope\" does not exist"
    );
}

#[tokio::test]
async fn templates_and_fields_are_checked_when_the_campaign_is_created() {
    let server = server_with_segments(&["buyer"]).await;
    let mut typo = campaign("typo", &["buyer"], "buyer");
    typo["variants"]["en"]["body"] = json!("Hi {{frist_name}}!");
    assert_eq!(
        refused(server.admin_post(CAMPAIGNS, &typo).await),
        "variants.en.body: \"{{frist_name}}\" at column 4 is not a known field; did you mean first_name?"
    );
    let mut both = typo.clone();
    both["colour"] = json!("red");
    assert_eq!(
        refused(server.admin_post(CAMPAIGNS, &both).await),
        "colour: is not a known field; known fields are schema_version, id, name, status, \
         trigger, audience, priority, starts_at, ends_at, cap, free_shipping_threshold, \
         default_locale, variants; \
         variants.en.body: \"{{frist_name}}\" at column 4 is not a known field; did you mean first_name?"
    );
    let mut archived = campaign("archived", &["buyer"], "buyer");
    archived["status"] = json!("archived");
    assert_eq!(
        refused(server.admin_post(CAMPAIGNS, &archived).await),
        "status: \"archived\" is set with POST /v1/admin/campaigns/{id}/archive; use \"active\" or \"paused\""
    );
    let (_, list) = server.admin_get(CAMPAIGNS).await;
    assert_eq!(list, json!({"campaigns": []}));
}

#[tokio::test]
async fn campaigns_may_only_name_active_segments() {
    let server = server_with_segments(&["buyer", "old"]).await;
    let (status, _) = server
        .admin_post(&format!("{SEGMENTS}/old/archive"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut definition = campaign("nudge", &["buyer", "nope"], "old");
    definition["audience"]["exclude"] = json!(["ghost"]);
    assert_eq!(
        refused(server.admin_post(CAMPAIGNS, &definition).await),
        "audience.segments[1]: \"nope\" is not a defined segment; \
         audience.exclude[0]: \"ghost\" is not a defined segment; \
         trigger.segment_entered: \"old\" is not a defined segment (it is archived)"
    );

    server
        .create(CAMPAIGNS, &campaign("nudge", &["buyer"], "buyer"))
        .await;
    let update = campaign("nudge", &["buyer"], "old");
    assert_eq!(
        refused(
            server
                .admin_put(&format!("{CAMPAIGNS}/nudge"), &update)
                .await
        ),
        "trigger.segment_entered: \"old\" is not a defined segment (it is archived)"
    );
    let (_, stored) = server.admin_get(&format!("{CAMPAIGNS}/nudge")).await;
    assert_eq!(stored["version"], 1);
}
