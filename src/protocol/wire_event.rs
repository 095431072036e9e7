use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::limits::*;
use crate::common::FieldError;
use crate::text::clip;

/// What kind of call produced an event, as in the Segment spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireKind {
    Track,
    Screen,
    Identify,
}

/// One event as it travels from device to server and is exported to backend teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    /// UUID made when the event was tracked; the server deduplicates on it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WireKind,
    /// Event name for `track` ("Product Viewed"), screen name for `screen`, absent for `identify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    /// User traits, on `identify` events.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
    pub anonymous_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Device clock when the event happened.
    pub timestamp: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

impl WireEvent {
    /// Checks the invariants every stored event must hold, whatever produced it.
    ///
    /// The SDK's typed events are stricter; this is what the server can check on any
    /// client's events. `encoded_len` is the size of the event as received.
    pub fn validate(&self, encoded_len: usize) -> Result<(), FieldError> {
        if encoded_len > MAX_EVENT_BYTES {
            return Err(FieldError::new(
                "event",
                format!("is {encoded_len} bytes, over the {MAX_EVENT_BYTES}-byte limit"),
            ));
        }
        if uuid::Uuid::parse_str(&self.id).is_err() {
            return Err(FieldError::new("id", "must be a UUID"));
        }
        check_id("anonymous_id", &self.anonymous_id)?;
        if let Some(user_id) = &self.user_id {
            check_id("user_id", user_id)?;
        }
        match (self.kind, &self.name) {
            (WireKind::Track | WireKind::Screen, None) => {
                return Err(FieldError::new(
                    "name",
                    "is required for track and screen events",
                ))
            }
            (_, Some(name)) => check_name("name", name)?,
            (WireKind::Identify, None) => {}
        }
        check_object("properties", &self.properties, 0)?;
        check_object("traits", &self.traits, 0)?;
        check_object("context", &self.context, 0)?;
        Ok(())
    }
}

/// An identifier: non-empty, not only whitespace, bounded, no control characters.
pub fn check_id(field: &str, value: &str) -> Result<(), FieldError> {
    check_text(field, value, MAX_ID_BYTES)
}

/// An event, screen or segment name.
pub fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    check_text(field, value, MAX_NAME_BYTES)
}

fn check_text(field: &str, value: &str, max_bytes: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max_bytes {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, over the {max_bytes}-byte limit", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A property or trait key.
pub fn check_key(field: &str, key: &str) -> Result<(), FieldError> {
    if key.is_empty() {
        return Err(FieldError::new(field, "keys must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(FieldError::new(
            format!("{field}.{}", clip(key)),
            format!(
                "key is {} bytes, over the {MAX_KEY_BYTES}-byte limit",
                key.len()
            ),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "keys must not contain control characters",
        ));
    }
    Ok(())
}

fn check_object(field: &str, map: &Map<String, Value>, depth: usize) -> Result<(), FieldError> {
    for (key, value) in map {
        check_key(field, key)?;
        check_value(&format!("{field}.{}", clip(key)), value, depth + 1)?;
    }
    Ok(())
}

fn check_value(field: &str, value: &Value, depth: usize) -> Result<(), FieldError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(FieldError::new(
            field,
            format!("nests deeper than {MAX_VALUE_DEPTH} levels"),
        ));
    }
    match value {
        // serde_json cannot hold NaN or infinities, so every parsed number is finite.
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_value(&format!("{field}[{i}]"), item, depth + 1)),
        Value::Object(map) => check_object(field, map, depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> WireEvent {
        WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: WireKind::Track,
            name: Some("Product Viewed".into()),
            properties: json!({"product_id": "p1", "price": 9.5})
                .as_object()
                .unwrap()
                .clone(),
            traits: Map::new(),
            anonymous_id: "anon".into(),
            user_id: None,
            timestamp: Utc::now(),
            context: Map::new(),
        }
    }

    #[test]
    fn a_well_formed_event_passes() {
        assert_eq!(event().validate(200), Ok(()));
    }

    #[test]
    fn round_trips_through_json_with_spec_field_names() {
        let e = event();
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(r#""type":"track""#), "{text}");
        assert!(!text.contains("traits"), "empty maps are omitted: {text}");
        assert_eq!(serde_json::from_str::<WireEvent>(&text).unwrap(), e);
    }

    #[test]
    fn rejects_each_broken_invariant_with_the_field_named() {
        type Breaks = fn(&mut WireEvent);
        let cases: Vec<(Breaks, &str)> = vec![
            (|e| e.id = "not-a-uuid".into(), "id"),
            (|e| e.anonymous_id = " ".into(), "anonymous_id"),
            (|e| e.user_id = Some("a\nb".into()), "user_id"),
            (|e| e.name = None, "name"),
            (|e| e.name = Some("x".repeat(129)), "name"),
            (
                |e| {
                    e.properties.insert(String::new(), json!(1));
                },
                "properties",
            ),
        ];
        for (breaks, field) in cases {
            let mut e = event();
            breaks(&mut e);
            let err = e.validate(100).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn rejects_oversized_and_too_deep_events() {
        assert_eq!(
            event().validate(MAX_EVENT_BYTES + 1).unwrap_err().field,
            "event"
        );
        let mut deep = json!(1);
        for _ in 0..MAX_VALUE_DEPTH + 1 {
            deep = json!([deep]);
        }
        let mut e = event();
        e.properties.insert("deep".into(), deep);
        assert!(e
            .validate(100)
            .unwrap_err()
            .problem
            .contains("nests deeper"));
    }

    #[test]
    fn identify_needs_no_name() {
        let mut e = event();
        e.kind = WireKind::Identify;
        e.name = None;
        assert_eq!(e.validate(100), Ok(()));
    }
}
