//! Sends end to end: the real server on loopback, users reported by devices through
//! `POST /v1/batch`, sends created with the admin API, and the mock providers (FCM with
//! OAuth, APNs over HTTP/2 and TLS, a Standard Webhooks receiver) checking what they
//! get. The send clock is one the tests set, so deliveries hours ahead go out at once.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use beckon::common::RetryPolicy;
use beckon::consent::{Channel, PermissionState};
use beckon::protocol::{ConsentReport, Discount, PushProvider};
use beckon_mock_providers::{MockApns, MockFcm, MockWebhook, Reply};
use beckon_server::delivery::{
    ApnsConfig, DeliveryConfig, DeliveryRetry, FcmConfig, KeySource, WebhookConfig,
};
use beckon_server::dispatch::{SendClock, SendsConfig};
use beckon_server::{start, RunningServer, ServerConfig, ServerError};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use common::{batch, buyer_segment, event_at, gzip, json_answer, ADMIN_TOKEN, APP_KEY, SEGMENTS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

const SENDS: &str = "/v1/admin/sends";
const APNS_TOKEN: &str = "6a1f0c3e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29";

struct Mocks {
    fcm: MockFcm,
    apns: MockApns,
    webhook: MockWebhook,
}

/// The server with every provider pointed at a mock, and a clock the test moves.
struct Harness {
    server: Option<RunningServer>,
    dir: TempDir,
    url: String,
    http: reqwest::Client,
    mocks: Mocks,
    clock: SendClock,
}

fn config(dir: &TempDir, mocks: &Mocks, clock: &SendClock) -> ServerConfig {
    let mut config = ServerConfig::loopback(
        dir.path().join("server.db"),
        vec![APP_KEY.into()],
        ADMIN_TOKEN,
    );
    config.delivery = DeliveryConfig {
        fcm: Some(FcmConfig {
            service_account: KeySource::Inline(mocks.fcm.service_account_json().into()),
            base_url: mocks.fcm.url(),
        }),
        apns: Some(ApnsConfig {
            key: KeySource::Inline(mocks.apns.key().pem.clone()),
            key_id: mocks.apns.key().key_id.clone(),
            team_id: mocks.apns.key().team_id.clone(),
            topic: mocks.apns.topic().into(),
            base_url: mocks.apns.url(),
            extra_root_ca: Some(KeySource::Inline(mocks.apns.ca_pem().into())),
        }),
        webhook: Some(WebhookConfig {
            url: mocks.webhook.url(),
            secret: mocks.webhook.secret().into(),
        }),
    };
    config.sends = SendsConfig {
        clock: clock.clone(),
        // Short waits; a provider's Retry-After is still honoured in full.
        retry: DeliveryRetry {
            max_attempts: 4,
            timing: RetryPolicy {
                base: Duration::from_millis(100),
                cap: Duration::from_secs(5),
                jitter: 0.1,
                max_retry_after: Duration::from_secs(5),
            },
        },
        concurrency: 8,
    };
    config
}

impl Harness {
    async fn start() -> Harness {
        let mocks = Mocks {
            fcm: MockFcm::start().await,
            apns: MockApns::start().await,
            webhook: MockWebhook::start().await,
        };
        let clock = SendClock::manual(Utc::now());
        let dir = tempfile::tempdir().unwrap();
        let server = start(config(&dir, &mocks, &clock))
            .await
            .expect("server starts");
        Harness {
            url: server.url(),
            server: Some(server),
            dir,
            http: reqwest::Client::new(),
            mocks,
            clock,
        }
    }

    async fn restart(&mut self) {
        self.server.take().unwrap().shutdown().await;
        let server = start(config(&self.dir, &self.mocks, &self.clock))
            .await
            .expect("server restarts");
        self.url = server.url();
        self.server = Some(server);
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN);
        json_answer(request.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(body);
        json_answer(request.send().await.unwrap()).await
    }

    async fn upload(&self, events: Vec<Value>) {
        let response = self
            .http
            .post(format!("{}/v1/batch", self.url))
            .header(beckon::protocol::APP_KEY_HEADER, APP_KEY)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(&serde_json::to_vec(&batch(events)).unwrap()))
            .send()
            .await
            .unwrap();
        let (status, answer) = json_answer(response).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["rejected"], json!([]), "{answer}");
    }

    async fn add_users(&self, users: &[User<'_>]) {
        self.upload(users.iter().flat_map(User::events).collect())
            .await;
    }

    async fn buyers_segment(&self) {
        let (status, body) = self.post(SEGMENTS, &buyer_segment("buyers", 1)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Creates a send and insists it was accepted; returns its id.
    async fn send(&self, request: Value) -> String {
        let (status, body) = self.post(SENDS, &request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "scheduled");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Waits until the send's view satisfies `done`, and returns it.
    async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, view) = self.get(&format!("{SENDS}/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            if done(&view) {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "send {id} never became {what}: {view}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finished(&self, id: &str) -> Value {
        self.wait_for(id, "done", |v| v["status"] == "done").await
    }

    async fn planned(&self, id: &str) -> Value {
        self.wait_for(id, "planned", |v| !v["planned_at"].is_null())
            .await
    }

    /// Every delivery of the send, by user key (several per user for several devices).
    async fn deliveries(&self, id: &str) -> HashMap<String, Vec<Value>> {
        let mut by_user: HashMap<String, Vec<Value>> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("?limit=2&cursor={c}"),
                None => "?limit=2".into(),
            };
            let (status, page) = self.get(&format!("{SENDS}/{id}/deliveries{query}")).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for d in page["deliveries"].as_array().unwrap() {
                let user = d["user_key"].as_str().unwrap().to_owned();
                by_user.entry(user).or_default().push(d.clone());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return by_user,
            }
        }
    }

    fn no_rejections(&self) {
        assert_eq!(self.mocks.fcm.rejections(), Vec::<String>::new());
        assert_eq!(self.mocks.apns.rejections(), Vec::<String>::new());
        assert_eq!(self.mocks.webhook.rejections(), Vec::<String>::new());
    }
}

/// A user as their device reports them.
#[derive(Default)]
struct User<'a> {
    id: &'a str,
    traits: Value,
    zone: Option<&'a str>,
    country: Option<&'a str>,
    locale: Option<&'a str>,
    fcm: Option<&'a str>,
    apns: Option<&'a str>,
    /// The OS notification permission, when the app reported it.
    os: Option<bool>,
    unsubscribed: &'a [Channel],
    orders: u32,
}

impl User<'_> {
    fn events(&self) -> Vec<Value> {
        let start = Utc::now() - TimeDelta::minutes(30);
        let mut n = 0;
        let mut next = |name: &str| {
            n += 1;
            let mut event = event_at(name, start + TimeDelta::seconds(n));
            event["anonymous_id"] = json!(format!("phone-{}", self.id));
            event["user_id"] = json!(self.id);
            event
        };
        let mut identify = next("ignored");
        identify["type"] = json!("identify");
        identify.as_object_mut().unwrap().remove("name");
        identify["properties"] = json!({});
        identify["traits"] = if self.traits.is_null() {
            json!({})
        } else {
            self.traits.clone()
        };
        let mut context = json!({});
        for (key, value) in [
            ("timezone", self.zone),
            ("country", self.country),
            ("locale", self.locale),
        ] {
            if let Some(value) = value {
                context[key] = json!(value);
            }
        }
        identify["context"] = context;
        let mut events = vec![identify];
        let mut report = |report: ConsentReport| {
            let mut event = next(report.event_name());
            event["properties"] = Value::Object(report.properties());
            events.push(event);
        };
        if let Some(token) = self.fcm {
            report(ConsentReport::PushTokenRegistered {
                provider: PushProvider::Fcm,
                token: token.into(),
            });
        }
        if let Some(token) = self.apns {
            report(ConsentReport::PushTokenRegistered {
                provider: PushProvider::Apns,
                token: token.into(),
            });
        }
        if let Some(granted) = self.os {
            report(ConsentReport::PushPermissionChanged { granted });
        }
        for channel in self.unsubscribed {
            report(ConsentReport::PermissionChanged {
                channel: *channel,
                state: PermissionState::Unsubscribed,
                source: "settings_screen".into(),
            });
        }
        for _ in 0..self.orders {
            events.push(next("Order Completed"));
        }
        events
    }
}

fn promo() -> Value {
    json!({"code": "VOLTA10", "discount": {"percent": 10},
           "expires_at": rfc3339(Utc::now() + TimeDelta::days(30)), "max_uses": 2})
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn content() -> Value {
    json!({
        "default_locale": "en",
        "variants": {
            "en": {"title": "Hi {{first_name | there}}", "body": "Use {{promo_code}} for 10% off"},
            "pt-BR": {"title": "Oi {{first_name | você}}", "body": "Use {{promo_code}} e ganhe 10%"}
        },
        "deep_link": "shop://cart?coupon={{promo_code}}&utm_source=beckon",
        "promo": promo()
    })
}

fn statuses(deliveries: &HashMap<String, Vec<Value>>, user: &str) -> Vec<String> {
    deliveries[user]
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect()
}

fn reasons(delivery: &Value) -> Vec<String> {
    delivery["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn payload_of(data: &std::collections::BTreeMap<String, String>) -> beckon::protocol::PushPayload {
    let data: HashMap<String, String> = data.clone().into_iter().collect();
    beckon::push::parse_fcm_data(&data).expect("the app reads the payload")
}

#[tokio::test]
async fn a_segment_send_reaches_each_user_only_on_a_channel_they_permit() {
    let h = Harness::start().await;
    h.buyers_segment().await;
    let email = |name: &str| json!({"first_name": name, "email": format!("{}@shop.example", name.to_lowercase())});
    h.add_users(&[
        // Push: token, notifications on, nothing unsubscribed; Brazilian Portuguese.
        User {
            id: "ana",
            traits: email("Ana"),
            locale: Some("pt-BR"),
            fcm: Some("fcm-ana"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        // Unsubscribed from push: email instead.
        User {
            id: "bo",
            traits: email("Bo"),
            fcm: Some("fcm-bo"),
            os: Some(true),
            unsubscribed: &[Channel::Push],
            orders: 1,
            ..User::default()
        },
        // No token at all: email.
        User {
            id: "cy",
            traits: email("Cy"),
            orders: 1,
            ..User::default()
        },
        // Notifications off on the phone and no address: nothing.
        User {
            id: "dee",
            traits: json!({"first_name": "Dee"}),
            fcm: Some("fcm-dee"),
            os: Some(false),
            orders: 1,
            ..User::default()
        },
        // Never reported the OS permission: not granted, and out of email too.
        User {
            id: "eve",
            traits: email("Eve"),
            fcm: Some("fcm-eve"),
            unsubscribed: &[Channel::Email],
            orders: 1,
            ..User::default()
        },
        // Reachable, but not in the segment.
        User {
            id: "fay",
            traits: email("Fay"),
            fcm: Some("fcm-fay"),
            os: Some(true),
            ..User::default()
        },
    ])
    .await;

    let id = h
        .send(json!({
            "schema_version": 1,
            "audience": {"segment": "buyers"},
            "content": content(),
            "channels": ["push", "email"],
            "collapse_id": "volta-10"
        }))
        .await;
    let view = h.finished(&id).await;
    assert_eq!(view["counts"]["users"], 5, "{view}");
    assert_eq!(view["counts"]["delivered"], 3, "{view}");
    assert_eq!(view["counts"]["skipped"], 2, "{view}");
    assert_eq!(view["counts"]["pending"], 0, "{view}");
    h.no_rejections();

    // FCM got Ana's push only.
    let pushes = h.mocks.fcm.received();
    assert_eq!(pushes.len(), 1, "{pushes:#?}");
    let push = &pushes[0];
    assert_eq!(push.token, "fcm-ana");
    assert_eq!(push.title.as_deref(), Some("Oi Ana"));
    assert_eq!(push.body.as_deref(), Some("Use VOLTA10 e ganhe 10%"));
    assert_eq!(push.android.as_ref().unwrap()["collapse_key"], "volta-10");
    let payload = payload_of(&push.data);
    assert_eq!(payload.send_id.as_deref(), Some(id.as_str()));
    assert_eq!(payload.campaign_id, None);
    assert_eq!(
        payload.deep_link.as_deref(),
        Some("shop://cart?coupon=VOLTA10&utm_source=beckon")
    );
    let promo = payload.promo.expect("the promo travels with the push");
    assert_eq!(
        (promo.code.as_str(), promo.discount, promo.max_uses),
        ("VOLTA10", Discount::Percent { value: 10.0 }, 2)
    );

    // The webhook got email for Bo and Cy, who permit email and have an address.
    let mut emails: Vec<(String, String)> = h
        .mocks
        .webhook
        .received()
        .iter()
        .map(|w| {
            assert_eq!(w.message["channel"], "email");
            (
                w.message["address"].as_str().unwrap().to_owned(),
                w.message["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            ("bo@shop.example".to_owned(), "Hi Bo".to_owned()),
            ("cy@shop.example".to_owned(), "Hi Cy".to_owned())
        ]
    );

    let deliveries = h.deliveries(&id).await;
    assert!(!deliveries.contains_key("fay"), "not in the segment");
    let ana = &deliveries["ana"][0];
    assert_eq!(ana["channel"], "push");
    assert_eq!(ana["provider"], "fcm");
    assert_eq!(
        ana["message_id"].as_str(),
        Some(payload.message_id.as_str())
    );
    assert_eq!(ana["attempts"][0]["outcome"], "delivered");
    assert_eq!(ana["content"]["locale"], "pt-BR");
    let bo = &deliveries["bo"][0];
    assert_eq!(
        (bo["channel"].as_str(), bo["status"].as_str()),
        (Some("email"), Some("delivered"))
    );
    assert_eq!(reasons(bo), ["push: unsubscribed"]);
    assert_eq!(reasons(&deliveries["cy"][0]), ["push: no push token"]);
    assert_eq!(statuses(&deliveries, "dee"), ["skipped"]);
    assert_eq!(
        reasons(&deliveries["dee"][0]),
        [
            "push: notifications off on every device",
            "email: no address"
        ]
    );
    assert_eq!(
        reasons(&deliveries["eve"][0]),
        [
            "push: notifications off on every device",
            "email: unsubscribed"
        ]
    );
    assert!(deliveries["eve"][0]["attempts"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_campaign_send_goes_through_apns_and_is_live_in_app_for_the_rest() {
    let h = Harness::start().await;
    h.buyers_segment().await;
    let campaign = common::campaign("thank-you", &["buyers"], "buyers");
    let (status, body) = h.post(common::CAMPAIGNS, &campaign).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    h.add_users(&[
        User {
            id: "ana",
            traits: json!({"first_name": "Ana"}),
            apns: Some(APNS_TOKEN),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "bo",
            traits: json!({"first_name": "Bo"}),
            orders: 1,
            ..User::default()
        },
        User {
            id: "cy",
            traits: json!({"first_name": "Cy"}),
            unsubscribed: &[Channel::InApp],
            orders: 1,
            ..User::default()
        },
    ])
    .await;

    let id = h
        .send(json!({
            "schema_version": 1,
            "audience": {"campaign": "thank-you"},
            "content": {"deep_link": "https://shop.example/p/42?utm_source=push", "promo": promo()},
            "channels": ["push", "in_app"],
            "collapse_id": "thanks"
        }))
        .await;
    let view = h.finished(&id).await;
    assert_eq!(view["campaign_id"], "thank-you");
    assert_eq!(
        (
            view["counts"]["delivered"].as_u64(),
            view["counts"]["skipped"].as_u64()
        ),
        (Some(2), Some(1)),
        "{view}"
    );
    h.no_rejections();

    let pushes = h.mocks.apns.received();
    assert_eq!(pushes.len(), 1, "{pushes:#?}");
    let push = &pushes[0];
    assert_eq!(push.device_token, APNS_TOKEN);
    assert_eq!(push.http_version, "HTTP/2.0");
    assert_eq!(push.headers["apns-topic"], h.mocks.apns.topic());
    assert_eq!(push.headers["apns-push-type"], "alert");
    assert_eq!(push.headers["apns-priority"], "10");
    assert_eq!(push.headers["apns-collapse-id"], "thanks");
    assert_eq!(push.payload["aps"]["alert"]["title"], "Hi Ana!");
    // The payload sits next to `aps` as an object, as the app reads it.
    let payload = beckon::push::parse_push(&push.payload.to_string()).unwrap();
    assert_eq!(payload.campaign_id.as_deref(), Some("thank-you"));
    assert_eq!(payload.send_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        payload.deep_link.as_deref(),
        Some("https://shop.example/p/42?utm_source=push")
    );
    assert_eq!(payload.promo.unwrap().code, "VOLTA10");
    assert!(h.mocks.fcm.received().is_empty());

    let deliveries = h.deliveries(&id).await;
    let bo = &deliveries["bo"][0];
    assert_eq!(
        (bo["channel"].as_str(), bo["status"].as_str()),
        (Some("in_app"), Some("delivered"))
    );
    assert!(
        bo["detail"]
            .as_str()
            .unwrap()
            .contains("\"thank-you\" is live"),
        "{bo}"
    );
    assert_eq!(
        reasons(&deliveries["cy"][0]),
        ["push: no push token", "in_app: unsubscribed"]
    );
}

#[tokio::test]
async fn in_app_is_skipped_for_a_send_without_a_campaign() {
    let h = Harness::start().await;
    h.add_users(&[User {
        id: "bo",
        traits: json!({"first_name": "Bo"}),
        ..User::default()
    }])
    .await;
    let id = h
        .send(
            json!({"schema_version": 1, "audience": {"user_key": "bo"}, "content": content(),
                     "channels": ["push", "in_app"]}),
        )
        .await;
    h.finished(&id).await;
    let deliveries = h.deliveries(&id).await;
    let bo = &deliveries["bo"][0];
    assert_eq!(bo["status"], "skipped");
    let why = reasons(bo);
    assert_eq!(why[0], "push: no push token");
    assert!(
        why[1].starts_with("in_app: the app shows only campaigns' messages"),
        "{why:?}"
    );
}

#[tokio::test]
async fn an_unregistered_token_is_dropped_and_the_next_send_skips_it() {
    let h = Harness::start().await;
    h.add_users(&[User {
        id: "ana",
        traits: json!({"first_name": "Ana"}),
        fcm: Some("fcm-gone"),
        os: Some(true),
        ..User::default()
    }])
    .await;
    h.mocks.fcm.reply_for_token("fcm-gone", Reply::Unregistered);
    let request = json!({"schema_version": 1, "audience": {"user_key": "ana"}, "content": content(),
                         "channels": ["push"]});

    let first = h.send(request.clone()).await;
    let view = h.finished(&first).await;
    assert_eq!(view["counts"]["unregistered"], 1, "{view}");
    let deliveries = h.deliveries(&first).await;
    let attempts = deliveries["ana"][0]["attempts"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 1, "an unregistered token is not retried");
    assert_eq!(attempts[0]["outcome"], "unregistered");
    let (_, user) = h.get("/v1/admin/users/ana").await;
    let token = &user["devices"][0]["tokens"][0];
    assert_eq!(token["token"], "fcm-gone");
    assert!(!token["removed_at"].is_null(), "{user}");
    assert!(
        token["removed_reason"]
            .as_str()
            .unwrap()
            .starts_with("fcm:"),
        "{user}"
    );

    let second = h.send(request).await;
    let view = h.finished(&second).await;
    assert_eq!(view["counts"]["skipped"], 1, "{view}");
    let deliveries = h.deliveries(&second).await;
    assert_eq!(reasons(&deliveries["ana"][0]), ["push: no push token"]);
    assert_eq!(
        h.mocks.fcm.counters().send_requests,
        1,
        "the dropped token is not tried again"
    );
}

#[tokio::test]
async fn rate_limits_and_outages_are_retried_and_every_attempt_is_stored() {
    let h = Harness::start().await;
    h.add_users(&[
        User {
            id: "ana",
            traits: json!({"first_name": "Ana"}),
            fcm: Some("fcm-ana"),
            os: Some(true),
            ..User::default()
        },
        User {
            id: "bo",
            traits: json!({"first_name": "Bo"}),
            fcm: Some("fcm-down"),
            os: Some(true),
            ..User::default()
        },
    ])
    .await;
    h.mocks.fcm.reply_next([
        Reply::TooManyRequests {
            retry_after: Some("1".into()),
        },
        Reply::Unavailable { retry_after: None },
    ]);
    let id = h
        .send(json!({"schema_version": 1, "audience": {"user_key": "ana"}, "content": content(), "channels": ["push"]}))
        .await;
    h.finished(&id).await;
    let ana = &h.deliveries(&id).await["ana"][0];
    assert_eq!(ana["status"], "delivered");
    let attempts = ana["attempts"].as_array().unwrap();
    let seen: Vec<(u64, &str, Option<u64>)> = attempts
        .iter()
        .map(|a| {
            (
                a["number"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
                a["http_status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "retry", Some(429)),
            (2, "retry", Some(503)),
            (3, "delivered", None)
        ]
    );
    let at = |a: &Value, key: &str| a[key].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert!(
        at(&attempts[1], "started_at") - at(&attempts[0], "finished_at") >= TimeDelta::seconds(1),
        "Retry-After: 1 is honoured: {attempts:#?}"
    );

    // A provider that stays down: every attempt the policy allows, then failed.
    h.mocks
        .fcm
        .reply_for_token("fcm-down", Reply::Unavailable { retry_after: None });
    let id = h
        .send(json!({"schema_version": 1, "audience": {"user_key": "bo"}, "content": content(), "channels": ["push"]}))
        .await;
    let view = h.finished(&id).await;
    assert_eq!(view["counts"]["failed"], 1, "{view}");
    let bo = &h.deliveries(&id).await["bo"][0];
    assert_eq!(bo["attempts"].as_array().unwrap().len(), 4);
    assert!(
        bo["detail"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 4 attempts"),
        "{bo}"
    );
    h.no_rejections();
}

/// The instant a wall-clock time on `date` is in `zone`.
fn local(zone: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let time = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
    zone.from_local_datetime(&time)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_local_time_send_with_quiet_hours_plans_each_user_in_their_own_zone() {
    let h = Harness::start().await;
    let token = |id: &'static str| Some(id);
    h.add_users(&[
        User {
            id: "lisbon",
            zone: Some("Europe/Lisbon"),
            fcm: token("t-lisbon"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "sao-paulo",
            zone: Some("America/Sao_Paulo"),
            fcm: token("t-sp"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "tokyo",
            zone: Some("Asia/Tokyo"),
            fcm: token("t-tokyo"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "india",
            country: Some("IN"),
            fcm: token("t-india"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "nowhere",
            fcm: token("t-nowhere"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
    ])
    .await;
    // Reporting a token is not activity (segments read what shoppers did): one order each.
    let segment = json!({"schema": 1, "id": "everyone", "name": "Everyone",
                         "rule": {"count": {"event": "Order Completed"}, "at_least": 1}});
    let (status, body) = h.post(SEGMENTS, &segment).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let day = (h.clock.now() + TimeDelta::days(3)).date_naive();
    let id = h
        .send(json!({
            "schema_version": 1,
            "audience": {"segment": "everyone"},
            "content": content(),
            "channels": ["push"],
            "schedule": {"local": format!("{}-{:02}-{:02}T07:00", day.year(), day.month(), day.day())},
            "quiet_hours": {"start": "21:00", "end": "08:00"}
        }))
        .await;
    let view = h.planned(&id).await;
    assert_eq!(view["status"], "running", "{view}");
    assert_eq!(view["counts"]["pending"], 5, "{view}");
    let deliveries = h.deliveries(&id).await;
    for (user, zone, source) in [
        ("lisbon", chrono_tz::Europe::Lisbon, "device"),
        ("sao-paulo", chrono_tz::America::Sao_Paulo, "device"),
        ("tokyo", chrono_tz::Asia::Tokyo, "device"),
        ("india", chrono_tz::Asia::Kolkata, "country"),
        ("nowhere", chrono_tz::UTC, "utc"),
    ] {
        let d = &deliveries[user][0];
        let at = |key: &str| d[key].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        // 07:00 falls in the quiet hours: held to their end, 08:00 where the user is.
        assert_eq!(at("scheduled_for"), local(zone, day, 7), "{user}: {d}");
        assert_eq!(at("deliver_at"), local(zone, day, 8), "{user}: {d}");
        assert_eq!(d["held_by_quiet_hours"], true, "{user}");
        assert_eq!(d["time_zone"], zone.name(), "{user}");
        assert_eq!(d["zone_source"], source, "{user}");
        assert_eq!(d["status"], "pending", "{user}");
    }
    assert!(h.mocks.fcm.received().is_empty(), "nothing is due yet");
}

#[tokio::test]
async fn a_delivery_planned_for_later_goes_out_when_due_even_after_a_restart() {
    let mut h = Harness::start().await;
    h.add_users(&[
        User {
            id: "ana",
            traits: json!({"first_name": "Ana"}),
            fcm: Some("fcm-ana"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
        User {
            id: "bo",
            traits: json!({"first_name": "Bo"}),
            fcm: Some("fcm-bo"),
            os: Some(true),
            orders: 1,
            ..User::default()
        },
    ])
    .await;
    h.buyers_segment().await;
    let due = h.clock.now() + TimeDelta::hours(2);
    let id = h
        .send(
            json!({"schema_version": 1, "audience": {"segment": "buyers"}, "content": content(),
                     "channels": ["push"], "schedule": {"at": rfc3339(due)}}),
        )
        .await;
    let view = h.planned(&id).await;
    assert_eq!(view["counts"]["pending"], 2, "{view}");

    h.restart().await;
    // Bo turns push off while the message waits.
    h.upload(
        User {
            id: "bo",
            unsubscribed: &[Channel::Push],
            ..User::default()
        }
        .events(),
    )
    .await;
    assert_eq!(
        h.get(&format!("{SENDS}/{id}")).await.1["counts"]["pending"],
        2
    );
    assert!(h.mocks.fcm.received().is_empty());

    h.clock.advance(TimeDelta::hours(2));
    let view = h.finished(&id).await;
    assert_eq!(view["counts"]["delivered"], 1, "{view}");
    assert_eq!(view["counts"]["skipped"], 1, "{view}");
    let pushes = h.mocks.fcm.received();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].token, "fcm-ana");
    let deliveries = h.deliveries(&id).await;
    assert_eq!(
        deliveries["bo"][0]["detail"],
        "push: not permitted when it was due (unsubscribed)"
    );
    h.no_rejections();
}

#[tokio::test]
async fn a_cancelled_send_skips_what_is_still_pending() {
    let h = Harness::start().await;
    h.add_users(&[User {
        id: "ana",
        fcm: Some("fcm-ana"),
        os: Some(true),
        ..User::default()
    }])
    .await;
    let later = h.clock.now() + TimeDelta::days(1);
    let id = h
        .send(
            json!({"schema_version": 1, "audience": {"user_key": "ana"}, "content": content(),
                     "schedule": {"at": rfc3339(later)}}),
        )
        .await;
    h.planned(&id).await;
    let (status, view) = h.post(&format!("{SENDS}/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "cancelled");
    assert_eq!(
        (
            view["counts"]["pending"].as_u64(),
            view["counts"]["skipped"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let (status, again) = h.post(&format!("{SENDS}/{id}/cancel"), &json!({})).await;
    assert_eq!(
        (status, &again["status"]),
        (StatusCode::OK, &json!("cancelled"))
    );
    h.clock.advance(TimeDelta::days(2));

    let now = h
        .send(json!({"schema_version": 1, "audience": {"user_key": "ana"}, "content": content()}))
        .await;
    h.finished(&now).await;
    // Only the second send's push went out, though the first one's instant has passed.
    let pushes = h.mocks.fcm.received();
    assert_eq!(pushes.len(), 1);
    assert_eq!(
        payload_of(&pushes[0].data).send_id.as_deref(),
        Some(now.as_str())
    );
    let (status, body) = h.post(&format!("{SENDS}/{now}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn bad_requests_are_refused_with_every_field_named() {
    let h = Harness::start().await;
    let (status, body) = h
        .post(
            SENDS,
            &json!({
                "schema_version": 1,
                "audience": {"segment": "nobody"},
                "content": {"default_locale": "en", "variants": {"en": {"title": "Hi {{frist_name}}", "body": "b"}},
                            "promo": {"code": "TOO LONG", "discount": {"percent": 10}}},
                "channels": ["push", "push"]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "audience.segment",
            "content.promo.code",
            "content.promo.expires_at",
            "content.variants.en.title",
            "channels"
        ],
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("did you mean first_name?"), "{message}");

    let (status, body) = h
        .post(
            SENDS,
            &json!({"schema_version": 1, "audience": {"user_key": "a"}, "contnet": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["fields"][0]["field"], "contnet", "{body}");

    let response = h
        .http
        .post(format!("{}{SENDS}", h.url))
        .bearer_auth(ADMIN_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_answer(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{body}"
    );

    let huge = "x".repeat(70 * 1024);
    let (status, _) = h
        .post(SENDS, &json!({"schema_version": 1, "pad": huge}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let unauthorized = h
        .http
        .post(format!("{}{SENDS}", h.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    let (status, _) = h.get(&format!("{SENDS}/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.get(&format!("{SENDS}/nope/deliveries")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.add_users(&[User {
        id: "ana",
        ..User::default()
    }])
    .await;
    let id = h
        .send(json!({"schema_version": 1, "audience": {"user_key": "ana"}, "content": content()}))
        .await;
    for query in ["status=lost", "limit=0", "cursor=-1"] {
        let (status, body) = h.get(&format!("{SENDS}/{id}/deliveries?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}

#[tokio::test]
async fn the_server_does_not_start_with_an_unusable_provider() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        ServerConfig::loopback(dir.path().join("db"), vec![APP_KEY.into()], ADMIN_TOKEN);
    config.delivery.fcm = Some(FcmConfig::new(KeySource::Inline(
        "not a service account".into(),
    )));
    match start(config).await {
        Err(ServerError::Providers(err)) => {
            assert!(err.to_string().contains("service account"), "{err}")
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("started with an unusable FCM service account"),
    }
}
