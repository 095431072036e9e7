//! Shared by the sends tests: a catalog of definitions held in memory, the instant the
//! tests treat as now, and short ways to read a request.

use std::collections::BTreeMap;

use beckon::messages::Campaign;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::request::Send;

/// The catalog the tests parse sends against.
pub(super) type Catalog = super::InMemoryDefinitions;

pub(super) fn campaign(id: &str, status: &str, segments: &[&str]) -> Campaign {
    Campaign::from_value(&json!({
        "schema_version": 1,
        "id": id,
        "name": "Free shipping nudge",
        "status": status,
        "trigger": {"event": "Product Added"},
        "audience": {"segments": segments, "exclude": ["vip"]},
        "free_shipping_threshold": {"EUR": 50},
        "default_locale": "en",
        "variants": {
            "en": {"title": "Hi {{first_name | there}}",
                   "body": "Add {{free_shipping_remaining}} more for free shipping",
                   "buttons": [{"id": "cart", "label": "Cart", "url": "shop://cart"}]},
            "pt-BR": {"title": "Oi {{first_name | você}}",
                      "body": "Faltam {{free_shipping_remaining}} para o frete grátis"}
        }
    }))
    .unwrap()
}

pub(super) fn catalog() -> Catalog {
    Catalog {
        campaigns: BTreeMap::from([
            (
                "free-shipping".to_owned(),
                campaign("free-shipping", "active", &["cart_abandoner"]),
            ),
            (
                "paused-nudge".to_owned(),
                campaign("paused-nudge", "paused", &["cart_abandoner"]),
            ),
            (
                "stale-nudge".to_owned(),
                campaign("stale-nudge", "active", &["retired"]),
            ),
        ]),
        segments: BTreeMap::from([
            ("cart_abandoner".to_owned(), true),
            ("vip".to_owned(), true),
            ("retired".to_owned(), false),
        ]),
    }
}

/// 1 December 2026, 10:00 UTC.
pub(super) fn now() -> DateTime<Utc> {
    utc("2026-12-01T10:00:00Z")
}

pub(super) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A request valid on its own: to one user, with English and Brazilian texts.
pub(super) fn request() -> Value {
    json!({
        "schema_version": 1,
        "audience": {"user_key": "u-1"},
        "content": {
            "default_locale": "en",
            "variants": {
                "en": {"title": "Hi {{first_name | there}}", "body": "Your {{cart_items | cart}} is waiting"},
                "pt-BR": {"title": "Oi {{first_name | você}}", "body": "Seu {{cart_items | carrinho}} te espera"}
            }
        }
    })
}

/// `request()` with `changes` merged in at the top level.
pub(super) fn request_with(changes: Value) -> Value {
    let mut v = request();
    for (key, value) in changes.as_object().unwrap() {
        v[key] = value.clone();
    }
    v
}

pub(super) fn send(v: Value) -> Send {
    Send::from_value(&v, &catalog(), now()).unwrap_or_else(|e| panic!("{e}"))
}

/// The problems of a refused request, as `path: problem` lines.
pub(super) fn refused(v: Value) -> Vec<String> {
    match Send::from_value(&v, &catalog(), now()) {
        Ok(send) => panic!("accepted: {send:?}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}
