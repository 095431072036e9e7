//! Channel permissions, push tokens, the device profile, opt-out and deleting local
//! data on a real SDK instance: what reaches the real server, what comes down from a
//! server holding the user's permissions, and what stays on disk.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon::client::{Client, ClientError, InAppMessage, InAppMessageListener, PushToken};
use beckon::consent::{Channel, Permission, PermissionState, DEFAULT_SOURCE};
use beckon::events::{Event, Product, Properties};
use beckon::protocol::{
    PermissionsDocument, PushProvider, SyncDocument, APP_KEY_HEADER, CHANNEL_PERMISSION_CHANGED,
    PERMISSIONS_PATH, PUSH_PERMISSION_CHANGED, PUSH_TOKEN_REGISTERED, PUSH_TOKEN_REMOVED,
};
use beckon::store::{DeviceProfile, APPEND_LOG_FILE, DATABASE_FILE};
use beckon::sync::SyncOutcome;
use beckon::upload::FlushOutcome;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

mod common;
use common::{eventually, sdk_config, TestServer, APP_KEY};

const APNS_TOKEN: &str = "9f2c4a1b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3";
const FCM_TOKEN: &str = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_eW7fE1cR-0tR9n2";
const WAIT: Duration = Duration::from_secs(10);

fn viewed(id: &str) -> Event {
    Event::ProductViewed {
        product: Product {
            product_id: id.into(),
            ..Default::default()
        },
        properties: Properties::new(),
    }
}

fn named<'a>(exported: &'a [Value], name: &str) -> Vec<&'a Value> {
    exported.iter().filter(|e| e["name"] == name).collect()
}

fn flush(client: &Client) {
    let report = client.flush(WAIT).unwrap();
    assert_eq!(report.outcome, FlushOutcome::Delivered, "{report:?}");
}

fn state(client: &Client, channel: Channel) -> PermissionState {
    client
        .permissions()
        .unwrap()
        .into_iter()
        .find(|p| p.channel == channel)
        .unwrap()
        .state
}

#[test]
fn permission_token_and_profile_changes_reach_the_server_after_flush() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();

    client
        .set_permission(Channel::Sms, PermissionState::OptedIn, "checkout")
        .unwrap();
    client
        .set_permission(
            Channel::Email,
            PermissionState::Unsubscribed,
            "settings_screen",
        )
        .unwrap();
    client.set_push_permission(true).unwrap();
    client.set_push_permission(true).unwrap();
    client
        .register_push_token(PushProvider::Fcm, FCM_TOKEN)
        .unwrap();
    client
        .register_push_token(PushProvider::Fcm, FCM_TOKEN)
        .unwrap();
    client
        .register_push_token(PushProvider::Apns, &APNS_TOKEN.to_uppercase())
        .unwrap();
    assert_eq!(
        client.push_token().unwrap(),
        Some(PushToken {
            provider: PushProvider::Apns,
            token: APNS_TOKEN.into()
        })
    );
    client
        .register_push_token(PushProvider::Apns, APNS_TOKEN)
        .unwrap();
    client.set_device_profile("Europe/Lisbon", "pt").unwrap();
    client.set_locale("pt-PT".into()).unwrap();
    client.track(&viewed("socks")).unwrap();
    client.remove_push_token().unwrap();
    client.remove_push_token().unwrap();
    flush(&client);

    let exported = server.export();
    let changed = named(&exported, CHANNEL_PERMISSION_CHANGED);
    assert_eq!(changed.len(), 2);
    assert_eq!(
        changed[0]["properties"],
        json!({"channel": "sms", "state": "opted_in", "source": "checkout"})
    );
    assert_eq!(
        changed[1]["properties"],
        json!({"channel": "email", "state": "unsubscribed", "source": "settings_screen"})
    );
    let granted = named(&exported, PUSH_PERMISSION_CHANGED);
    assert_eq!(granted.len(), 1, "the same report twice is one change");
    assert_eq!(granted[0]["properties"], json!({"granted": true}));
    let registered = named(&exported, PUSH_TOKEN_REGISTERED);
    assert_eq!(
        registered
            .iter()
            .map(|e| e["properties"].clone())
            .collect::<Vec<_>>(),
        [
            json!({"provider": "fcm", "token": FCM_TOKEN}),
            json!({"provider": "apns", "token": APNS_TOKEN}),
        ],
        "the same token again is not registered again, whatever its case"
    );
    let removed = named(&exported, PUSH_TOKEN_REMOVED);
    assert_eq!(
        removed
            .iter()
            .map(|e| e["properties"].clone())
            .collect::<Vec<_>>(),
        [
            json!({"provider": "fcm", "token": FCM_TOKEN}),
            json!({"provider": "apns", "token": APNS_TOKEN}),
        ],
        "the refreshed token and the removed one, once each"
    );
    let socks = named(&exported, "Product Viewed");
    assert_eq!(socks[0]["context"]["timezone"], "Europe/Lisbon");
    assert_eq!(socks[0]["context"]["country"], "PT");
    assert_eq!(socks[0]["context"]["locale"], "pt-PT");
    assert!(
        changed[0]["context"].get("timezone").is_none(),
        "not yet set then"
    );

    // Locally: the latest per channel, defaults for the rest, and every change.
    let permissions = client.permissions().unwrap();
    assert_eq!(permissions.len(), 5);
    assert_eq!(state(&client, Channel::Sms), PermissionState::OptedIn);
    assert_eq!(
        state(&client, Channel::Email),
        PermissionState::Unsubscribed
    );
    let push = permissions
        .iter()
        .find(|p| p.channel == Channel::Push)
        .unwrap();
    assert_eq!(
        (
            push.state,
            push.source.as_str(),
            push.updated_at.timestamp()
        ),
        (PermissionState::Subscribed, DEFAULT_SOURCE, 0)
    );
    assert_eq!(client.permission_history().unwrap().len(), 2);
    assert_eq!(client.push_token().unwrap(), None);
    assert_eq!(client.push_permission().unwrap(), Some(true));

    // The profile survives a restart and goes on being sent.
    client.shutdown();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    assert_eq!(
        client.device_profile().unwrap(),
        DeviceProfile {
            time_zone: Some("Europe/Lisbon".into()),
            country: Some("PT".into())
        }
    );
    assert_eq!(client.permission_history().unwrap().len(), 2);
    client.track(&viewed("hat")).unwrap();
    flush(&client);
    let exported = server.export();
    let hat = exported
        .iter()
        .find(|e| e["properties"]["product_id"] == "hat")
        .unwrap();
    assert_eq!(hat["context"]["timezone"], "Europe/Lisbon");
    assert_eq!(hat["context"]["country"], "PT");
}

#[test]
fn bad_inputs_are_refused_with_typed_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    client
        .register_push_token(PushProvider::Fcm, FCM_TOKEN)
        .unwrap();
    client.set_device_profile("Europe/Lisbon", "PT").unwrap();
    client
        .set_permission(Channel::Sms, PermissionState::OptedIn, "app")
        .unwrap();
    let queued = client.stats().unwrap().queued_events;
    let before = (
        client.permission_history().unwrap(),
        client.push_token().unwrap(),
        client.device_profile().unwrap(),
    );

    let refusals: Vec<(Result<(), ClientError>, &str)> = vec![
        (
            client.set_permission(Channel::Sms, PermissionState::Unsubscribed, ""),
            "source",
        ),
        (
            client.set_permission(Channel::Sms, PermissionState::Unsubscribed, "by hand"),
            "source",
        ),
        (client.register_push_token(PushProvider::Fcm, ""), "token"),
        (
            client.register_push_token(PushProvider::Fcm, "has space"),
            "token",
        ),
        (
            client.register_push_token(PushProvider::Fcm, &"x".repeat(4097)),
            "token",
        ),
        (
            client.register_push_token(PushProvider::Apns, &APNS_TOKEN[..40]),
            "token",
        ),
        (
            client.register_push_token(PushProvider::Apns, FCM_TOKEN),
            "token",
        ),
        (
            client.set_device_profile("Europe/Atlantis", "PT"),
            "time_zone",
        ),
        (client.set_device_profile("Europe/Lisbon", "XX"), "country"),
        (
            client.set_device_profile("Europe/Lisbon", "Portugal"),
            "country",
        ),
    ];
    for (result, field) in refusals {
        match result {
            Err(ClientError::InvalidArgument(e)) => assert_eq!(e.field, field, "{e}"),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
    let err = client
        .register_push_token(PushProvider::Apns, &APNS_TOKEN[..40])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: token: an APNs token is an even number of hex digits, at least 64; found 40"
    );

    assert_eq!(client.stats().unwrap().queued_events, queued);
    assert_eq!(
        (
            client.permission_history().unwrap(),
            client.push_token().unwrap(),
            client.device_profile().unwrap(),
        ),
        before
    );
    // Empty means unknown: the profile can be cleared.
    client.set_device_profile("", "").unwrap();
    assert_eq!(client.device_profile().unwrap(), DeviceProfile::default());
}

#[test]
fn opting_out_stores_and_uploads_nothing_and_survives_a_restart() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client
        .register_push_token(PushProvider::Fcm, FCM_TOKEN)
        .unwrap();
    for id in ["a", "b", "c"] {
        client.track(&viewed(id)).unwrap();
    }
    client.segments().unwrap();
    let queued = client.stats().unwrap().queued_events;
    assert!(queued >= 4, "{queued}");

    client.opt_out().unwrap();
    assert!(client.is_opted_out());
    let stats = client.stats().unwrap();
    assert_eq!(stats.queued_events, 0, "the queue is discarded");
    assert_eq!(stats.dropped.opted_out, queued);
    client.track(&viewed("d")).unwrap();
    client
        .identify("opted-out-user", &Properties::new(), None)
        .unwrap();
    client
        .set_permission(Channel::Email, PermissionState::Unsubscribed, "app")
        .unwrap();
    let stats = client.stats().unwrap();
    assert_eq!(stats.queued_events, 0);
    assert!(stats.dropped.opted_out > queued + 2, "{stats:?}");
    // The choice itself is kept on the device.
    assert_eq!(
        state(&client, Channel::Email),
        PermissionState::Unsubscribed
    );
    flush(&client);
    client.shutdown();

    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    assert!(client.is_opted_out(), "kept across restarts");
    client.track(&viewed("e")).unwrap();
    client.on_background().unwrap();
    flush(&client);
    assert_eq!(client.stats().unwrap().queued_events, 0);
    assert!(
        server.export().is_empty(),
        "nothing uploaded: {:?}",
        server.export()
    );

    client.opt_in().unwrap();
    assert!(!client.is_opted_out());
    client.track(&viewed("f")).unwrap();
    flush(&client);
    let exported = server.export();
    let products: Vec<&Value> = named(&exported, "Product Viewed")
        .into_iter()
        .map(|e| &e["properties"]["product_id"])
        .collect();
    assert_eq!(products, [&json!("f")]);
    // What changed while opted out is reported on opting back in, for the user as
    // identified then.
    let restated = named(&exported, CHANNEL_PERMISSION_CHANGED);
    assert_eq!(restated.len(), 1);
    assert_eq!(restated[0]["properties"]["state"], "unsubscribed");
    assert_eq!(restated[0]["user_id"], "opted-out-user");
    let registered = named(&exported, PUSH_TOKEN_REGISTERED);
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["user_id"], "opted-out-user");
}

fn files_contain(dir: &std::path::Path, needle: &str) -> bool {
    let database = ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| dir.join(format!("{DATABASE_FILE}{suffix}")));
    database.chain([dir.join(APPEND_LOG_FILE)]).any(|path| {
        let bytes = std::fs::read(path).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn deleting_local_data_leaves_no_trace_of_the_user_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    // Offline: everything stays queued in the database, the worst case for a wipe.
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    let user = "user-1c9e5b-who-asked-to-be-forgotten";
    let old_anonymous_id = client.anonymous_id();
    client.identify(user, &Properties::new(), None).unwrap();
    client.set_locale("pt-BR".into()).unwrap();
    client
        .set_device_profile("America/Sao_Paulo", "BR")
        .unwrap();
    client
        .register_push_token(PushProvider::Apns, APNS_TOKEN)
        .unwrap();
    client.set_push_permission(true).unwrap();
    client
        .set_permission(Channel::InApp, PermissionState::Unsubscribed, "app")
        .unwrap();
    for i in 0..200 {
        client
            .track(&viewed(&format!("product-of-{user}-{i}")))
            .unwrap();
    }
    client.segments().unwrap();
    for needle in [user, old_anonymous_id.as_str(), APNS_TOKEN] {
        assert!(
            files_contain(dir.path(), needle),
            "{needle} should be on disk first"
        );
    }

    client.delete_local_data().unwrap();

    for needle in [
        user,
        old_anonymous_id.as_str(),
        APNS_TOKEN,
        "America/Sao_Paulo",
    ] {
        assert!(!files_contain(dir.path(), needle), "{needle} left on disk");
    }
    let fresh = client.anonymous_id();
    assert_ne!(fresh, old_anonymous_id);
    assert_eq!(client.user_id(), None);
    assert_eq!(client.stats().unwrap().queued_events, 0);
    assert!(client.segments().unwrap().is_empty());
    assert!(client.permission_history().unwrap().is_empty());
    assert_eq!(state(&client, Channel::InApp), PermissionState::Subscribed);
    assert_eq!(client.push_token().unwrap(), None);
    assert_eq!(client.push_permission().unwrap(), None);
    assert_eq!(client.device_profile().unwrap(), DeviceProfile::default());

    // The SDK goes on, for the fresh anonymous user, and so does a new instance.
    client.track(&viewed("after")).unwrap();
    client.segments().unwrap();
    let queued = client.stats().unwrap().queued_events;
    assert!(queued >= 1);
    client.shutdown();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    assert_eq!(client.anonymous_id(), fresh);
    assert_eq!(client.stats().unwrap().queued_events, queued);
    assert!(!files_contain(dir.path(), user));
}

#[test]
fn an_opt_out_outlives_the_deletion_of_local_data() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    client.opt_out().unwrap();
    client.delete_local_data().unwrap();
    assert!(client.is_opted_out());
    client.track(&viewed("x")).unwrap();
    assert_eq!(client.stats().unwrap().queued_events, 0);
    client.shutdown();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    assert!(client.is_opted_out());
}

#[test]
fn the_push_token_follows_the_user_who_is_signed_in() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    let first_anonymous_id = client.anonymous_id();
    client
        .register_push_token(PushProvider::Fcm, FCM_TOKEN)
        .unwrap();
    client.set_push_permission(true).unwrap();
    client
        .set_permission(Channel::Sms, PermissionState::OptedIn, "checkout")
        .unwrap();
    client.identify("ana", &Properties::new(), None).unwrap();
    // The anonymous user's choices became Ana's.
    assert_eq!(state(&client, Channel::Sms), PermissionState::OptedIn);
    flush(&client);
    let (_, signed_in) = server.admin_get("/v1/admin/users/ana");
    assert_eq!(
        signed_in["reachable"]["push"], true,
        "signed in, Ana gets this install's pushes: {signed_in}"
    );
    client.reset().unwrap();
    // Ana's are not the next user's.
    assert_eq!(state(&client, Channel::Sms), PermissionState::Subscribed);
    let second_anonymous_id = client.anonymous_id();
    flush(&client);

    let exported = server.export();
    let owner = |e: &Value| {
        (
            e["name"].as_str().unwrap_or("").to_owned(),
            e["user_id"].as_str().map(str::to_owned),
            e["anonymous_id"].as_str().unwrap().to_owned(),
        )
    };
    let token_events: Vec<_> = exported
        .iter()
        .filter(|e| {
            [PUSH_TOKEN_REGISTERED, PUSH_TOKEN_REMOVED].contains(&e["name"].as_str().unwrap_or(""))
        })
        .map(owner)
        .collect();
    let ana = Some("ana".to_owned());
    assert_eq!(
        token_events,
        [
            (
                PUSH_TOKEN_REGISTERED.into(),
                None,
                first_anonymous_id.clone()
            ),
            // Signing in keeps the device: its token is restated for Ana.
            (
                PUSH_TOKEN_REGISTERED.into(),
                ana.clone(),
                first_anonymous_id.clone()
            ),
            (
                PUSH_TOKEN_REMOVED.into(),
                ana.clone(),
                first_anonymous_id.clone()
            ),
            (
                PUSH_TOKEN_REGISTERED.into(),
                None,
                second_anonymous_id.clone()
            ),
        ]
    );
    let sms: Vec<_> = named(&exported, CHANNEL_PERMISSION_CHANGED)
        .into_iter()
        .map(|e| owner(e).1)
        .collect();
    assert_eq!(
        sms,
        [None, ana.clone()],
        "restated for Ana, not for the next user"
    );
    let granted: Vec<_> = named(&exported, PUSH_PERMISSION_CHANGED)
        .into_iter()
        .map(|e| owner(e).1)
        .collect();
    assert_eq!(granted, [None, ana, None]);

    // What the server made of it: the token is live on the install's new device
    // record and on nobody's old one, so Ana's pushes stop at logout.
    let live_tokens = |user_key: &str| {
        let (status, view) = server.admin_get(&format!("/v1/admin/users/{user_key}"));
        assert_eq!(status, 200, "{view}");
        view["devices"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["tokens"].as_array().unwrap().clone())
            .filter(|t| t["removed_at"].is_null())
            .map(|t| t["token"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(live_tokens("ana"), Vec::<String>::new());
    assert_eq!(live_tokens(&second_anonymous_id), [FCM_TOKEN]);
}

#[derive(Default)]
struct Screen {
    shown: Mutex<Vec<InAppMessage>>,
}

impl InAppMessageListener for Screen {
    fn on_message(&self, message: InAppMessage) -> bool {
        self.shown.lock().unwrap().push(message);
        true
    }
}

fn cart_campaign() -> Value {
    json!({
        "schema_version": 1,
        "id": "free-shipping",
        "name": "Free shipping nudge",
        "status": "active",
        "priority": 5,
        "trigger": {"segment_entered": "cart_abandoner"},
        "audience": {"segments": ["cart_abandoner"]},
        "cap": {"total": 5},
        "default_locale": "en",
        "variants": {"en": {"title": "Your cart", "body": "Still thinking?"}}
    })
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

/// Leaves the cart-abandoner segment (the cart is bought) and enters it again.
fn abandon_another_cart(client: &Client, n: u32) {
    client
        .track(&Event::OrderCompleted {
            order: beckon::events::Order {
                order_id: Some(format!("o-{n}")),
                ..Default::default()
            },
            properties: Properties::new(),
        })
        .unwrap();
    client.track(&added(&format!("item-{n}"))).unwrap();
    assert!(client
        .segments()
        .unwrap()
        .contains(&"cart_abandoner".to_string()));
}

#[test]
fn no_in_app_message_is_shown_while_in_app_is_unsubscribed() {
    let server = TestServer::start();
    let (status, body) = server.admin_post("/v1/admin/campaigns", &cart_campaign());
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    sync(&client);

    // Polling: nothing is kept for a poll while in-app is off.
    client
        .set_permission(
            Channel::InApp,
            PermissionState::Unsubscribed,
            "settings_screen",
        )
        .unwrap();
    abandon_another_cart(&client, 1);
    assert_eq!(client.take_in_app_message().unwrap(), None);

    // A listener: not called.
    let screen = Arc::new(Screen::default());
    client.set_in_app_listener(Some(screen.clone())).unwrap();
    abandon_another_cart(&client, 2);
    assert!(screen.shown.lock().unwrap().is_empty());

    // Allowed again: the next time the trigger fires, the message is shown.
    client
        .set_permission(Channel::InApp, PermissionState::OptedIn, "settings_screen")
        .unwrap();
    abandon_another_cart(&client, 3);
    assert!(eventually(WAIT, || screen.shown.lock().unwrap().len() == 1));
    flush(&client);
    let exported = server.export();
    assert_eq!(named(&exported, "In-App Message Shown").len(), 1);
}

#[test]
fn a_message_waiting_for_a_poll_is_not_handed_out_once_in_app_is_unsubscribed() {
    let server = TestServer::start();
    let (status, body) = server.admin_post("/v1/admin/campaigns", &cart_campaign());
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    sync(&client);

    client.track(&added("socks")).unwrap();
    client.segments().unwrap();
    client
        .set_permission(Channel::InApp, PermissionState::Unsubscribed, "app")
        .unwrap();
    assert_eq!(client.take_in_app_message().unwrap(), None);
    flush(&client);
    assert!(named(&server.export(), "In-App Message Shown").is_empty());
}

/// A device-facing server holding one user's permissions, as the reference server
/// serves them, on loopback; it records every permissions query it answers.
struct PermissionsServer {
    _runtime: tokio::runtime::Runtime,
    url: String,
    state: Arc<Mutex<Served>>,
}

struct Served {
    /// Status and body of the next permissions answers.
    reply: (u16, String),
    /// Query strings of the permissions requests with the right app key.
    queries: Vec<String>,
}

impl PermissionsServer {
    fn start() -> PermissionsServer {
        use axum::extract::{RawQuery, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::{get, post};

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Mutex::new(Served {
            reply: (404, String::new()),
            queries: Vec::new(),
        }));
        let app = axum::Router::new()
            .route(
                "/v1/sync",
                get(|| async { serde_json::to_string(&SyncDocument::empty()).unwrap() }),
            )
            .route("/v1/batch", post(|| async { "{}" }))
            .route(
                PERMISSIONS_PATH,
                get(
                    |State(state): State<Arc<Mutex<Served>>>,
                     headers: HeaderMap,
                     RawQuery(query): RawQuery| async move {
                        if headers.get(APP_KEY_HEADER).and_then(|v| v.to_str().ok())
                            != Some(APP_KEY)
                        {
                            return (StatusCode::UNAUTHORIZED, String::new());
                        }
                        let mut state = state.lock().unwrap();
                        state.queries.push(query.unwrap_or_default());
                        let (status, body) = state.reply.clone();
                        (StatusCode::from_u16(status).unwrap(), body)
                    },
                ),
            )
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        PermissionsServer {
            _runtime: runtime,
            url,
            state,
        }
    }

    fn serve(&self, status: u16, body: impl Into<String>) {
        self.state.lock().unwrap().reply = (status, body.into());
    }

    fn serve_document(&self, user_key: &str, permissions: Vec<Permission>) {
        let document = PermissionsDocument {
            user_key: user_key.into(),
            permissions,
        };
        self.serve(200, serde_json::to_string(&document).unwrap());
    }

    fn queries(&self) -> Vec<String> {
        self.state.lock().unwrap().queries.clone()
    }
}

fn change(channel: Channel, state: PermissionState, source: &str, at: DateTime<Utc>) -> Permission {
    Permission {
        channel,
        state,
        source: source.into(),
        updated_at: DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap(),
    }
}

fn sync(client: &Client) {
    let report = client.sync(WAIT).unwrap();
    assert!(
        matches!(
            report.outcome,
            SyncOutcome::Updated | SyncOutcome::NotModified
        ),
        "{report:?}"
    );
}

#[test]
fn a_sync_brings_the_servers_later_changes_down_and_keeps_later_local_ones() {
    let server = PermissionsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    let anonymous_id = client.anonymous_id();
    client
        .set_permission(Channel::Email, PermissionState::OptedIn, "app")
        .unwrap();
    client
        .set_permission(Channel::InApp, PermissionState::Unsubscribed, "app")
        .unwrap();
    let now = Utc::now();
    let later = now + TimeDelta::hours(1);
    let earlier = now - TimeDelta::hours(1);
    let unsubscribed_by_link = change(
        Channel::Email,
        PermissionState::Unsubscribed,
        "unsubscribe_link",
        later,
    );
    let sms_opt_in = change(
        Channel::Sms,
        PermissionState::OptedIn,
        "double_opt_in",
        earlier,
    );
    server.serve_document(
        &anonymous_id,
        vec![
            unsubscribed_by_link.clone(),
            sms_opt_in.clone(),
            // Older than the device's own change, which the server has not heard of.
            change(Channel::InApp, PermissionState::OptedIn, "admin", earlier),
        ],
    );
    sync(&client);

    assert_eq!(
        server.queries().last().unwrap(),
        &format!("anonymous_id={anonymous_id}")
    );
    let permissions = client.permissions().unwrap();
    let of = |channel| {
        permissions
            .iter()
            .find(|p| p.channel == channel)
            .unwrap()
            .clone()
    };
    assert_eq!(of(Channel::Email), unsubscribed_by_link);
    assert_eq!(of(Channel::Sms), sms_opt_in);
    assert_eq!(of(Channel::InApp).state, PermissionState::Unsubscribed);
    assert_eq!(of(Channel::InApp).source, "app");
    let history = client.permission_history().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(
        history[2..],
        [unsubscribed_by_link.clone(), sms_opt_in.clone()]
    );

    // The same document again changes nothing.
    sync(&client);
    assert_eq!(client.permission_history().unwrap().len(), 4);

    // Once identified, the user's own permissions are asked for; a document for
    // someone else (a stale answer) is ignored.
    client
        .identify("ana@example.com", &Properties::new(), None)
        .unwrap();
    server.serve_document(
        &anonymous_id,
        vec![change(
            Channel::Push,
            PermissionState::Unsubscribed,
            "admin",
            later,
        )],
    );
    sync(&client);
    assert_eq!(
        server.queries().last().unwrap(),
        "user_id=ana%40example.com"
    );
    assert_eq!(state(&client, Channel::Push), PermissionState::Subscribed);
    server.serve_document(
        "ana@example.com",
        vec![change(
            Channel::Push,
            PermissionState::Unsubscribed,
            "admin",
            later,
        )],
    );
    sync(&client);
    assert_eq!(state(&client, Channel::Push), PermissionState::Unsubscribed);
}

#[test]
fn a_missing_or_broken_answer_leaves_the_local_permissions_as_they_are() {
    let server = PermissionsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    // After the sync the SDK makes at start, so each one below is the only one.
    sync(&client);
    client
        .set_permission(Channel::Whatsapp, PermissionState::OptedIn, "app")
        .unwrap();
    let before = client.permission_history().unwrap();
    let later = Utc::now() + TimeDelta::hours(1);
    let unsubscribe = serde_json::to_string(&PermissionsDocument {
        user_key: client.anonymous_id(),
        permissions: vec![change(
            Channel::Whatsapp,
            PermissionState::Unsubscribed,
            "admin",
            later,
        )],
    })
    .unwrap();
    let answers = [
        (404, String::new()),
        (500, unsubscribe.clone()),
        (200, "{\"user_key\": 1}".to_owned()),
        (200, unsubscribe.replace("whatsapp", "carrier_pigeon")),
        (200, unsubscribe[..unsubscribe.len() - 2].to_owned()),
    ];
    for (status, body) in answers {
        server.serve(status, body.clone());
        let asked = server.queries().len();
        sync(&client);
        assert_eq!(server.queries().len(), asked + 1, "{status} {body}");
        assert_eq!(
            client.permission_history().unwrap(),
            before,
            "{status} {body}"
        );
    }

    // Unreachable: the sync fails, the permissions stay.
    let offline = tempfile::tempdir().unwrap();
    drop(client);
    let client = Client::new(sdk_config(offline.path(), "http://127.0.0.1:9")).unwrap();
    client
        .set_permission(Channel::Whatsapp, PermissionState::OptedIn, "app")
        .unwrap();
    assert_eq!(client.sync(WAIT).unwrap().outcome, SyncOutcome::Failed);
    assert_eq!(state(&client, Channel::Whatsapp), PermissionState::OptedIn);
}

#[test]
fn nothing_is_asked_of_the_server_for_a_user_who_opted_out() {
    let server = PermissionsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    sync(&client);
    let asked = server.queries().len();
    assert!(asked >= 1);
    client.opt_out().unwrap();
    sync(&client);
    assert_eq!(server.queries().len(), asked);
}

/// The device's events in queue order, read from its database once `client` is shut.
fn queued(dir: &std::path::Path) -> Vec<Value> {
    let (mut store, _) = beckon::store::Store::open(dir, Default::default()).unwrap();
    store
        .peek_batch(usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_slice(&e.payload).unwrap())
        .collect()
}

/// Calls that read the device's state and then change it do both under the store's one
/// lock: made from many threads at once, the same change is reported once.
#[test]
fn the_same_change_from_many_threads_at_once_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = Arc::new(Client::new(sdk_config(dir.path(), "http://127.0.0.1:1")).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                client.set_push_permission(true).unwrap();
                client
                    .register_push_token(PushProvider::Fcm, FCM_TOKEN)
                    .unwrap();
                client.set_push_permission(true).unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    client.shutdown();
    let events = queued(dir.path());
    assert_eq!(
        named(&events, PUSH_PERMISSION_CHANGED).len(),
        1,
        "{events:#?}"
    );
    assert_eq!(
        named(&events, PUSH_TOKEN_REGISTERED).len(),
        1,
        "{events:#?}"
    );
    assert!(named(&events, PUSH_TOKEN_REMOVED).is_empty());
}

/// An identify switches users between two events, never in the middle of one: in queue
/// order, every event before it is the anonymous user's and every event after it the
/// identified user's, however many threads are tracking meanwhile.
#[test]
fn events_tracked_while_another_thread_identifies_fall_wholly_before_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let client = Arc::new(Client::new(sdk_config(dir.path(), "http://127.0.0.1:1")).unwrap());
    client.set_push_permission(true).unwrap();
    let trackers: Vec<_> = (0..4)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for n in 0..200 {
                    client.track(&viewed(&format!("p{t}-{n}"))).unwrap();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5));
    client.identify("alice", &Properties::new(), None).unwrap();
    for tracker in trackers {
        tracker.join().unwrap();
    }
    client.shutdown();
    let events = queued(dir.path());
    let at = events
        .iter()
        .position(|e| e["type"] == "identify")
        .expect("the identify event is queued");
    for (i, event) in events.iter().enumerate() {
        let user = &event["user_id"];
        if i < at {
            assert!(
                user.is_null(),
                "event {i} before the identify at {at}: {event}"
            );
        } else {
            assert_eq!(
                user, "alice",
                "event {i} after the identify at {at}: {event}"
            );
        }
    }
    // The device's state was reported for the new user right after the switch.
    assert_eq!(
        events[at + 1]["name"],
        PUSH_PERMISSION_CHANGED,
        "{:#}",
        events[at + 1]
    );
    assert!(events.len() > 800);
}
