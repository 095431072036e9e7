//! Pushes on a real SDK instance against a real server: an opened push is recorded
//! with its attribution and its promo kept; a deep link that cold-starts the app waits
//! for the router and is delivered once; bad pushes change nothing; promo codes are
//! used within their limits, judged on the server's clock.

use std::collections::HashMap;
use std::time::Duration;

use beckon::client::{Client, ClientError, LinkAction, PushAction};
use beckon::events::{Cart, Event, Product, Properties};
use beckon::protocol::{Discount, PromoOffer, PushPayload};
use beckon::push::{DeepLinkError, DeepLinkRoute, PromoRefusal, PushPayloadError};
use beckon::sync::SyncOutcome;
use beckon::upload::FlushOutcome;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

mod common;
#[path = "common/http_stub.rs"]
#[allow(dead_code)]
mod http_stub;
use common::{sdk_config, TestServer, APP_KEY};
use http_stub::{HttpStub, Reply};

const WAIT: Duration = Duration::from_secs(10);

fn routes() -> Vec<DeepLinkRoute> {
    vec![
        DeepLinkRoute::new("product", "shop://product/{id}"),
        DeepLinkRoute::new("cart", "shop://cart"),
        DeepLinkRoute::new("web_product", "https://shop.example/p/{id}"),
    ]
}

fn hosts() -> Vec<String> {
    vec!["shop.example".into()]
}

fn offer(code: &str, discount: Discount, expires_at: DateTime<Utc>) -> PromoOffer {
    PromoOffer {
        code: code.into(),
        discount,
        currency: Some("EUR".into()),
        expires_at,
        min_basket: None,
        max_uses: 1,
    }
}

fn push(message_id: &str, deep_link: Option<&str>, promo: Option<PromoOffer>) -> PushPayload {
    PushPayload {
        campaign_id: Some("black-friday".into()),
        send_id: Some("send-1".into()),
        deep_link: deep_link.map(str::to_owned),
        promo,
        ..PushPayload::new(message_id)
    }
}

/// The push as Android hands it over: `RemoteMessage.data` as JSON.
fn fcm_json(payload: &PushPayload) -> String {
    serde_json::to_string(&payload.to_fcm_data().unwrap()).unwrap()
}

/// The push as iOS hands it over: the `userInfo` dictionary.
fn apns_json(payload: &PushPayload) -> String {
    let mut user_info = payload.to_apns_custom().unwrap();
    user_info.insert("aps".into(), json!({"alert": {"title": "Black Friday"}}));
    Value::Object(user_info).to_string()
}

fn cart(price: f64) -> Cart {
    Cart {
        cart_id: Some("cart-1".into()),
        currency: Some("EUR".into()),
        products: vec![Product {
            product_id: "socks".into(),
            price: Some(price),
            quantity: Some(1),
            ..Default::default()
        }],
    }
}

fn flushed(client: &Client) {
    let report = client.flush(WAIT).unwrap();
    assert_eq!(report.outcome, FlushOutcome::Delivered, "{report:?}");
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["name"] == name).collect()
}

#[test]
fn an_opened_push_keeps_its_promo_routes_its_link_and_reaches_the_server_attributed() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    assert_eq!(client.deep_link_router_ready().unwrap(), None);

    let expires_at = Utc::now() + TimeDelta::days(2);
    let payload = push(
        "m-1",
        Some("shop://product/42?color=dark%20blue&utm_source=push&utm_campaign=bf"),
        Some(offer("BF10", Discount::Percent { value: 10.0 }, expires_at)),
    );
    let action = client.handle_push(&fcm_json(&payload)).unwrap();
    let LinkAction::Open(link) = &action.link else {
        panic!("the router is ready, so the link comes back at once: {action:?}")
    };
    assert_eq!(link.route, "product");
    assert_eq!(link.params["id"], "42");
    assert_eq!(link.params["color"], "dark blue");
    assert_eq!(link.utm.source.as_deref(), Some("push"));
    assert_eq!(
        (action.message_id.as_str(), action.send_id.as_deref()),
        ("m-1", Some("send-1"))
    );
    assert!(action.promo_active);
    assert_eq!(action.promo.as_ref().unwrap().code(), "BF10");

    let active = client.active_promos().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        active[0].offer.expires_at,
        payload.promo.unwrap().expires_at
    );
    let quote = client.best_promo_for(&cart(80.0), None).unwrap().unwrap();
    assert_eq!(
        (quote.code.as_str(), quote.discount.to_string().as_str()),
        ("BF10", "8.00 EUR")
    );

    // A universal link the OS opened the app with, and one from a host not allowed.
    let web = client
        .open_deep_link("https://shop.example/p/7?utm_source=newsletter&utm_medium=email")
        .unwrap();
    assert_eq!(
        (web.route.as_str(), web.params["id"].as_str()),
        ("web_product", "7")
    );
    assert!(matches!(
        client.open_deep_link("https://evil.example/p/7"),
        Err(ClientError::DeepLink(DeepLinkError::HostNotAllowed { .. }))
    ));

    flushed(&client);
    let exported = server.export();
    let opened = named(&exported, "Push Opened");
    assert_eq!(opened.len(), 1);
    let p = &opened[0]["properties"];
    assert_eq!(p["message_id"], "m-1");
    assert_eq!(p["campaign_id"], "black-friday");
    assert_eq!(p["send_id"], "send-1");
    assert_eq!(p["promo_code"], "BF10");
    assert_eq!(
        p["deep_link"],
        "shop://product/42?color=dark%20blue&utm_source=push&utm_campaign=bf"
    );
    let links = named(&exported, "Deep Link Opened");
    assert_eq!(
        links.len(),
        2,
        "the push's and the universal link; not the refused one"
    );
    let from_push = &links[0]["properties"];
    assert_eq!(from_push["route"], "product");
    assert_eq!(from_push["message_id"], "m-1");
    assert_eq!(from_push["campaign_id"], "black-friday");
    assert_eq!(from_push["utm_source"], "push");
    assert_eq!(from_push["utm_campaign"], "bf");
    let from_os = &links[1]["properties"];
    assert_eq!(from_os["route"], "web_product");
    assert_eq!(from_os["utm_source"], "newsletter");
    assert_eq!(from_os["utm_medium"], "email");
    assert_eq!(from_os.get("message_id"), None);
}

#[test]
fn a_link_that_cold_starts_the_app_waits_for_the_router_and_is_delivered_once() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let payload = push("m-cold", Some("shop://product/42?utm_source=push"), None);
    {
        let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
        client.set_deep_link_routes(&routes(), &hosts()).unwrap();
        let action = client.handle_push(&apns_json(&payload)).unwrap();
        assert_eq!(
            action.link,
            LinkAction::Pending {
                url: "shop://product/42?utm_source=push".into()
            }
        );
        // The app is killed before its router comes up.
    }

    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    // Without routes the link cannot be routed, so it is not taken yet.
    assert!(matches!(
        client.deep_link_router_ready(),
        Err(ClientError::DeepLink(DeepLinkError::NoRoutes))
    ));
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    let link = client
        .deep_link_router_ready()
        .unwrap()
        .expect("the pending link");
    assert_eq!(
        (link.route.as_str(), link.params["id"].as_str()),
        ("product", "42")
    );
    assert_eq!(
        client.deep_link_router_ready().unwrap(),
        None,
        "delivered once"
    );
    // The router is ready now: the next push's link comes back at once.
    let next = client
        .handle_push(&fcm_json(&push("m-warm", Some("shop://cart"), None)))
        .unwrap();
    assert!(
        matches!(&next.link, LinkAction::Open(l) if l.route == "cart"),
        "{next:?}"
    );
    flushed(&client);
    drop(client);

    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    assert_eq!(
        client.deep_link_router_ready().unwrap(),
        None,
        "never again"
    );

    let exported = server.export();
    assert_eq!(named(&exported, "Push Opened").len(), 2);
    let links = named(&exported, "Deep Link Opened");
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["properties"]["message_id"], "m-cold");
    assert_eq!(links[0]["properties"]["send_id"], "send-1");
    assert_eq!(links[0]["properties"]["utm_source"], "push");
    assert_eq!(links[1]["properties"]["message_id"], "m-warm");
}

#[test]
fn a_link_the_routes_cannot_take_is_refused_but_the_open_is_recorded() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    let action = client
        .handle_push(&fcm_json(&push(
            "m-1",
            Some("https://evil.example/p/1"),
            None,
        )))
        .unwrap();
    assert!(
        matches!(
            &action.link,
            LinkAction::Refused { url, error: DeepLinkError::HostNotAllowed { .. } }
                if url == "https://evil.example/p/1"
        ),
        "{action:?}"
    );
    assert_eq!(
        client.deep_link_router_ready().unwrap(),
        None,
        "a refused link is not kept"
    );

    // A value that would climb out of the product path: refused, naming it.
    let climbing = "https://shop.example/p/%2e%2e%2f%2e%2e";
    let action = client
        .handle_push(&fcm_json(&push("m-2", Some(climbing), None)))
        .unwrap();
    match &action.link {
        LinkAction::Refused {
            url,
            error: DeepLinkError::UnsafeParameter { route, name, .. },
        } => assert_eq!(
            (url.as_str(), route.as_str(), name.as_str()),
            (climbing, "web_product", "id")
        ),
        other => panic!("{other:?}"),
    }
    match client.open_deep_link(climbing) {
        Err(ClientError::DeepLink(e)) => {
            assert!(e.to_string().contains("parameter {id}"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // An IPv6 host is read, then refused like any host not allowed.
    assert!(matches!(
        client.open_deep_link("https://[::1]/p/1"),
        Err(ClientError::DeepLink(DeepLinkError::HostNotAllowed { host, .. })) if host == "[::1]"
    ));

    flushed(&client);
    let exported = server.export();
    assert_eq!(named(&exported, "Push Opened").len(), 2);
    assert!(named(&exported, "Deep Link Opened").is_empty());
}

#[test]
fn malformed_and_oversized_pushes_change_nothing() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    let expires_at = Utc::now() + TimeDelta::days(1);
    let good = push(
        "m-1",
        Some("shop://cart"),
        Some(offer("SAVE5", Discount::Fixed { value: 5.0 }, expires_at)),
    );
    let mut bad_promo = serde_json::to_value(&good).unwrap();
    bad_promo["promo"]["discount"]["value"] = json!(-5);
    let mut newer = serde_json::to_value(&good).unwrap();
    newer["v"] = json!(2);
    let oversized = json!({"beckon": fcm_json(&good), "padding": "x".repeat(4096)}).to_string();
    // The promo code twice: which one counts would be up to each JSON parser.
    let two_codes = serde_json::to_string(&good)
        .unwrap()
        .replace(r#""code":"SAVE5""#, r#""code":"A-1","code":"B-2""#);
    assert!(two_codes.contains("B-2"));
    let mut bad_port = serde_json::to_value(&good).unwrap();
    bad_port["deep_link"] = json!("https://shop.example:99999/p/1");

    type Expected = fn(&PushPayloadError) -> bool;
    let cases: Vec<(String, Expected)> = vec![
        (oversized, |e| {
            matches!(e, PushPayloadError::Oversized { .. })
        }),
        ("{not json".into(), |e| {
            matches!(e, PushPayloadError::Malformed { .. })
        }),
        (r#"{"aps": {"alert": "hi"}}"#.into(), |e| {
            *e == PushPayloadError::NotBeckon
        }),
        (
            json!({"beckon": bad_promo}).to_string(),
            |e| matches!(e, PushPayloadError::Malformed { at, .. } if at == "beckon.promo.discount.value"),
        ),
        (json!({"beckon": newer}).to_string(), |e| {
            matches!(e, PushPayloadError::UnsupportedVersion { found: 2, .. })
        }),
        (
            format!(r#"{{"beckon": {two_codes}}}"#),
            |e| matches!(e, PushPayloadError::Malformed { at, problem } if at == "beckon.promo" && problem.contains("repeats the key \"code\"")),
        ),
        (
            json!({"data": {"beckon": two_codes.clone()}}).to_string(),
            |e| matches!(e, PushPayloadError::Malformed { at, .. } if at == "data.beckon.promo"),
        ),
        (
            json!({"beckon": bad_port}).to_string(),
            |e| matches!(e, PushPayloadError::Malformed { at, problem } if at == "beckon.deep_link" && problem.contains("port 99999")),
        ),
    ];
    for (text, expected) in cases {
        match client.handle_push(&text) {
            Err(ClientError::InvalidPush(e)) => assert!(expected(&e), "{e}"),
            other => panic!("{text:.80}: {other:?}"),
        }
    }
    let oversized_map = HashMap::from([
        ("beckon".to_string(), fcm_json(&good)),
        ("padding".to_string(), "x".repeat(4096)),
    ]);
    assert!(matches!(
        client.handle_push_data(&oversized_map),
        Err(ClientError::InvalidPush(PushPayloadError::Oversized { .. }))
    ));

    assert_eq!(client.stats().unwrap().queued_events, 0, "no event");
    assert!(client.active_promos().unwrap().is_empty(), "no promo");
    assert_eq!(client.deep_link_router_ready().unwrap(), None, "no link");

    // The same push, well-formed, as a data map: everything happens.
    let data: HashMap<String, String> = good.to_fcm_data().unwrap().into_iter().collect();
    let action: PushAction = client.handle_push_data(&data).unwrap();
    assert!(matches!(action.link, LinkAction::Open(_)));
    assert_eq!(client.active_promos().unwrap().len(), 1);
    assert_eq!(
        client.stats().unwrap().queued_events,
        2,
        "Push Opened, Deep Link Opened"
    );
}

#[test]
fn a_single_use_promo_applies_once_and_refusals_are_recorded_with_the_reason() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut promo = offer(
        "TENOFF",
        Discount::Fixed { value: 10.0 },
        Utc::now() + TimeDelta::days(1),
    );
    promo.min_basket = Some(50.0);
    {
        let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
        client
            .handle_push(&fcm_json(&push("m-1", None, Some(promo))))
            .unwrap();

        assert!(matches!(
            client.apply_promo("TENOFF", &cart(40.0), None),
            Err(ClientError::PromoRefused(PromoRefusal::NotEligible { .. }))
        ));
        let quote = client
            .apply_promo("tenoff", &cart(60.0), Some(4.95))
            .unwrap();
        assert_eq!(quote.discount.to_string(), "10.00 EUR");
        assert_eq!(quote.total_after_discount.to_string(), "54.95 EUR");
        let again = client.apply_promo("TENOFF", &cart(60.0), None).unwrap_err();
        assert!(
            matches!(
                &again,
                ClientError::PromoRefused(PromoRefusal::UsedUp { max_uses: 1, .. })
            ),
            "{again}"
        );
        assert!(again.to_string().contains("used its 1 time(s)"), "{again}");
        assert!(client.active_promos().unwrap().is_empty());
        assert_eq!(client.best_promo_for(&cart(60.0), None).unwrap(), None);
        assert!(matches!(
            client.apply_promo("NOPE", &cart(60.0), None),
            Err(ClientError::PromoRefused(PromoRefusal::Unknown { .. }))
        ));
        assert!(matches!(
            client.apply_promo("NO PE", &cart(60.0), None),
            Err(ClientError::InvalidArgument(e)) if e.field == "code"
        ));
        assert!(matches!(
            client.apply_promo("TENOFF", &Cart::default(), None),
            Err(ClientError::InvalidArgument(e)) if e.field == "cart.currency"
        ));
        flushed(&client);
    }
    // The use is kept across restarts.
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    assert!(matches!(
        client.apply_promo("TENOFF", &cart(60.0), None),
        Err(ClientError::PromoRefused(PromoRefusal::UsedUp { .. }))
    ));
    flushed(&client);

    let exported = server.export();
    let applied = named(&exported, "Coupon Applied");
    assert_eq!(applied.len(), 1);
    let a = &applied[0]["properties"];
    assert_eq!(a["coupon_id"], "TENOFF");
    assert_eq!(a["discount"], 10.0);
    assert_eq!(a["currency"], "EUR");
    assert_eq!(a["cart_id"], "cart-1");
    assert_eq!(a["message_id"], "m-1");
    let denied: Vec<&Value> = named(&exported, "Coupon Denied")
        .into_iter()
        .map(|e| &e["properties"]["reason"])
        .collect();
    assert_eq!(denied, ["not_eligible", "used_up", "used_up"]);
}

#[test]
fn in_app_messages_show_the_best_promo_for_the_cart() {
    let server = TestServer::start();
    let (status, body) = server.admin_post(
        "/v1/admin/campaigns",
        &json!({
            "schema_version": 1,
            "id": "promo-reminder",
            "name": "Promo reminder",
            "status": "active",
            "trigger": {"screen": "Cart"},
            "default_locale": "en",
            "variants": {"en": {"title": "Your code", "body": "Use {{promo_code | NONE}} at checkout"}}
        }),
    );
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    // The sync at start may have fetched the campaign already.
    let report = client.sync(WAIT).unwrap();
    assert!(
        matches!(
            report.outcome,
            SyncOutcome::Updated | SyncOutcome::NotModified
        ),
        "{report:?}"
    );

    let expires_at = Utc::now() + TimeDelta::days(3);
    // 10 % first, then a fixed 5 EUR: for a 100 EUR cart the older one is better.
    for (message_id, code, discount) in [
        ("m-1", "TEN", Discount::Percent { value: 10.0 }),
        ("m-2", "FIVE", Discount::Fixed { value: 5.0 }),
    ] {
        client
            .handle_push(&fcm_json(&push(
                message_id,
                None,
                Some(offer(code, discount, expires_at)),
            )))
            .unwrap();
    }
    client
        .track(&Event::ProductAdded {
            cart_id: None,
            product: Product {
                product_id: "coat".into(),
                price: Some(100.0),
                currency: Some("EUR".into()),
                ..Default::default()
            },
            properties: Properties::new(),
        })
        .unwrap();
    client.screen("Cart".into(), Properties::new()).unwrap();
    let message = client.take_in_app_message().unwrap().expect("the reminder");
    assert_eq!(message.body, "Use TEN at checkout");
}

/// An RFC 7231 `Date` header for `at`.
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[test]
fn promo_expiry_is_judged_on_the_server_clock() {
    // The device clock is two days behind the server's.
    let server_time = Utc::now() + TimeDelta::days(2);
    let stub = HttpStub::start(
        APP_KEY,
        vec![
            Reply::json(200, r#"{"schema": 1}"#).header("date", &http_date(server_time)),
            // The permissions fetch that follows the sync: told to come back much later,
            // so that no retry of it takes the batch's answer scripted below.
            Reply::json(503, r#"{"error":"later"}"#)
                .header("date", &http_date(server_time))
                .header("retry-after", "3600"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &stub.url)).unwrap();
    // The answer's date is noted before its document is stored.
    assert!(
        common::eventually(WAIT, || client.stats().unwrap().synced_at_ms.is_some()),
        "the sync at start"
    );

    let device_now = Utc::now();
    let in_one_day = offer(
        "ONEDAY",
        Discount::Percent { value: 10.0 },
        device_now + TimeDelta::days(1),
    );
    let in_three_days = offer(
        "THREEDAYS",
        Discount::Percent { value: 5.0 },
        device_now + TimeDelta::days(3),
    );
    let action = client
        .handle_push(&fcm_json(&push("m-1", None, Some(in_one_day))))
        .unwrap();
    assert!(
        !action.promo_active,
        "already past its expiry on the server's clock"
    );
    client
        .handle_push(&fcm_json(&push("m-2", None, Some(in_three_days))))
        .unwrap();
    let active: Vec<String> = client
        .active_promos()
        .unwrap()
        .iter()
        .map(|p| p.code().to_owned())
        .collect();
    assert_eq!(active, ["THREEDAYS"]);
    assert!(matches!(
        client.apply_promo("ONEDAY", &cart(80.0), None),
        Err(ClientError::PromoRefused(PromoRefusal::Expired { .. }))
    ));

    // The server's clock is set right; the next answer (to a batch) carries the news.
    stub.then(
        Reply::json(200, r#"{"accepted": 3, "duplicates": 0, "rejected": []}"#)
            .header("date", &http_date(Utc::now())),
    );
    flushed(&client);
    let mut active: Vec<String> = client
        .active_promos()
        .unwrap()
        .iter()
        .map(|p| p.code().to_owned())
        .collect();
    active.sort();
    assert_eq!(active, ["ONEDAY", "THREEDAYS"]);
    assert!(stub
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path == "/v1/batch"));
}

#[test]
fn opted_out_a_push_still_lands_and_keeps_its_promo_but_nothing_is_collected() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    client.deep_link_router_ready().unwrap();
    client.opt_out().unwrap();
    let before = client.stats().unwrap();

    let expires_at = Utc::now() + TimeDelta::days(1);
    let payload = push(
        "m-out",
        Some("shop://cart"),
        Some(offer("QUIET5", Discount::Fixed { value: 5.0 }, expires_at)),
    );
    let action = client.handle_push(&fcm_json(&payload)).unwrap();
    assert!(matches!(&action.link, LinkAction::Open(link) if link.route == "cart"));
    assert!(action.promo_active);
    let quote = client.apply_promo("QUIET5", &cart(30.0), None).unwrap();
    assert_eq!(quote.discount.to_string(), "5.00 EUR");
    // The use counts even though it is not reported: a single-use code stays used.
    assert!(matches!(
        client.apply_promo("QUIET5", &cart(30.0), None),
        Err(ClientError::PromoRefused(PromoRefusal::UsedUp { .. }))
    ));

    let after = client.stats().unwrap();
    assert_eq!(after.queued_events, 0);
    assert_eq!(
        after.dropped.opted_out - before.dropped.opted_out,
        4,
        "Push Opened, Deep Link Opened, Coupon Applied and Coupon Denied"
    );
    client.opt_in().unwrap();
    flushed(&client);
    let exported = server.export();
    for name in [
        "Push Opened",
        "Deep Link Opened",
        "Coupon Applied",
        "Coupon Denied",
    ] {
        assert!(named(&exported, name).is_empty(), "{name} was collected");
    }
}

#[test]
fn the_same_push_handed_over_twice_counts_one_open() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.set_deep_link_routes(&routes(), &hosts()).unwrap();
    client.deep_link_router_ready().unwrap();
    let payload = push("m-twice", Some("shop://cart"), None);
    let first = client.handle_push(&fcm_json(&payload)).unwrap();
    // Android delivering the notification's intent again, in the APNs shape or not.
    let again = client.handle_push(&apns_json(&payload)).unwrap();
    assert_eq!(first.link, again.link, "the app still navigates");
    client
        .handle_push(&fcm_json(&push("m-other", None, None)))
        .unwrap();

    flushed(&client);
    let exported = server.export();
    let opens: Vec<_> = named(&exported, "Push Opened")
        .iter()
        .map(|e| e["properties"]["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(opens, ["m-twice", "m-other"]);
    assert_eq!(named(&exported, "Deep Link Opened").len(), 1);
}
