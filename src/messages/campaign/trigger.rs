//! What makes a campaign show: an event (optionally with property filters), a screen,
//! or the user entering a segment; and matching what just happened against it.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::protocol::{WireEvent, WireKind};

/// Property filters: every key must be present and equal (strings exactly, numbers
/// numerically, so `2` matches `2.0`); a list means any of its values.
pub type PropertyFilter = BTreeMap<String, Value>;

/// A campaign's trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `{"event": "Product Added", "where": {"category": "Shoes"}}`
    Event {
        name: String,
        filter: PropertyFilter,
    },
    /// `{"screen": "Cart", "where": {…}}`
    Screen {
        name: String,
        filter: PropertyFilter,
    },
    /// `{"segment_entered": "cart_abandoner"}`
    SegmentEntered { segment_id: String },
}

/// What just happened on the device.
#[derive(Debug, Clone, PartialEq)]
pub enum FiredTrigger {
    Event {
        name: String,
        properties: Map<String, Value>,
    },
    Screen {
        name: String,
        properties: Map<String, Value>,
    },
    SegmentEntered {
        segment_id: String,
    },
}

impl FiredTrigger {
    /// A tracked event or screen as a trigger; `None` for `identify`.
    pub fn from_wire(event: &WireEvent) -> Option<Self> {
        let name = event.name.clone()?;
        let properties = event.properties.clone();
        match event.kind {
            WireKind::Track => Some(FiredTrigger::Event { name, properties }),
            WireKind::Screen => Some(FiredTrigger::Screen { name, properties }),
            WireKind::Identify => None,
        }
    }
}

impl Trigger {
    /// Whether what just happened is this trigger. Event and screen names match
    /// exactly (they are case-sensitive on the wire).
    pub fn matches(&self, fired: &FiredTrigger) -> bool {
        match (self, fired) {
            (
                Trigger::Event { name, filter },
                FiredTrigger::Event {
                    name: fired,
                    properties,
                },
            )
            | (
                Trigger::Screen { name, filter },
                FiredTrigger::Screen {
                    name: fired,
                    properties,
                },
            ) => name == fired && filter_matches(filter, properties),
            (
                Trigger::SegmentEntered { segment_id },
                FiredTrigger::SegmentEntered { segment_id: fired },
            ) => segment_id == fired,
            _ => false,
        }
    }
}

fn filter_matches(filter: &PropertyFilter, properties: &Map<String, Value>) -> bool {
    filter.iter().all(|(key, expected)| {
        properties.get(key).is_some_and(|actual| match expected {
            Value::Array(options) => options.iter().any(|o| scalar_eq(o, actual)),
            _ => scalar_eq(expected, actual),
        })
    })
}

fn scalar_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => match (whole(a), whole(b)) {
            (Some(x), Some(y)) => x == y,
            _ => matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y),
        },
        _ => false,
    }
}

/// An integer-typed JSON number, exactly.
fn whole(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let (kind, name, filter) = match self {
            Trigger::Event { name, filter } => ("event", name, Some(filter)),
            Trigger::Screen { name, filter } => ("screen", name, Some(filter)),
            Trigger::SegmentEntered { segment_id } => ("segment_entered", segment_id, None),
        };
        map.serialize_entry(kind, name)?;
        if let Some(filter) = filter.filter(|f| !f.is_empty()) {
            map.serialize_entry("where", filter)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, props: Value) -> FiredTrigger {
        FiredTrigger::Event {
            name: name.into(),
            properties: props.as_object().unwrap().clone(),
        }
    }

    fn on_event(name: &str, filter: Value) -> Trigger {
        Trigger::Event {
            name: name.into(),
            filter: serde_json::from_value(filter).unwrap(),
        }
    }

    #[test]
    fn matches_names_exactly_and_kinds_separately() {
        let t = on_event("Product Added", json!({}));
        assert!(t.matches(&event("Product Added", json!({}))));
        assert!(!t.matches(&event("product added", json!({}))));
        assert!(!t.matches(&event("Product Viewed", json!({}))));
        assert!(!t.matches(&FiredTrigger::Screen {
            name: "Product Added".into(),
            properties: Map::new()
        }));
        let screen = Trigger::Screen {
            name: "Cart".into(),
            filter: PropertyFilter::new(),
        };
        assert!(screen.matches(&FiredTrigger::Screen {
            name: "Cart".into(),
            properties: Map::new()
        }));
        assert!(!screen.matches(&event("Cart", json!({}))));
        let segment = Trigger::SegmentEntered {
            segment_id: "cart_abandoner".into(),
        };
        assert!(segment.matches(&FiredTrigger::SegmentEntered {
            segment_id: "cart_abandoner".into()
        }));
        assert!(!segment.matches(&FiredTrigger::SegmentEntered {
            segment_id: "vip".into()
        }));
    }

    #[test]
    fn property_filters_need_every_key_to_match() {
        let t = on_event(
            "Product Added",
            json!({"category": "Shoes", "price": 50, "on_sale": true, "brand": ["Acme", "Zed"]}),
        );
        let hit = json!({"category": "Shoes", "price": 50.0, "on_sale": true, "brand": "Zed", "other": 1});
        assert!(t.matches(&event("Product Added", hit.clone())));
        let miss = |key: &str, value: Value| {
            let mut p = hit.clone();
            p[key] = value;
            assert!(!t.matches(&event("Product Added", p)), "{key}");
        };
        miss("category", json!("shoes"));
        miss("price", json!(49.99));
        miss("price", json!("50"));
        miss("on_sale", json!(false));
        miss("brand", json!("Other"));
        miss("category", Value::Null);
        let mut absent = hit.clone();
        absent.as_object_mut().unwrap().remove("category");
        assert!(!t.matches(&event("Product Added", absent)));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let t = on_event("X", json!({"n": 9007199254740993u64}));
        assert!(t.matches(&event("X", json!({"n": 9007199254740993u64}))));
        assert!(!t.matches(&event("X", json!({"n": 9007199254740992u64}))));
        let negative = on_event("X", json!({"n": -1}));
        assert!(negative.matches(&event("X", json!({"n": -1.0}))));
    }

    #[test]
    fn wire_events_become_triggers() {
        let mut e = WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: WireKind::Screen,
            name: Some("Cart".into()),
            properties: Map::new(),
            traits: Map::new(),
            anonymous_id: "a".into(),
            user_id: None,
            timestamp: chrono::Utc::now(),
            context: Map::new(),
        };
        assert!(
            matches!(FiredTrigger::from_wire(&e), Some(FiredTrigger::Screen { name, .. }) if name == "Cart")
        );
        e.kind = WireKind::Track;
        assert!(matches!(
            FiredTrigger::from_wire(&e),
            Some(FiredTrigger::Event { .. })
        ));
        e.kind = WireKind::Identify;
        assert_eq!(FiredTrigger::from_wire(&e), None);
    }

    #[test]
    fn serializes_in_the_campaign_shape() {
        let t = on_event("Product Added", json!({"category": "Shoes"}));
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"event": "Product Added", "where": {"category": "Shoes"}})
        );
        assert_eq!(
            serde_json::to_value(on_event("Product Added", json!({}))).unwrap(),
            json!({"event": "Product Added"})
        );
        let s = Trigger::SegmentEntered {
            segment_id: "vip".into(),
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"segment_entered": "vip"})
        );
    }
}
