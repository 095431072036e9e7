//! The delivery providers against the mock providers over loopback: real HTTP, real
//! TLS with HTTP/2 for APNs, real signatures checked by the mocks.

use std::collections::BTreeMap;
use std::time::Duration;

use beckon::common::RetryPolicy;
use beckon_mock_providers::{MockApns, MockFcm, MockWebhook, Reply};
use beckon_server::delivery::{
    ApnsConfig, Attempt, DeliveryConfig, DeliveryConfigError, DeliveryRetry, FcmConfig, KeySource,
    Outbound, Outcome, Providers, PushNotification, PushPriority, PushProvider, WebhookChannel,
    WebhookConfig,
};
use chrono::{TimeDelta, Utc};
use serde_json::json;

const APNS_TOKEN: &str = "6a1f0c3e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29";
const OTHER_APNS_TOKEN: &str = "aa1f0c3e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2b";

/// Short waits so retry tests stay quick; `Retry-After` is still honoured in full.
fn quick_policy() -> DeliveryRetry {
    DeliveryRetry {
        max_attempts: 3,
        timing: RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
            jitter: 0.1,
            max_retry_after: Duration::from_secs(5),
        },
    }
}

fn notification() -> PushNotification {
    PushNotification {
        title: "Your cart misses you".into(),
        body: "SPRING10 takes 10% off until tonight".into(),
        data: BTreeMap::from([
            (
                "beckon".into(),
                json!({"v": 1, "message_id": "m-1", "campaign_id": "c-1", "deep_link": "shop://cart"})
                    .to_string(),
            ),
            ("screen".into(), "cart".into()),
        ]),
        collapse_id: Some("cart-reminder".into()),
        expires_at: Some(Utc::now() + TimeDelta::hours(6)),
        priority: PushPriority::High,
    }
}

fn push(provider: PushProvider, token: &str) -> Outbound {
    Outbound::Push {
        provider,
        token: token.into(),
        notification: notification(),
    }
}

fn oversized(provider: PushProvider, token: &str) -> Outbound {
    let mut notification = notification();
    notification.body = "x".repeat(5000);
    Outbound::Push {
        provider,
        token: token.into(),
        notification,
    }
}

fn fcm_config(mock: &MockFcm) -> DeliveryConfig {
    DeliveryConfig {
        fcm: Some(FcmConfig {
            service_account: KeySource::Inline(mock.service_account_json().into()),
            base_url: mock.url(),
        }),
        ..DeliveryConfig::default()
    }
}

fn apns_config(mock: &MockApns) -> ApnsConfig {
    ApnsConfig {
        key: KeySource::Inline(mock.key().pem.clone()),
        key_id: mock.key().key_id.clone(),
        team_id: mock.key().team_id.clone(),
        topic: mock.topic().into(),
        base_url: mock.url(),
        extra_root_ca: Some(KeySource::Inline(mock.ca_pem().into())),
    }
}

fn apns_providers(mock: &MockApns) -> Providers {
    Providers::new(DeliveryConfig {
        apns: Some(apns_config(mock)),
        ..DeliveryConfig::default()
    })
    .unwrap()
}

fn webhook_providers(url: String, secret: &str) -> Providers {
    Providers::new(DeliveryConfig {
        webhook: Some(WebhookConfig {
            url,
            secret: secret.into(),
        }),
        ..DeliveryConfig::default()
    })
    .unwrap()
}

fn only(attempts: Vec<Attempt>) -> Outcome {
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0].number, 1);
    attempts.into_iter().next().unwrap().outcome
}

/// Time between the end of one attempt and the start of the next.
fn gap(attempts: &[Attempt], after: usize) -> Duration {
    (attempts[after + 1].started_at - attempts[after].finished_at)
        .to_std()
        .unwrap()
}

// ---------------------------------------------------------------- FCM

#[tokio::test]
async fn fcm_fetches_an_access_token_once_and_sends_the_v1_message() {
    let mock = MockFcm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("service-account.json");
    std::fs::write(&file, mock.service_account_json()).unwrap();
    let providers = Providers::new(DeliveryConfig {
        fcm: Some(FcmConfig {
            service_account: KeySource::File(file),
            base_url: format!("{}/", mock.url()),
        }),
        ..DeliveryConfig::default()
    })
    .unwrap();

    let first = only(
        providers
            .deliver(&push(PushProvider::Fcm, "fcm-token-1"), &quick_policy())
            .await,
    );
    let second = providers
        .send_once(&push(PushProvider::Fcm, "fcm-token-2"))
        .await;
    assert_eq!(
        first,
        Outcome::Delivered {
            provider_id: Some("projects/beckon-test-project/messages/0:1".into())
        }
    );
    assert!(matches!(
        second,
        Outcome::Delivered {
            provider_id: Some(_)
        }
    ));

    assert!(mock.rejections().is_empty(), "{:?}", mock.rejections());
    let counters = mock.counters();
    assert_eq!(counters.token_requests, 1, "the access token is cached");
    assert_eq!(counters.tokens_issued, 1);
    assert_eq!(counters.delivered, 2);
    let received = mock.received();
    assert_eq!(received[0].access_token, received[1].access_token);
    let message = &received[0];
    assert_eq!(message.token, "fcm-token-1");
    assert_eq!(message.title.as_deref(), Some("Your cart misses you"));
    assert_eq!(
        message.body.as_deref(),
        Some("SPRING10 takes 10% off until tonight")
    );
    assert_eq!(message.data, notification().data, "data travels as strings");
    let android = message.android.as_ref().unwrap();
    assert_eq!(android["priority"], "high");
    assert_eq!(android["collapse_key"], "cart-reminder");
    let ttl: u64 = android["ttl"]
        .as_str()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!((6 * 3600 - 60..=6 * 3600).contains(&ttl), "{ttl}");

    // What a process other than the mock's (the demo, the Kotlin tests) reads back.
    let listed: serde_json::Value = reqwest::get(format!(
        "{}{}",
        mock.url(),
        beckon_mock_providers::RECEIVED_PATH
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["token"], "fcm-token-1");
    assert_eq!(listed[0]["title"], "Your cart misses you");
    assert_eq!(
        listed[0]["data"],
        serde_json::to_value(&notification().data).unwrap()
    );
}

#[tokio::test]
async fn concurrent_fcm_sends_share_one_token_fetch() {
    let mock = MockFcm::start().await;
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    let sends = (0..64).map(|i| {
        let providers = providers.clone();
        tokio::spawn(async move {
            providers
                .send_once(&push(PushProvider::Fcm, &format!("token-{i}")))
                .await
        })
    });
    for send in sends.collect::<Vec<_>>() {
        assert!(matches!(send.await.unwrap(), Outcome::Delivered { .. }));
    }
    assert_eq!(mock.counters().token_requests, 1);
    assert_eq!(mock.counters().delivered, 64);
}

#[tokio::test]
async fn fcm_fetches_a_new_access_token_after_a_401_and_sends_in_the_same_attempt() {
    let mock = MockFcm::start().await;
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    assert!(matches!(
        providers.send_once(&push(PushProvider::Fcm, "t1")).await,
        Outcome::Delivered { .. }
    ));
    mock.revoke_access_tokens();
    let outcome = only(
        providers
            .deliver(&push(PushProvider::Fcm, "t2"), &quick_policy())
            .await,
    );
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");

    let counters = mock.counters();
    assert_eq!(counters.tokens_issued, 2);
    assert_eq!(counters.rejected, 1, "the revoked token was refused once");
    let received = mock.received();
    assert_ne!(received[0].access_token, received[1].access_token);
}

#[tokio::test]
async fn fcm_unregistered_and_invalid_tokens_are_unregistered_without_retrying() {
    let mock = MockFcm::start().await;
    mock.reply_for_token("gone", Reply::Unregistered);
    mock.reply_for_token("garbled", Reply::BadToken);
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    for token in ["gone", "garbled"] {
        match only(
            providers
                .deliver(&push(PushProvider::Fcm, token), &quick_policy())
                .await,
        ) {
            Outcome::Unregistered { detail } => assert!(detail.starts_with("FCM"), "{detail}"),
            other => panic!("{token}: {other:?}"),
        }
    }
    assert_eq!(mock.counters().scripted, 2);
    assert_eq!(mock.counters().delivered, 0);
}

#[tokio::test]
async fn fcm_429_waits_at_least_its_retry_after_then_delivers() {
    let mock = MockFcm::start().await;
    mock.reply_next([Reply::TooManyRequests {
        retry_after: Some("1".into()),
    }]);
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    let attempts = providers
        .deliver(&push(PushProvider::Fcm, "t"), &quick_policy())
        .await;
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_eq!(
        attempts[0].outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(1)),
            status: Some(429),
            detail: "FCM 429 QUOTA_EXCEEDED: Quota exceeded for sending messages.".into(),
        }
    );
    assert!(
        gap(&attempts, 0) >= Duration::from_secs(1),
        "{:?}",
        gap(&attempts, 0)
    );
    assert_eq!(attempts[1].number, 2);
    assert!(matches!(attempts[1].outcome, Outcome::Delivered { .. }));
}

#[tokio::test]
async fn fcm_503_then_200_is_delivered_on_the_second_attempt_after_backoff() {
    let mock = MockFcm::start().await;
    mock.reply_next([Reply::Unavailable { retry_after: None }]);
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    let policy = quick_policy();
    let attempts = providers
        .deliver(&push(PushProvider::Fcm, "t"), &policy)
        .await;
    assert_eq!(attempts.len(), 2);
    assert!(matches!(
        attempts[0].outcome,
        Outcome::Retry {
            after: None,
            status: Some(503),
            ..
        }
    ));
    assert!(matches!(attempts[1].outcome, Outcome::Delivered { .. }));
    // The first backoff is the base, less at most the jitter.
    assert!(gap(&attempts, 0) >= policy.timing.base.mul_f64(1.0 - policy.timing.jitter));
    assert_eq!(mock.counters().delivered, 1);
}

#[tokio::test]
async fn retries_stop_after_the_policys_attempts() {
    let mock = MockFcm::start().await;
    mock.reply_next(std::iter::repeat_n(Reply::InternalError, 5));
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    let attempts = providers
        .deliver(&push(PushProvider::Fcm, "t"), &quick_policy())
        .await;
    let numbers: Vec<u32> = attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(attempts.iter().all(|a| matches!(
        a.outcome,
        Outcome::Retry {
            status: Some(500),
            ..
        }
    )));
    assert_eq!(mock.counters().scripted, 3);
}

#[tokio::test]
async fn an_oversized_push_is_refused_before_anything_is_sent() {
    let fcm = MockFcm::start().await;
    let apns = MockApns::start().await;
    let providers = Providers::new(DeliveryConfig {
        apns: Some(apns_config(&apns)),
        ..fcm_config(&fcm)
    })
    .unwrap();
    for (provider, token) in [(PushProvider::Fcm, "t"), (PushProvider::Apns, APNS_TOKEN)] {
        match only(
            providers
                .deliver(&oversized(provider, token), &quick_policy())
                .await,
        ) {
            Outcome::Failed {
                status: None,
                detail,
            } => {
                assert!(detail.contains("4096-byte limit"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(fcm.counters().token_requests, 0);
    assert_eq!(fcm.counters().send_requests, 0);
    assert_eq!(apns.counters().requests, 0);
}

#[tokio::test]
async fn a_service_account_the_token_endpoint_does_not_trust_fails_the_send() {
    let mock = MockFcm::start().await;
    // The mock's key, but another account's email: the assertion's `iss` is refused.
    let mut account: serde_json::Value = serde_json::from_str(mock.service_account_json()).unwrap();
    account["client_email"] = json!("someone-else@beckon-test-project.iam.gserviceaccount.com");
    let providers = Providers::new(DeliveryConfig {
        fcm: Some(FcmConfig {
            service_account: KeySource::Inline(account.to_string()),
            base_url: mock.url(),
        }),
        ..DeliveryConfig::default()
    })
    .unwrap();
    match only(
        providers
            .deliver(&push(PushProvider::Fcm, "t"), &quick_policy())
            .await,
    ) {
        Outcome::Failed {
            status: Some(400),
            detail,
        } => {
            assert!(detail.contains("invalid_grant"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.counters().send_requests, 0);
    assert!(
        mock.rejections()[0].contains("iss"),
        "{:?}",
        mock.rejections()
    );
}

// ---------------------------------------------------------------- APNs

#[tokio::test]
async fn apns_sends_over_http2_with_every_header_and_reuses_the_provider_token() {
    let mock = MockApns::start().await;
    let providers = apns_providers(&mock);
    let sent_at = Utc::now();
    for token in [APNS_TOKEN, OTHER_APNS_TOKEN] {
        match only(
            providers
                .deliver(&push(PushProvider::Apns, token), &quick_policy())
                .await,
        ) {
            Outcome::Delivered {
                provider_id: Some(id),
            } => assert_eq!(id.len(), 36, "{id}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(mock.rejections().is_empty(), "{:?}", mock.rejections());
    let counters = mock.counters();
    assert_eq!(counters.delivered, 2);
    assert_eq!(counters.not_http2, 0);
    assert_eq!(
        counters.provider_tokens, 1,
        "one provider token for both pushes"
    );

    let received = mock.received();
    assert_eq!(received[0].provider_token, received[1].provider_token);
    let push = &received[0];
    assert_eq!(push.http_version, "HTTP/2.0");
    assert_eq!(push.device_token, APNS_TOKEN);
    assert_eq!(push.headers["apns-topic"], mock.topic());
    assert_eq!(push.headers["apns-push-type"], "alert");
    assert_eq!(push.headers["apns-priority"], "10");
    assert_eq!(push.headers["apns-collapse-id"], "cart-reminder");
    let expiration: i64 = push.headers["apns-expiration"].parse().unwrap();
    let expected = (sent_at + TimeDelta::hours(6)).timestamp();
    assert!(
        (expected - 5..=expected + 5).contains(&expiration),
        "{expiration}"
    );
    assert_eq!(
        push.payload,
        json!({
            "aps": {
                "alert": {"title": "Your cart misses you", "body": "SPRING10 takes 10% off until tonight"},
                "sound": "default"
            },
            "beckon": {"v": 1, "message_id": "m-1", "campaign_id": "c-1", "deep_link": "shop://cart"},
            "screen": "cart"
        })
    );
}

#[tokio::test]
async fn apns_normal_priority_without_expiry_sends_5_and_0() {
    let mock = MockApns::start().await;
    let providers = apns_providers(&mock);
    let mut notification = notification();
    notification.priority = PushPriority::Normal;
    notification.expires_at = None;
    notification.collapse_id = None;
    let outbound = Outbound::Push {
        provider: PushProvider::Apns,
        token: APNS_TOKEN.into(),
        notification,
    };
    assert!(matches!(
        providers.send_once(&outbound).await,
        Outcome::Delivered { .. }
    ));
    let received = mock.received();
    assert_eq!(received[0].headers["apns-priority"], "5");
    assert_eq!(received[0].headers["apns-expiration"], "0");
    assert!(!received[0].headers.contains_key("apns-collapse-id"));
}

#[tokio::test]
async fn apns_410_and_bad_device_tokens_are_unregistered() {
    let mock = MockApns::start().await;
    mock.reply_for_token(APNS_TOKEN, Reply::Unregistered);
    mock.reply_for_token(OTHER_APNS_TOKEN, Reply::BadToken);
    let providers = apns_providers(&mock);
    assert_eq!(
        only(
            providers
                .deliver(&push(PushProvider::Apns, APNS_TOKEN), &quick_policy())
                .await
        ),
        Outcome::Unregistered {
            detail: "APNs 410 Unregistered".into()
        }
    );
    assert_eq!(
        only(
            providers
                .deliver(&push(PushProvider::Apns, OTHER_APNS_TOKEN), &quick_policy())
                .await
        ),
        Outcome::Unregistered {
            detail: "APNs 400 BadDeviceToken".into()
        }
    );
    // A token that is not hex never reaches APNs.
    assert!(matches!(
        only(
            providers
                .deliver(
                    &push(PushProvider::Apns, "not-a-device-token"),
                    &quick_policy()
                )
                .await
        ),
        Outcome::Unregistered { .. }
    ));
    assert_eq!(mock.counters().requests, 2);
}

#[tokio::test]
async fn apns_429_honours_retry_after_and_503_is_retried() {
    let mock = MockApns::start().await;
    mock.reply_next([
        Reply::TooManyRequests {
            retry_after: Some("1".into()),
        },
        Reply::Unavailable { retry_after: None },
    ]);
    let providers = apns_providers(&mock);
    let attempts = providers
        .deliver(&push(PushProvider::Apns, APNS_TOKEN), &quick_policy())
        .await;
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert_eq!(
        attempts[0].outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(1)),
            status: Some(429),
            detail: "APNs 429 TooManyRequests".into()
        }
    );
    assert!(gap(&attempts, 0) >= Duration::from_secs(1));
    assert!(matches!(
        attempts[1].outcome,
        Outcome::Retry {
            status: Some(503),
            ..
        }
    ));
    assert!(matches!(attempts[2].outcome, Outcome::Delivered { .. }));
}

#[tokio::test]
async fn apns_expired_provider_token_is_replaced_once_within_the_attempt() {
    let mock = MockApns::start().await;
    mock.reply_next([Reply::StaleCredentials]);
    let providers = apns_providers(&mock);
    let outcome = only(
        providers
            .deliver(&push(PushProvider::Apns, APNS_TOKEN), &quick_policy())
            .await,
    );
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert_eq!(mock.counters().provider_tokens, 2);
    assert_eq!(mock.counters().requests, 2);

    // Expired again right after the replacement: the attempt fails rather than loop.
    mock.reply_next([Reply::StaleCredentials, Reply::StaleCredentials]);
    match providers
        .send_once(&push(PushProvider::Apns, APNS_TOKEN))
        .await
    {
        Outcome::Failed {
            status: Some(403),
            detail,
        } => {
            assert!(detail.contains("ExpiredProviderToken"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn apns_refuses_a_provider_token_signed_by_another_key() {
    let mock = MockApns::start().await;
    let stranger = MockApns::start().await;
    let mut config = apns_config(&mock);
    config.key = KeySource::Inline(stranger.key().pem.clone());
    let providers = Providers::new(DeliveryConfig {
        apns: Some(config),
        ..DeliveryConfig::default()
    })
    .unwrap();
    assert_eq!(
        only(
            providers
                .deliver(&push(PushProvider::Apns, APNS_TOKEN), &quick_policy())
                .await
        ),
        Outcome::Failed {
            status: Some(403),
            detail: "APNs 403 InvalidProviderToken".into()
        }
    );
    assert!(
        mock.rejections()[0].contains("signature"),
        "{:?}",
        mock.rejections()
    );
}

#[tokio::test]
async fn apns_is_not_reached_without_trusting_its_certificate() {
    let mock = MockApns::start().await;
    let mut config = apns_config(&mock);
    config.extra_root_ca = None;
    let providers = Providers::new(DeliveryConfig {
        apns: Some(config),
        ..DeliveryConfig::default()
    })
    .unwrap();
    match providers
        .send_once(&push(PushProvider::Apns, APNS_TOKEN))
        .await
    {
        Outcome::Retry {
            status: None,
            detail,
            ..
        } => assert!(detail.starts_with("APNs"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.counters().requests, 0);
}

// ---------------------------------------------------------------- Webhook

fn sms(address: &str) -> Outbound {
    Outbound::Webhook {
        channel: WebhookChannel::Sms,
        user_key: "user-42".into(),
        address: address.into(),
        subject: None,
        body: "SPRING10: 10% off until tonight".into(),
        data: json!({"campaign_id": "c-1", "message_id": "m-1"}),
    }
}

#[tokio::test]
async fn webhook_messages_are_signed_and_verified_by_the_receiver() {
    let mock = MockWebhook::start().await;
    let providers = webhook_providers(mock.url(), mock.secret());
    assert_eq!(
        only(
            providers
                .deliver(&sms("+351910000000"), &quick_policy())
                .await
        ),
        Outcome::Delivered {
            provider_id: Some("mock-1".into())
        }
    );
    let email = Outbound::Webhook {
        channel: WebhookChannel::Email,
        user_key: "user-42".into(),
        address: "ana@example.com".into(),
        subject: Some("Your cart".into()),
        body: "<p>Still thinking it over?</p>".into(),
        data: json!({}),
    };
    assert!(matches!(
        providers.send_once(&email).await,
        Outcome::Delivered { .. }
    ));

    assert!(mock.rejections().is_empty(), "{:?}", mock.rejections());
    let received = mock.received();
    assert_eq!(
        received[0].message,
        json!({
            "channel": "sms",
            "user_key": "user-42",
            "address": "+351910000000",
            "subject": null,
            "body": "SPRING10: 10% off until tonight",
            "data": {"campaign_id": "c-1", "message_id": "m-1"}
        })
    );
    assert_eq!(received[1].message["channel"], "email");
    assert_eq!(received[1].message["subject"], "Your cart");
    assert!(received[0].webhook_id.starts_with("msg_"));
    assert!((received[0].timestamp - Utc::now().timestamp()).abs() < 60);
}

#[tokio::test]
async fn a_webhook_signed_with_the_wrong_secret_is_rejected() {
    let mock = MockWebhook::start().await;
    let impostor = MockWebhook::start().await;
    let providers = webhook_providers(mock.url(), impostor.secret());
    match only(
        providers
            .deliver(&sms("+351910000000"), &quick_policy())
            .await,
    ) {
        Outcome::Failed {
            status: Some(401),
            detail,
        } => {
            assert!(detail.contains("signature"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.counters().rejected, 1);
    assert!(mock.received().is_empty());
}

#[tokio::test]
async fn webhook_gone_addresses_and_retries_keep_one_message_id() {
    let mock = MockWebhook::start().await;
    mock.reply_for_address("+351900000000", Reply::Unregistered);
    mock.reply_next([Reply::Unavailable {
        retry_after: Some("0".into()),
    }]);
    let providers = webhook_providers(mock.url(), mock.secret());
    let attempts = providers
        .deliver(&sms("+351910000000"), &quick_policy())
        .await;
    assert_eq!(attempts.len(), 2);
    assert!(matches!(
        attempts[0].outcome,
        Outcome::Retry { status: Some(503), after: Some(d), .. } if d == Duration::ZERO
    ));
    let Outcome::Delivered { .. } = attempts[1].outcome else {
        panic!("{attempts:#?}")
    };
    assert!(matches!(
        only(
            providers
                .deliver(&sms("+351900000000"), &quick_policy())
                .await
        ),
        Outcome::Unregistered { .. }
    ));
    // Every attempt at the same message carries the same webhook-id, so a receiver
    // deduplicating on it delivers a retried message once.
    let again = providers.send_once(&sms("+351910000000")).await;
    assert!(matches!(again, Outcome::Delivered { .. }));
    let received = mock.received();
    assert_eq!(received[0].webhook_id, received[1].webhook_id);
}

#[tokio::test]
async fn an_unreachable_provider_is_retried_as_a_network_failure() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let providers = webhook_providers(
        format!("http://{closed}/messages"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let quick = quick_policy();
    let policy = DeliveryRetry {
        max_attempts: 2,
        timing: RetryPolicy {
            base: Duration::from_millis(10),
            ..quick.timing
        },
    };
    let attempts = providers.deliver(&sms("+351910000000"), &policy).await;
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        match &attempt.outcome {
            Outcome::Retry {
                status: None,
                after: None,
                detail,
            } => {
                assert!(detail.contains("cannot connect"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------- Configuration

#[tokio::test]
async fn only_configured_providers_are_supported() {
    let mock = MockFcm::start().await;
    let providers = Providers::new(fcm_config(&mock)).unwrap();
    assert!(providers.supports(&push(PushProvider::Fcm, "t")));
    assert!(!providers.supports(&push(PushProvider::Apns, APNS_TOKEN)));
    assert!(!providers.supports(&sms("+351910000000")));
    match providers.send_once(&sms("+351910000000")).await {
        Outcome::Failed {
            status: None,
            detail,
        } => assert_eq!(detail, "no sms provider is configured"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_provider_settings_are_refused_at_construction_saying_which() {
    let error = |config: DeliveryConfig| Providers::new(config).unwrap_err().to_string();
    let missing = error(DeliveryConfig {
        fcm: Some(FcmConfig::new(KeySource::File(
            "/nonexistent/sa.json".into(),
        ))),
        ..DeliveryConfig::default()
    });
    assert!(missing.contains("/nonexistent/sa.json"), "{missing}");
    let not_json = error(DeliveryConfig {
        fcm: Some(FcmConfig::new(KeySource::Inline("{".into()))),
        ..DeliveryConfig::default()
    });
    assert!(not_json.contains("FCM service account"), "{not_json}");
    let apns = ApnsConfig {
        key: KeySource::Inline(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        ),
        key_id: "KEY".into(),
        team_id: "TEAM".into(),
        topic: "dev.beckon.demo".into(),
        base_url: "https://api.push.apple.com".into(),
        extra_root_ca: None,
    };
    assert!(error(DeliveryConfig {
        apns: Some(apns.clone()),
        ..DeliveryConfig::default()
    })
    .contains("APNs key"));
    let secret = error(DeliveryConfig {
        webhook: Some(WebhookConfig {
            url: "https://hooks.example/send".into(),
            secret: "plain-secret".into(),
        }),
        ..DeliveryConfig::default()
    });
    assert!(
        secret.contains("webhook secret") && secret.contains("whsec_"),
        "{secret}"
    );
    match Providers::new(DeliveryConfig {
        webhook: Some(WebhookConfig {
            url: "hooks.example/send".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        }),
        ..DeliveryConfig::default()
    }) {
        Err(DeliveryConfigError::Invalid { what, .. }) => assert_eq!(what, "webhook URL"),
        other => panic!("{other:?}"),
    }
}
