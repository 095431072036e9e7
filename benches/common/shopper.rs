//! A shopper's stored events for the benchmarks: mostly product views, some adds,
//! removals, wishlist adds and orders, over 500 products in six categories.

use beckon::protocol::{WireEvent, WireKind};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const CATEGORIES: [&str; 6] = ["Shoes", "Socks", "Jackets", "Bags", "Hats", "Gloves"];

/// The `i`th event of the shopper, at `at`.
pub fn stored_event(i: usize, anonymous_id: &str, at: DateTime<Utc>) -> WireEvent {
    let name = match i % 20 {
        0 => "Order Completed",
        1..=3 => "Product Added",
        4 => "Product Removed",
        5 => "Product Added to Wishlist",
        _ => "Product Viewed",
    };
    let Value::Object(properties) = json!({
        "product_id": format!("sku-{}", i % 500),
        "name": format!("Product {}", i % 500),
        "category": CATEGORIES[i % CATEGORIES.len()],
        "price": 10.0 + (i % 90) as f64,
        "revenue": 40.0 + (i % 7) as f64,
        "currency": "EUR",
    }) else {
        unreachable!()
    };
    WireEvent {
        id: uuid::Uuid::now_v7().to_string(),
        kind: WireKind::Track,
        name: Some(name.into()),
        properties,
        traits: Map::new(),
        anonymous_id: anonymous_id.into(),
        user_id: None,
        timestamp: at,
        context: Map::new(),
    }
}
