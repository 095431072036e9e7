//! Structured values drawn from the fuzzer's bytes with `arbitrary`: user histories,
//! traits, render contexts, recipients. Names and keys come mostly from the ones the
//! engines read, so the fuzzer reaches the interesting branches without guessing
//! "Product Added" byte by byte.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use beckon::common::Money;
use beckon::messages::{BehaviourSnapshot, OutputMode, RenderContext};
use beckon::protocol::{WireEvent, WireKind};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Number, Value};

/// The instant every target evaluates at, so a crash replays the same way.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_255_200, 0).expect("2026-11-21T10:00:00Z")
}

/// Splits an input at its first NUL byte: the text the parser reads (JSON never holds a
/// raw NUL), then the bytes the structured values are drawn from.
pub fn split(data: &[u8]) -> (String, &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(at) => (
            String::from_utf8_lossy(&data[..at]).into_owned(),
            &data[at + 1..],
        ),
        None => (String::from_utf8_lossy(data).into_owned(), &[]),
    }
}

pub const EVENT_NAMES: &[&str] = &[
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Wishlist Product Added to Cart",
    "Checkout Started",
    "Order Completed",
    "Order Refunded",
    "Cart Viewed",
    "Products Searched",
    "Coupon Applied",
    "Push Opened",
    "Application Opened",
    "Segment Entered",
    "Channel Permission Changed",
];

pub const PROPERTY_KEYS: &[&str] = &[
    "product_id",
    "sku",
    "name",
    "category",
    "brand",
    "price",
    "quantity",
    "currency",
    "revenue",
    "total",
    "subtotal",
    "order_id",
    "url",
    "image_url",
    "products",
    "coupon",
    "channel",
    "state",
    "source",
    "segment_id",
];

pub const TRAIT_KEYS: &[&str] = &[
    "first_name",
    "firstName",
    "last_name",
    "email",
    "phone",
    "plan",
    "city",
    "orders",
    "vip",
];

const TEXTS: &[&str] = &[
    "",
    "Shoes",
    "sku-42",
    "EUR",
    "eur",
    "JPY",
    "KWD",
    "Ana",
    "https://shop.example/p/42",
    "javascript:alert(1)",
    "<b>&amp;\"'</b>",
    "push",
    "sms",
    "opted_in",
    "unsubscribed",
    "cart_abandoner",
    "+351 912 345 678",
    "ana@shop.example",
    "São Paulo",
    "a/b?c=d&e#f",
];

pub fn pick<'a>(u: &mut Unstructured, list: &[&'a str]) -> Result<&'a str> {
    Ok(*u.choose(list)?)
}

/// A string: mostly one of `list`, sometimes any.
pub fn name(u: &mut Unstructured, list: &[&str]) -> Result<String> {
    if u.ratio(7, 8)? {
        Ok(pick(u, list)?.to_owned())
    } else {
        u.arbitrary()
    }
}

pub fn text(u: &mut Unstructured) -> Result<String> {
    name(u, TEXTS)
}

pub fn number(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Value::from(u.int_in_range(-3i64..=12)?),
        1 => Value::from(u.arbitrary::<i64>()?),
        2 => Value::from(u.arbitrary::<u64>()?),
        3 => Value::from(f64::from(u.int_in_range(0u32..=100_000)?) / 100.0),
        _ => Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
    })
}

/// Any JSON value, at most `depth` levels deep.
pub fn value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let top = if depth == 0 { 3 } else { 5 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => number(u)?,
        3 => Value::String(text(u)?),
        4 => {
            let mut items = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                items.push(value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => Value::Object(object(u, PROPERTY_KEYS, depth - 1)?),
    })
}

/// An object with keys mostly from `keys`.
pub fn object(u: &mut Unstructured, keys: &[&str], depth: u32) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let key = name(u, keys)?;
        let value = value(u, depth)?;
        map.insert(key, value);
    }
    Ok(map)
}

/// An instant around [`now`]: mostly in the last 120 days, sometimes ahead of it.
pub fn instant(u: &mut Unstructured) -> Result<DateTime<Utc>> {
    let seconds = u.int_in_range(-2 * 86_400i64..=120 * 86_400)?;
    Ok(now() - TimeDelta::seconds(seconds))
}

/// A short history of wire events, as a device records them.
pub fn events(u: &mut Unstructured) -> Result<Vec<WireEvent>> {
    let mut events = Vec::new();
    for i in 0..u.int_in_range(0..=12)? {
        let kind = match u.int_in_range(0..=9)? {
            0 => WireKind::Screen,
            1 => WireKind::Identify,
            _ => WireKind::Track,
        };
        let name = match kind {
            WireKind::Identify => None,
            _ => Some(name(u, EVENT_NAMES)?),
        };
        let properties = object(u, PROPERTY_KEYS, 2)?;
        let traits = match kind {
            WireKind::Identify => object(u, TRAIT_KEYS, 1)?,
            _ => Map::new(),
        };
        events.push(WireEvent {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            kind,
            name,
            properties,
            traits,
            anonymous_id: "00000000-0000-4000-8000-ffffffffffff".into(),
            user_id: None,
            timestamp: instant(u)?,
            context: Map::new(),
        });
    }
    Ok(events)
}

pub fn money(u: &mut Unstructured) -> Result<Option<Money>> {
    let currency = pick(u, &["EUR", "USD", "JPY", "KWD", "eur", "XX1"])?;
    Ok(Money::from_minor(
        u.int_in_range(-100i64..=1_000_000)?,
        currency,
    ))
}

/// Everything a template can draw on.
pub fn render_context(u: &mut Unstructured) -> Result<RenderContext> {
    let traits = object(u, TRAIT_KEYS, 1)?;
    let events = events(u)?;
    let behaviour = BehaviourSnapshot::from_wire_events(&events);
    let promo_code = if u.arbitrary()? { Some(text(u)?) } else { None };
    let mut free_shipping_thresholds = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=2)? {
        if let Some(m) = money(u)? {
            free_shipping_thresholds.insert(m.currency().to_owned(), m);
        }
    }
    let output = *u.choose(&[OutputMode::PlainText, OutputMode::Html, OutputMode::Url])?;
    Ok(RenderContext {
        traits,
        behaviour,
        promo_code,
        free_shipping_thresholds,
        output,
    })
}
