//! Channel permissions, push tokens and profiles end to end: devices report them as
//! events through `POST /v1/batch`, the admin reads and changes them under
//! `/v1/admin/users`, devices read them back from `GET /v1/permissions`.

mod common;

use beckon::consent::{Channel, PermissionState};
use beckon::protocol::{
    ConsentReport, PermissionsDocument, PushProvider, APP_KEY_HEADER, PERMISSIONS_PATH,
    SEGMENT_ENTERED,
};
use beckon_server::store::{AudienceStore, SqliteStore};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const USERS: &str = "/v1/admin/users";

fn report_at(
    report: &ConsentReport,
    anonymous_id: &str,
    user_id: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let mut event = event_at(report.event_name(), at);
    event["properties"] = Value::Object(report.properties());
    event["anonymous_id"] = json!(anonymous_id);
    event["user_id"] = user_id.map_or(Value::Null, |id| json!(id));
    event
}

fn permission(channel: Channel, state: PermissionState) -> ConsentReport {
    ConsentReport::PermissionChanged {
        channel,
        state,
        source: "settings_screen".into(),
    }
}

fn token(provider: PushProvider, token: &str) -> ConsentReport {
    ConsentReport::PushTokenRegistered {
        provider,
        token: token.into(),
    }
}

async fn upload(server: &TestServer, events: Vec<Value>) -> Value {
    let (status, answer) = server.send(&batch(events)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    answer
}

async fn user_view(server: &TestServer, user_key: &str) -> Value {
    let (status, body) = server.admin_get(&format!("{USERS}/{user_key}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn history(server: &TestServer, user_key: &str) -> Vec<Value> {
    let (status, body) = server
        .admin_get(&format!("{USERS}/{user_key}/permissions/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["history"].as_array().unwrap().clone()
}

async fn device_permissions(server: &TestServer, query: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(format!("{}?{query}", server.endpoint(PERMISSIONS_PATH)))
        .header(APP_KEY_HEADER, APP_KEY)
        .send()
        .await
        .unwrap();
    json_answer(response).await
}

async fn device_document(server: &TestServer, query: &str) -> PermissionsDocument {
    let (status, body) = device_permissions(server, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).expect("a permissions document")
}

fn states(document: &PermissionsDocument) -> Vec<(Channel, PermissionState)> {
    document
        .permissions
        .iter()
        .map(|p| (p.channel, p.state))
        .collect()
}

async fn set_permission(
    server: &TestServer,
    user_key: &str,
    channel: &str,
    body: Value,
) -> (StatusCode, Value) {
    server
        .admin_put(&format!("{USERS}/{user_key}/permissions/{channel}"), &body)
        .await
}

#[tokio::test]
async fn what_a_device_reports_shows_in_the_admin_user_view() {
    let mut server = TestServer::start().await;
    let now = Utc::now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let mut identify = event_at("ignored", ago(10));
    identify["type"] = json!("identify");
    identify.as_object_mut().unwrap().remove("name");
    identify["anonymous_id"] = json!("phone-1");
    identify["user_id"] = json!("ana");
    identify["traits"] =
        json!({"first_name": "Ana", "email": "ana@example.pt", "phone": "+351910000000"});
    identify["context"] = json!({"timezone": "Europe/Lisbon", "locale": "pt_PT", "country": "pt"});
    let mut entered = event_at(SEGMENT_ENTERED, ago(9));
    entered["properties"] = json!({"segment_id": "vip"});
    entered["anonymous_id"] = json!("phone-1");
    entered["user_id"] = json!("ana");
    upload(
        &server,
        vec![
            identify,
            report_at(
                &permission(Channel::Sms, PermissionState::OptedIn),
                "phone-1",
                Some("ana"),
                ago(8),
            ),
            report_at(
                &permission(Channel::Email, PermissionState::Unsubscribed),
                "phone-1",
                Some("ana"),
                ago(7),
            ),
            report_at(
                &ConsentReport::PushPermissionChanged { granted: true },
                "phone-1",
                Some("ana"),
                ago(6),
            ),
            report_at(
                &token(PushProvider::Fcm, "fcm-token-1"),
                "phone-1",
                Some("ana"),
                ago(5),
            ),
            entered,
        ],
    )
    .await;

    // The same after a restart: all of it is in the database.
    server.restart().await;
    let view = user_view(&server, "ana").await;
    assert_eq!(view["user_key"], "ana");
    let profile = &view["profile"];
    assert_eq!(profile["timezone"], "Europe/Lisbon");
    assert_eq!(profile["locale"], "pt-PT");
    assert_eq!(profile["country"], "PT");
    assert_eq!(profile["traits"]["first_name"], "Ana");
    assert_eq!(profile["traits"]["email"], "ana@example.pt");
    let permissions: Vec<(&str, &str, &str)> = view["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["channel"].as_str().unwrap(),
                p["state"].as_str().unwrap(),
                p["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        permissions,
        [
            ("email", "unsubscribed", "settings_screen"),
            ("sms", "opted_in", "settings_screen")
        ]
    );
    assert_eq!(
        view["reachable"],
        json!({"push": true, "in_app": true, "email": false, "sms": true, "whatsapp": false})
    );
    let devices = view["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["anonymous_id"], "phone-1");
    assert_eq!(devices[0]["os_permission"], true);
    let tokens = devices[0]["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["provider"], "fcm");
    assert_eq!(tokens[0]["token"], "fcm-token-1");
    assert_eq!(tokens[0]["removed_at"], Value::Null);
    assert_eq!(view["segments"], json!(["vip"]));

    let history = history(&server, "ana").await;
    assert_eq!(history.len(), 2);
    assert!(history
        .iter()
        .all(|c| c["origin"] == "device" && c["applied"] == true));
    assert_eq!(
        device_document(&server, "user_id=ana")
            .await
            .permissions
            .len(),
        2
    );
}

#[tokio::test]
async fn out_of_order_changes_converge_and_a_retried_batch_adds_no_history() {
    let server = TestServer::start().await;
    let now = Utc::now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let later = report_at(
        &permission(Channel::Email, PermissionState::Unsubscribed),
        "phone-1",
        Some("ana"),
        ago(5),
    );
    let earlier = report_at(
        &permission(Channel::Email, PermissionState::OptedIn),
        "phone-2",
        Some("ana"),
        ago(30),
    );
    upload(&server, vec![later.clone()]).await;
    upload(&server, vec![earlier.clone()]).await;
    let document = device_document(&server, "user_id=ana").await;
    assert_eq!(
        states(&document),
        [(Channel::Email, PermissionState::Unsubscribed)]
    );

    // Both devices' batches again, as retries after lost answers.
    for retried in [later, earlier] {
        let (status, answer) = server.send(&batch(vec![retried])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
            (Some(0), Some(1))
        );
    }
    let history = history(&server, "ana").await;
    let entries: Vec<(&str, bool)> = history
        .iter()
        .map(|c| {
            (
                c["state"].as_str().unwrap(),
                c["applied"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries, [("opted_in", false), ("unsubscribed", true)]);
    assert_eq!(
        states(&device_document(&server, "user_id=ana").await),
        [(Channel::Email, PermissionState::Unsubscribed)]
    );
}

#[tokio::test]
async fn an_admin_change_reaches_the_device_and_only_a_later_device_change_overrides_it() {
    let server = TestServer::start().await;
    let now = Utc::now();
    upload(
        &server,
        vec![report_at(
            &permission(Channel::Email, PermissionState::OptedIn),
            "phone-1",
            Some("ana"),
            now - TimeDelta::hours(1),
        )],
    )
    .await;
    let (status, answer) = set_permission(
        &server,
        "ana",
        "email",
        json!({"state": "unsubscribed", "source": "unsubscribe_link"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"], true);
    assert_eq!(answer["permission"]["state"], "unsubscribed");
    assert_eq!(answer["permission"]["source"], "unsubscribe_link");

    let document = device_document(&server, "user_id=ana").await;
    assert_eq!(document.user_key, "ana");
    assert_eq!(
        states(&document),
        [(Channel::Email, PermissionState::Unsubscribed)]
    );
    assert_eq!(document.permissions[0].source, "unsubscribe_link");

    // A device change made before the unsubscribe but uploaded after it does not undo it.
    upload(
        &server,
        vec![report_at(
            &permission(Channel::Email, PermissionState::OptedIn),
            "phone-1",
            Some("ana"),
            now - TimeDelta::minutes(30),
        )],
    )
    .await;
    assert_eq!(
        states(&device_document(&server, "user_id=ana").await),
        [(Channel::Email, PermissionState::Unsubscribed)]
    );
    // The user opting in again afterwards does.
    upload(
        &server,
        vec![report_at(
            &permission(Channel::Email, PermissionState::OptedIn),
            "phone-1",
            Some("ana"),
            Utc::now() + TimeDelta::minutes(1),
        )],
    )
    .await;
    assert_eq!(
        states(&device_document(&server, "user_id=ana").await),
        [(Channel::Email, PermissionState::OptedIn)]
    );
    let origins: Vec<String> = history(&server, "ana")
        .await
        .iter()
        .map(|c| c["origin"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(origins, ["device", "device", "server", "device"]);

    // Without a source the change is the server's; a user no event named can be set.
    let (status, answer) = set_permission(
        &server,
        "web-only",
        "whatsapp",
        json!({"state": "opted_in"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["permission"]["source"], "server");
    assert_eq!(
        states(&device_document(&server, "user_id=web-only").await),
        [(Channel::Whatsapp, PermissionState::OptedIn)]
    );
    let view = user_view(&server, "web-only").await;
    assert_eq!(view["profile"], Value::Null);
    assert_eq!(view["reachable"]["whatsapp"], false, "no phone number");
}

#[tokio::test]
async fn an_anonymous_device_keeps_its_choices_when_the_user_signs_in() {
    let server = TestServer::start().await;
    let now = Utc::now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    upload(
        &server,
        vec![
            report_at(
                &permission(Channel::Push, PermissionState::Unsubscribed),
                "phone-9",
                None,
                ago(20),
            ),
            report_at(
                &token(
                    PushProvider::Apns,
                    "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
                ),
                "phone-9",
                None,
                ago(19),
            ),
            report_at(
                &ConsentReport::PushPermissionChanged { granted: true },
                "phone-9",
                None,
                ago(19),
            ),
        ],
    )
    .await;
    let anonymous = device_document(&server, "anonymous_id=phone-9").await;
    assert_eq!(anonymous.user_key, "phone-9");
    assert_eq!(
        states(&anonymous),
        [(Channel::Push, PermissionState::Unsubscribed)]
    );
    // user_id wins when both are given, as for events.
    assert!(device_document(&server, "user_id=rui&anonymous_id=phone-9")
        .await
        .permissions
        .is_empty());

    let mut signed_in = event_at("Product Viewed", ago(10));
    signed_in["anonymous_id"] = json!("phone-9");
    signed_in["user_id"] = json!("rui");
    upload(&server, vec![signed_in]).await;
    assert_eq!(
        states(&device_document(&server, "user_id=rui").await),
        [(Channel::Push, PermissionState::Unsubscribed)]
    );
    let view = user_view(&server, "rui").await;
    assert_eq!(view["devices"][0]["anonymous_id"], "phone-9");
    assert_eq!(
        view["devices"][0]["tokens"][0]["token"],
        "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
    );
    assert_eq!(view["devices"][0]["os_permission"], true);
    assert_eq!(view["reachable"]["push"], false, "push was turned off");
    let history = history(&server, "rui").await;
    assert_eq!(history[0]["origin"], "identify");
    assert_eq!(history[0]["anonymous_id"], "phone-9");
}

#[tokio::test]
async fn a_token_moves_to_the_device_that_registers_it_and_a_provider_drop_removes_it() {
    let server = TestServer::start().await;
    let now = Utc::now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let granted = ConsentReport::PushPermissionChanged { granted: true };
    upload(
        &server,
        vec![
            report_at(&granted, "old-phone", Some("ana"), ago(30)),
            report_at(
                &token(PushProvider::Fcm, "moving-token"),
                "old-phone",
                Some("ana"),
                ago(30),
            ),
            report_at(&granted, "new-phone", Some("rui"), ago(10)),
            report_at(
                &token(PushProvider::Fcm, "moving-token"),
                "new-phone",
                Some("rui"),
                ago(10),
            ),
        ],
    )
    .await;
    let ana = user_view(&server, "ana").await;
    assert_eq!(ana["devices"][0]["tokens"], json!([]));
    assert_eq!(ana["reachable"]["push"], false);
    let rui = user_view(&server, "rui").await;
    assert_eq!(rui["devices"][0]["tokens"][0]["token"], "moving-token");
    assert_eq!(rui["reachable"]["push"], true);

    // The send pipeline hears "unregistered" from the provider. A second store on the
    // same database, as another server instance would have.
    let store = SqliteStore::open(&server.db_path()).unwrap();
    assert_eq!(store.push_targets("rui").unwrap().len(), 1);
    assert!(store
        .drop_push_token("moving-token", "unregistered")
        .unwrap());
    assert!(!store
        .drop_push_token("moving-token", "unregistered")
        .unwrap());
    assert!(store.push_targets("rui").unwrap().is_empty());
    drop(store);

    let rui = user_view(&server, "rui").await;
    let token = &rui["devices"][0]["tokens"][0];
    assert_eq!(token["removed_reason"], "unregistered");
    assert!(token["removed_at"].is_string());
    assert_eq!(rui["reachable"]["push"], false);
    // A registration the device made before the drop, heard late, does not revive it.
    upload(
        &server,
        vec![report_at(&token_report(), "new-phone", Some("rui"), ago(5))],
    )
    .await;
    assert_eq!(user_view(&server, "rui").await["reachable"]["push"], false);
}

fn token_report() -> ConsentReport {
    token(PushProvider::Fcm, "moving-token")
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let server = TestServer::start().await;
    upload(
        &server,
        vec![report_at(
            &permission(Channel::Email, PermissionState::OptedIn),
            "phone-1",
            Some("ana"),
            Utc::now(),
        )],
    )
    .await;

    let cases = [
        (
            "ana",
            "fax",
            json!({"state": "opted_in"}),
            "unknown channel \"fax\"; expected one of push, in_app, email, sms, whatsapp",
        ),
        (
            "ana",
            "email",
            json!({"state": "yes"}),
            "state: unknown state \"yes\"; expected one of subscribed, opted_in, unsubscribed",
        ),
        (
            "ana",
            "email",
            json!({"source": "x"}),
            "missing field `state`",
        ),
        (
            "ana",
            "email",
            json!({"state": "opted_in", "status": "x"}),
            "unknown field `status`",
        ),
        (
            "ana",
            "email",
            json!({"state": "opted_in", "source": ""}),
            "source: must not be empty",
        ),
        (
            "ana",
            "email",
            json!(["opted_in"]),
            "the body is not a permission",
        ),
    ];
    for (user, channel, body, expected) in cases {
        let answer = set_permission(&server, user, channel, body).await;
        let message = error_message(&answer, StatusCode::BAD_REQUEST, "bad_request");
        assert!(message.contains(expected), "{message}");
    }
    let response = server
        .admin(Method::PUT, &format!("{USERS}/ana/permissions/email"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("not valid JSON"), "{message}");
    let long_user = "u".repeat(300);
    let answer = set_permission(&server, &long_user, "email", json!({"state": "opted_in"})).await;
    let message = error_message(&answer, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.starts_with("user_key: is 300 bytes"), "{message}");

    // Nothing of that changed anything.
    assert_eq!(
        states(&device_document(&server, "user_id=ana").await),
        [(Channel::Email, PermissionState::OptedIn)]
    );
    assert_eq!(history(&server, "ana").await.len(), 1);

    // The device endpoint: a user is required, and the app key.
    for (query, expected) in [
        ("", "user_id or anonymous_id is required"),
        ("user=ana", "user_id or anonymous_id is required"),
        ("user_id=", "user_id: must not be empty"),
        ("anonymous_id=%20", "anonymous_id: must not be empty"),
    ] {
        let answer = device_permissions(&server, query).await;
        let message = error_message(&answer, StatusCode::BAD_REQUEST, "bad_request");
        assert!(message.contains(expected), "{query}: {message}");
    }
    let unknown = device_document(&server, "user_id=nobody").await;
    assert!(
        unknown.permissions.is_empty(),
        "nothing set is not an error"
    );
    let response = server
        .http
        .get(format!("{}?user_id=ana", server.endpoint(PERMISSIONS_PATH)))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = server
        .http
        .get(server.endpoint(&format!("{USERS}/ana")))
        .header(APP_KEY_HEADER, APP_KEY)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Users no event, permission or device names.
    for path in [
        format!("{USERS}/nobody"),
        format!("{USERS}/nobody/permissions/history"),
    ] {
        let answer = server.admin_get(&path).await;
        let message = error_message(&answer, StatusCode::NOT_FOUND, "not_found");
        assert!(message.contains("no user \"nobody\""), "{message}");
    }

    // Malformed consent events are refused one by one, with the reason, and not stored.
    let bad_channel = report_at(
        &permission(Channel::Sms, PermissionState::OptedIn),
        "phone-1",
        Some("ana"),
        Utc::now(),
    );
    let mut bad_channel = bad_channel;
    bad_channel["properties"]["channel"] = json!("fax");
    let mut bad_token = report_at(
        &token(PushProvider::Apns, "abcd"),
        "phone-1",
        Some("ana"),
        Utc::now(),
    );
    bad_token["properties"]["token"] = json!("not hex");
    let fine = event("Product Viewed");
    let (status, answer) = server
        .send(&batch(vec![bad_channel, bad_token, fine]))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 0);
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("properties.channel: unknown channel \"fax\""),
        "{answer}"
    );
    assert_eq!(
        rejected[1]["error"],
        "properties.token: an APNs token is hexadecimal; found 'n' at byte 0"
    );
    assert_eq!(history(&server, "ana").await.len(), 1);
    assert_eq!(
        user_view(&server, "ana").await["devices"][0]["tokens"],
        json!([])
    );
}
