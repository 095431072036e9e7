//! Verified identities through real HTTP: with verification required, the public app key
//! no longer lets anyone read or change another user's data, and device times cannot
//! be forged forward.

mod common;

use beckon::consent::{Channel, PermissionState};
use beckon::protocol::{
    ConsentReport, PushProvider, APP_KEY_HEADER, BATCH_PATH, IDENTITY_TOKEN_HEADER,
    PERMISSIONS_PATH,
};
use beckon_server::delivery::KeySource;
use beckon_server::identity::hmac;
use beckon_server::ServerConfig;
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const SECRET: &str = "identity-secret-of-the-shop";
/// Verification is required for [`APP_KEY`], optional for this one, off for [`LEGACY`].
const ROLLOUT: &str = "other-app-key";
const LEGACY: &str = "legacy-app-key";
const ES256_PRIVATE: &str = include_str!("fixtures/identity/es256-private.pem");
const ES256_PUBLIC: &str = include_str!("fixtures/identity/es256-public.pem");
const USERS: &str = "/v1/admin/users";

fn verifying(config: &mut ServerConfig) {
    config.app_keys.push(LEGACY.into());
    let identity = &mut config.identity;
    identity.hmac_secrets = vec![SECRET.into()];
    identity.jwt_keys = vec![KeySource::Inline(ES256_PUBLIC.into())];
    identity
        .set_enforcement(&[
            "required".into(),
            format!("{ROLLOUT}=optional"),
            format!("{LEGACY}=off"),
        ])
        .unwrap();
}

async fn verifying_server() -> TestServer {
    TestServer::start_configured(false, verifying).await
}

fn token(user_id: &str) -> String {
    hmac::sign(SECRET.as_bytes(), user_id)
}

fn jwt(user_id: &str, expires: DateTime<Utc>) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &json!({"sub": user_id, "exp": expires.timestamp()}),
        &EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// An event of `user_id` (or of the install alone) from install `anonymous_id`.
fn event_of(name: &str, anonymous_id: &str, user_id: Option<&str>) -> Value {
    let mut event = event(name);
    event["anonymous_id"] = json!(anonymous_id);
    event["user_id"] = user_id.map_or(Value::Null, |id| json!(id));
    event
}

fn report(report: &ConsentReport, anonymous_id: &str, user_id: Option<&str>) -> Value {
    let mut event = event_of(report.event_name(), anonymous_id, user_id);
    event["properties"] = Value::Object(report.properties());
    event
}

fn opt(channel: Channel, state: PermissionState) -> ConsentReport {
    ConsentReport::PermissionChanged {
        channel,
        state,
        source: "settings_screen".into(),
    }
}

/// Posts `events` with `app_key` and the given identity tokens.
async fn post(
    server: &TestServer,
    app_key: &str,
    tokens: &[(&str, &str)],
    events: Vec<Value>,
) -> (StatusCode, Value) {
    let mut body = batch(events);
    let tokens: serde_json::Map<String, Value> = tokens
        .iter()
        .map(|(user, token)| (user.to_string(), json!(token)))
        .collect();
    body["identity_tokens"] = Value::Object(tokens);
    let response = server
        .http
        .post(server.endpoint(BATCH_PATH))
        .header(APP_KEY_HEADER, app_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    json_answer(response).await
}

async fn read_permissions(
    server: &TestServer,
    query: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .get(format!("{}?{query}", server.endpoint(PERMISSIONS_PATH)))
        .header(APP_KEY_HEADER, APP_KEY);
    if let Some(token) = token {
        request = request.header(IDENTITY_TOKEN_HEADER, token);
    }
    json_answer(request.send().await.unwrap()).await
}

fn refused_users(answer: &Value) -> Vec<(String, String)> {
    answer["error"]["identity"]
        .as_array()
        .expect("the refused identities")
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_string(),
                r["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn channel_state(document: &Value, channel: &str) -> Option<String> {
    document["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == channel)
        .map(|p| p["state"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_user_id_needs_its_own_valid_token_to_be_written() {
    let server = verifying_server().await;
    let alice_phone = Uuid::new_v4().to_string();
    let alice_token = token("alice");
    let (status, answer) = post(
        &server,
        APP_KEY,
        &[("alice", &alice_token)],
        vec![
            event_of("Product Viewed", &alice_phone, Some("alice")),
            report(
                &opt(Channel::Sms, PermissionState::OptedIn),
                &alice_phone,
                Some("alice"),
            ),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2);

    let mallory_phone = Uuid::new_v4().to_string();
    let forged = report(
        &opt(Channel::Sms, PermissionState::Unsubscribed),
        &mallory_phone,
        Some("alice"),
    );
    // No token, another user's token, a malformed one, one signed with another secret.
    let wrong_secret = hmac::sign(b"some-other-secret-value", "alice");
    for (tokens, problem) in [
        (vec![], "missing"),
        (vec![("alice", token("mallory"))], "invalid"),
        (vec![("alice", "not-a-token".to_string())], "invalid"),
        (vec![("alice", wrong_secret)], "invalid"),
    ] {
        let tokens: Vec<(&str, &str)> = tokens.iter().map(|(u, t)| (*u, t.as_str())).collect();
        let answer = post(&server, APP_KEY, &tokens, vec![forged.clone()]).await;
        let message = error_message(
            &answer,
            StatusCode::UNAUTHORIZED,
            &format!("identity_token_{problem}"),
        );
        assert!(message.contains("alice"), "{message}");
        assert_eq!(
            refused_users(&answer.1),
            [("alice".to_string(), problem.to_string())]
        );
    }
    // A batch mixing a verified user and a forged one is refused whole.
    let mallory_token = token("mallory");
    let answer = post(
        &server,
        APP_KEY,
        &[("mallory", &mallory_token)],
        vec![
            event_of("Product Viewed", &mallory_phone, Some("mallory")),
            forged.clone(),
        ],
    )
    .await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_missing");

    let stored = server.export_all().await;
    assert_eq!(stored.len(), 2, "nothing of the refused batches was stored");
    let (status, document) =
        read_permissions(&server, "user_id=alice", Some(&token("alice"))).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_eq!(channel_state(&document, "sms").as_deref(), Some("opted_in"));
    assert_eq!(
        server
            .metric(r#"beckon_identity_refused_requests_total{reason="invalid"}"#)
            .await,
        3.0
    );
    assert_eq!(
        server
            .metric(r#"beckon_identity_refused_requests_total{reason="missing"}"#)
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric(r#"beckon_identity_refused_events_total{reason="missing"}"#)
            .await,
        2.0,
        "the forged event of each batch refused for a missing token"
    );
}

#[tokio::test]
async fn a_users_permissions_are_read_only_with_the_users_token() {
    let server = verifying_server().await;
    let phone = Uuid::new_v4().to_string();
    let alice_token = token("alice");
    let (status, _) = post(
        &server,
        APP_KEY,
        &[("alice", &alice_token)],
        vec![report(
            &opt(Channel::Email, PermissionState::Unsubscribed),
            &phone,
            Some("alice"),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The read of the issue: the public app key alone no longer reveals alice's choices.
    let answer = read_permissions(&server, "user_id=alice", None).await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_missing");
    let answer = read_permissions(&server, "user_id=alice", Some(&token("mallory"))).await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_invalid");
    let (status, document) = read_permissions(&server, "user_id=alice", Some(&alice_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        channel_state(&document, "email").as_deref(),
        Some("unsubscribed")
    );

    // Nor does naming alice as an anonymous id, or guessing at non-UUID ids.
    let answer = read_permissions(&server, "anonymous_id=alice", None).await;
    error_message(&answer, StatusCode::BAD_REQUEST, "bad_request");
    // The install's own anonymous id still reads the install's anonymous choices.
    let (status, _) = read_permissions(&server, &format!("anonymous_id={phone}"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_jwt_is_refused_as_expired_and_a_fresh_one_is_accepted() {
    let server = verifying_server().await;
    let phone = Uuid::new_v4().to_string();
    let events = || vec![event_of("Cart Viewed", &phone, Some("alice"))];
    let stale = jwt("alice", Utc::now() - TimeDelta::minutes(10));
    let answer = post(&server, APP_KEY, &[("alice", &stale)], events()).await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_expired");
    assert_eq!(
        refused_users(&answer.1),
        [("alice".to_string(), "expired".to_string())]
    );
    let fresh = jwt("alice", Utc::now() + TimeDelta::minutes(10));
    let (status, answer) = post(&server, APP_KEY, &[("alice", &fresh)], events()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let bob_with_alice_jwt = post(
        &server,
        APP_KEY,
        &[("bob", &fresh)],
        vec![event_of("Cart Viewed", &phone, Some("bob"))],
    )
    .await;
    error_message(
        &bob_with_alice_jwt,
        StatusCode::UNAUTHORIZED,
        "identity_token_invalid",
    );
}

#[tokio::test]
async fn anonymous_ids_must_be_random_and_can_never_be_a_users_id() {
    let server = verifying_server().await;
    // Shops often use UUIDs as user ids: a device could try one as its anonymous id.
    let user_uuid = Uuid::new_v4().to_string();
    let user_token = token(&user_uuid);
    let phone = Uuid::new_v4().to_string();
    let (status, answer) = post(
        &server,
        APP_KEY,
        &[(user_uuid.as_str(), user_token.as_str())],
        vec![report(
            &opt(Channel::Whatsapp, PermissionState::Unsubscribed),
            &phone,
            Some(&user_uuid),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let forgeries = || {
        vec![
            // The forger's own install, anonymous: fine.
            event_of("Product Viewed", &Uuid::new_v4().to_string(), None),
            // Posing as the user through the anonymous id.
            report(
                &opt(Channel::Whatsapp, PermissionState::OptedIn),
                &user_uuid,
                None,
            ),
            // An anonymous id nobody could have made at random.
            event_of("Product Viewed", "victim", None),
            // Posing as the install through a user id.
            event_of("Product Viewed", &Uuid::new_v4().to_string(), Some(&phone)),
        ]
    };
    // The last event names `phone` as a user without a token: the batch is refused.
    let (status, answer) = post(&server, APP_KEY, &[], forgeries()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    // With a token the server signed for that name, each forgery is refused alone.
    let phone_token = token(&phone);
    let (status, answer) = post(
        &server,
        APP_KEY,
        &[(phone.as_str(), phone_token.as_str())],
        forgeries(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let rejected: Vec<(u64, String)> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 3, "{answer}");
    assert_eq!(rejected[0].0, 1);
    assert!(rejected[0].1.contains("is a user's id"), "{rejected:?}");
    assert_eq!(rejected[1].0, 2);
    assert!(rejected[1].1.contains("must be a UUID"), "{rejected:?}");
    assert_eq!(rejected[2].0, 3);
    assert!(rejected[2].1.contains("anonymous id"), "{rejected:?}");

    let answer = read_permissions(&server, &format!("anonymous_id={user_uuid}"), None).await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_missing");
    let (status, document) =
        read_permissions(&server, &format!("user_id={user_uuid}"), Some(&user_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        channel_state(&document, "whatsapp").as_deref(),
        Some("unsubscribed"),
        "the forged opt-in changed nothing"
    );
}

#[tokio::test]
async fn a_push_token_reaches_a_user_only_from_an_install_verified_as_them() {
    let server = verifying_server().await;
    let alice_phone = Uuid::new_v4().to_string();
    let mallory_phone = Uuid::new_v4().to_string();
    let register = |install: &str, user: &str, push_token: &str| {
        report(
            &ConsentReport::PushTokenRegistered {
                provider: PushProvider::Fcm,
                token: push_token.into(),
            },
            install,
            Some(user),
        )
    };
    let alice_token = token("alice");
    let (status, _) = post(
        &server,
        APP_KEY,
        &[("alice", &alice_token)],
        vec![register(&alice_phone, "alice", "fcm-alice")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The attack of the issue: mallory's install adds its token to alice.
    let answer = post(
        &server,
        APP_KEY,
        &[],
        vec![register(&mallory_phone, "alice", "fcm-mallory")],
    )
    .await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_missing");
    let mallory_token = token("mallory");
    let answer = post(
        &server,
        APP_KEY,
        &[("mallory", &mallory_token)],
        vec![register(&mallory_phone, "alice", "fcm-mallory")],
    )
    .await;
    error_message(&answer, StatusCode::UNAUTHORIZED, "identity_token_missing");

    let tokens_of = |view: &Value| -> Vec<String> {
        view["devices"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["tokens"].as_array().unwrap().clone())
            .filter(|t| t["removed_at"].is_null())
            .map(|t| t["token"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, alice) = server.admin_get(&format!("{USERS}/alice")).await;
    assert_eq!(tokens_of(&alice), ["fcm-alice"]);

    // Nor can mallory, verified as herself, take alice's token to her own install.
    let (status, answer) = post(
        &server,
        APP_KEY,
        &[("mallory", &mallory_token)],
        vec![register(&mallory_phone, "mallory", "fcm-alice")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 0, "{answer}");
    let error = answer["rejected"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("token:"), "{error}");
    let (_, alice) = server.admin_get(&format!("{USERS}/alice")).await;
    assert_eq!(tokens_of(&alice), ["fcm-alice"]);

    // A reinstall (a new install of the same user, which keeps the APNs token) takes it.
    let reinstall = Uuid::new_v4().to_string();
    let (status, answer) = post(
        &server,
        APP_KEY,
        &[("alice", &alice_token)],
        vec![register(&reinstall, "alice", "fcm-alice")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    let (_, alice) = server.admin_get(&format!("{USERS}/alice")).await;
    assert_eq!(tokens_of(&alice), ["fcm-alice"]);
    let holder = alice["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["removed_at"].is_null())
        })
        .unwrap()["anonymous_id"]
        .clone();
    assert_eq!(holder, json!(reinstall));

    // The move the SDK makes on sign-in still works: alice's install, signed in as bob
    // with bob's token, takes its push token to bob.
    let bob_token = token("bob");
    let (status, _) = post(
        &server,
        APP_KEY,
        &[("bob", &bob_token)],
        vec![register(&reinstall, "bob", "fcm-alice")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, bob) = server.admin_get(&format!("{USERS}/bob")).await;
    assert_eq!(tokens_of(&bob), ["fcm-alice"]);
    let (status, alice) = server.admin_get(&format!("{USERS}/alice")).await;
    assert!(
        status == StatusCode::NOT_FOUND || tokens_of(&alice).is_empty(),
        "{alice}"
    );
}

#[tokio::test]
async fn optional_verification_counts_and_off_ignores() {
    let server = verifying_server().await;
    let phone = Uuid::new_v4().to_string();
    let events = || {
        vec![
            event_of("Product Viewed", &phone, Some("carol")),
            event_of("Product Viewed", &phone, Some("carol")),
        ]
    };
    let (status, answer) = post(&server, ROLLOUT, &[], events()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let (status, _) = post(&server, ROLLOUT, &[("carol", "bad")], events()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(&server, LEGACY, &[], events()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .metric(r#"beckon_identity_unverified_events_total{reason="missing"}"#)
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric(r#"beckon_identity_unverified_events_total{reason="invalid"}"#)
            .await,
        2.0
    );
    assert_eq!(server.export_all().await.len(), 6);
}

/// The batch of the issue, on a server verifying nothing: a consent change dated in
/// the year 9000 (sent in 2020, so corrected to 9006) no longer outranks every later
/// change.
#[tokio::test]
async fn a_consent_change_dated_in_the_future_cannot_be_pinned() {
    let server = TestServer::start().await;
    let mut forged = report(
        &opt(Channel::Push, PermissionState::OptedIn),
        "anon-forger",
        Some("victim"),
    );
    forged["timestamp"] = json!("9000-01-01T00:00:00Z");
    let before = Utc::now();
    let (status, answer) = server
        .send(&batch_sent_at(
            "2020-01-01T00:00:00Z".parse().unwrap(),
            vec![forged],
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let after = Utc::now();
    let stored = server.export_all().await;
    let time: DateTime<Utc> = stored[0]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        before <= time && time <= after,
        "stored at its receipt: {time}"
    );
    assert_eq!(stored[0]["original_timestamp"], "9000-01-01T00:00:00Z");
    assert_eq!(server.metric("beckon_event_times_clamped_total").await, 1.0);

    let (status, answer) = server
        .admin_put(
            &format!("{USERS}/victim/permissions/push"),
            &json!({"state": "unsubscribed", "source": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"], true, "{answer}");
    assert_eq!(answer["permission"]["state"], "unsubscribed");

    // A report claiming a few minutes ahead (within the tolerance, so stored as
    // claimed) but received before the admin's change cannot outrank it either.
    let mut ahead = report(
        &opt(Channel::Email, PermissionState::OptedIn),
        "anon-forger",
        Some("victim"),
    );
    ahead["timestamp"] = json!(rfc3339(Utc::now() + TimeDelta::minutes(3)));
    let (status, _) = server.send(&batch_sent_at(Utc::now(), vec![ahead])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = server
        .admin_put(
            &format!("{USERS}/victim/permissions/email"),
            &json!({"state": "unsubscribed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"], true, "{answer}");

    // A change the device makes after the admin's still wins, as it should.
    let later = report(
        &opt(Channel::Push, PermissionState::OptedIn),
        "anon-forger",
        Some("victim"),
    );
    let (status, _) = server.send(&batch(vec![later])).await;
    assert_eq!(status, StatusCode::OK);
    let (_, view) = server.admin_get(&format!("{USERS}/victim")).await;
    let state = |channel: &str| {
        view["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["channel"] == channel)
            .map(|p| p["state"].clone())
    };
    assert_eq!(state("push"), Some(json!("opted_in")), "{view}");
    assert_eq!(state("email"), Some(json!("unsubscribed")), "{view}");
}
