use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::WireEvent;

/// Path of the admin events export (NDJSON, one [`ExportedEvent`] per line).
pub const EVENTS_PATH: &str = "/v1/events";
/// Response header of the events export carrying the cursor to pass back as `cursor`.
pub const NEXT_CURSOR_HEADER: &str = "beckon-next-cursor";

/// One event as the server stored it: one line of the events export.
///
/// The wire event's fields are inlined, so a line reads like the event the device sent,
/// except that `timestamp` is the server's clock-corrected time; the device's own clock
/// reading stays in `original_timestamp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    #[serde(flatten)]
    pub event: WireEvent,
    /// The event time by the device clock, as uploaded.
    pub original_timestamp: DateTime<Utc>,
    /// The device clock when the batch left the device.
    pub sent_at: DateTime<Utc>,
    /// The server clock when the batch arrived.
    pub received_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::WireKind;
    use serde_json::{json, Map};

    #[test]
    fn a_line_inlines_the_event_fields_and_round_trips() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let line = ExportedEvent {
            event: WireEvent {
                id: "6f1c1a2e-8d47-4a53-9a51-2b1f0b7c7f10".into(),
                kind: WireKind::Track,
                name: Some("Order Completed".into()),
                properties: json!({"order_id": "o1"}).as_object().unwrap().clone(),
                traits: Map::new(),
                anonymous_id: "anon".into(),
                user_id: None,
                timestamp: at("2024-05-01T10:00:00Z"),
                context: Map::new(),
            },
            original_timestamp: at("2024-05-01T09:00:00Z"),
            sent_at: at("2024-05-01T09:00:05Z"),
            received_at: at("2024-05-01T10:00:05Z"),
        };
        let text = serde_json::to_string(&line).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], "track", "{text}");
        assert_eq!(value["timestamp"], "2024-05-01T10:00:00Z", "{text}");
        assert_eq!(
            value["original_timestamp"], "2024-05-01T09:00:00Z",
            "{text}"
        );
        assert!(value.get("event").is_none(), "fields are inlined: {text}");
        assert_eq!(serde_json::from_str::<ExportedEvent>(&text).unwrap(), line);
    }
}
