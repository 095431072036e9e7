//! Push payloads, as apps hand them to `handlePush`: the first byte picks the shape.
//!
//! - `0`: raw JSON text (`parse_push`: FCM data as JSON, an FCM message, an FCM HTTP v1
//!   body, an APNs `userInfo`).
//! - `1`: an FCM `data` map (`parse_fcm_data`), given as NUL-separated
//!   `key NUL value NUL key NUL value …`.
//! - `2`: the Beckon payload object alone, delivered three ways (inside an APNs
//!   `userInfo` next to `aps`, as the `beckon` string of an FCM data map, and inside an
//!   FCM message's `data`): every platform must read it the same.
//!
//! Every payload read is checked again: it validates, it leaves the envelope its room,
//! it round-trips through the FCM and APNs shapes the server writes, its deep link
//! routes (or is refused) without panicking, and its promo quotes sane amounts.

use std::collections::HashMap;

use beckon::common::Money;
use beckon::protocol::{PushPayload, MAX_PUSH_BYTES, MIN_ENVELOPE_ROOM};
use beckon::push::{
    parse_fcm_data, parse_push, Basket, DeepLinkRoute, DeepLinkRouter, Promo, PushPayloadError,
    UTM_KEYS,
};
use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::gen::now;

pub fn run(data: &[u8]) {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    match shape % 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            check(parse_push(&text), text.len());
        }
        1 => {
            let map = fcm_map(rest);
            let size = map.iter().map(|(k, v)| k.len() + v.len()).sum();
            check(parse_fcm_data(&map), size);
        }
        _ => platforms_agree(&String::from_utf8_lossy(rest)),
    }
}

/// `key NUL value NUL …`; a key without its value gets an empty one.
pub fn fcm_map(bytes: &[u8]) -> HashMap<String, String> {
    let mut parts = bytes
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut map = HashMap::new();
    while let Some(key) = parts.next() {
        map.insert(key, parts.next().unwrap_or_default());
    }
    map
}

fn check(result: Result<PushPayload, PushPayloadError>, size: usize) {
    match result {
        Ok(payload) => payload_holds(&payload),
        Err(PushPayloadError::Oversized { bytes, limit }) => {
            assert_eq!(limit, MAX_PUSH_BYTES);
            assert!(bytes > limit && bytes == size, "{bytes} of {size}");
        }
        Err(err) => {
            assert!(size <= MAX_PUSH_BYTES, "an oversized push was read: {err}");
            // Errors are for people: they must render.
            let _ = err.to_string();
        }
    }
}

/// What holds for every payload a device accepts.
fn payload_holds(payload: &PushPayload) {
    payload
        .validate()
        .unwrap_or_else(|e| panic!("an accepted payload does not validate: {e}"));
    let json = payload.to_json().expect("validated");
    assert!(
        json.len() + MIN_ENVELOPE_ROOM <= MAX_PUSH_BYTES,
        "a valid payload of {} bytes leaves the envelope less than {MIN_ENVELOPE_ROOM} bytes",
        json.len()
    );

    // The shapes the server writes read back to the same payload.
    let fcm: HashMap<String, String> = payload.to_fcm_data().expect("valid").into_iter().collect();
    assert_eq!(parse_fcm_data(&fcm).as_ref(), Ok(payload), "FCM data map");
    let mut user_info = payload.to_apns_custom().expect("valid");
    user_info.insert("aps".into(), json!({"alert": {"title": "t", "body": "b"}}));
    let apns = Value::Object(user_info).to_string();
    assert_eq!(
        parse_push(&apns).as_ref(),
        Ok(payload),
        "APNs userInfo {apns}"
    );
    let message = json!({"message": {"token": "t", "data": fcm}}).to_string();
    assert_eq!(parse_push(&message).as_ref(), Ok(payload), "FCM v1 body");

    if let Some(link) = &payload.deep_link {
        route(link);
    }
    if let Some(offer) = &payload.promo {
        let promo = Promo {
            offer: offer.clone(),
            uses: 0,
            received_at: now(),
            message_id: Some(payload.message_id.clone()),
            campaign_id: payload.campaign_id.clone(),
        };
        quote(&promo);
    }
}

/// Payload validation promises a deep link the router can read: it may match no route
/// or come from a host not allowed, never be malformed.
fn route(link: &str) {
    let router = DeepLinkRouter::new(
        &[
            DeepLinkRoute::new("product", "shop://product/{id}"),
            DeepLinkRoute::new("cart", "shop://cart"),
            DeepLinkRoute::new("web_product", "https://shop.example/p/{id}"),
            DeepLinkRoute::new("help", "https://help.shop.example/{*page}"),
        ],
        &["shop.example".into(), "*.shop.example".into()],
    )
    .expect("valid routes");
    match router.route(link) {
        Ok(routed) => {
            assert!(["product", "cart", "web_product", "help"].contains(&routed.route.as_str()));
            assert_eq!(routed.url, link);
            // The five UTM parameters are attribution, never route parameters.
            assert!(!routed.params.keys().any(|k| UTM_KEYS.contains(&k.as_str())));
        }
        Err(beckon::push::DeepLinkError::Malformed { problem, .. }) => {
            panic!("a validated deep link {link:?} is malformed to the router: {problem}")
        }
        Err(_) => {}
    }
}

fn quote(promo: &Promo) {
    let expires = promo.expires_at();
    for currency in ["EUR", "USD", "JPY", "KWD"] {
        for (subtotal, shipping) in [
            (0, None),
            (1, Some(0)),
            (1_000, Some(499)),
            (i64::MAX, None),
        ] {
            let basket = Basket::new(
                Money::from_minor(subtotal, currency).unwrap(),
                shipping.map(|s| Money::from_minor(s, currency).unwrap()),
            )
            .unwrap();
            for at in [
                now(),
                expires - TimeDelta::milliseconds(1),
                expires,
                expires + TimeDelta::days(1),
            ] {
                match promo.quote(&basket, at) {
                    Ok(q) => {
                        assert!(at < expires, "quoted at {at}, expired at {expires}");
                        assert_eq!(q.code, promo.code());
                        assert_eq!(q.discount.currency(), currency);
                        assert!(q.discount.minor() >= 0, "{q:?}");
                        assert!(q.total_after_discount.minor() >= 0, "{q:?} for {basket:?}");
                        let before = subtotal.saturating_add(shipping.unwrap_or(0));
                        assert!(q.total_after_discount.minor() <= before, "{q:?}");
                    }
                    Err(refusal) => {
                        let _ = (refusal.to_string(), refusal.reason());
                    }
                }
            }
        }
    }
}

/// One payload object delivered on every platform reads the same everywhere.
fn platforms_agree(text: &str) {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let mut user_info = serde_json::Map::new();
    user_info.insert("aps".into(), json!({"alert": {"title": "t"}}));
    user_info.insert("beckon".into(), Value::Object(object));
    let apns_text = Value::Object(user_info).to_string();
    let apns = parse_push(&apns_text);
    let map = HashMap::from([("beckon".to_owned(), text.to_owned())]);
    let fcm = parse_fcm_data(&map);
    let message_text = json!({"data": {"beckon": text}}).to_string();
    let message = parse_push(&message_text);
    let oversized = |r: &Result<PushPayload, PushPayloadError>| {
        matches!(r, Err(PushPayloadError::Oversized { .. }))
    };
    check(apns.clone(), apns_text.len());
    check(message.clone(), message_text.len());
    check(fcm.clone(), 6 + text.len());
    if oversized(&apns) || oversized(&fcm) || oversized(&message) {
        return;
    }
    assert_eq!(fcm, message, "FCM map and FCM message disagree");
    // APNs carries the object itself (re-serialized); the payload read must be the same,
    // and a refusal must be the same kind of refusal.
    match (&apns, &fcm) {
        (Ok(a), Ok(f)) => assert_eq!(a, f, "APNs and FCM read different payloads"),
        (Err(a), Err(f)) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(f),
            "APNs: {a}; FCM: {f}"
        ),
        (a, f) => panic!("APNs and FCM disagree: {a:?} / {f:?}"),
    }
}
