//! The sync document: what a device downloads with `GET /v1/sync` (segment
//! definitions, in-app campaigns and settings), and the events a device sends back
//! about its segment memberships.
//!
//! The request is conditional: the device sends the `ETag` of its last good copy in
//! `If-None-Match` and gets `304 Not Modified` when nothing changed. The definitions
//! stay JSON here; the device and the server read them with the same parsers
//! (`segments::SegmentDefinition::from_value`, `messages::Campaign::from_value`), and a
//! document with any invalid part is refused as a whole, so the last good copy stays in
//! use.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Path of the device sync endpoint (app key auth, conditional GET).
pub const SYNC_PATH: &str = "/v1/sync";
/// The only sync document version this code reads.
pub const SYNC_SCHEMA_VERSION: u32 = 1;
/// Largest sync document a device accepts, in bytes.
pub const MAX_SYNC_BYTES: usize = 2 * 1024 * 1024;

/// Event a device records when the user enters a segment (property `segment_id`).
pub const SEGMENT_ENTERED: &str = "Segment Entered";
/// Event a device records when the user leaves a segment (property `segment_id`).
pub const SEGMENT_EXITED: &str = "Segment Exited";
/// The property of [`SEGMENT_ENTERED`] and [`SEGMENT_EXITED`] naming the segment.
pub const SEGMENT_ID_PROPERTY: &str = "segment_id";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDocument {
    /// Always [`SYNC_SCHEMA_VERSION`].
    pub schema: u32,
    /// Segment definitions (schema in `src/segments/README.md`); archived ones are left out.
    #[serde(default)]
    pub segments: Vec<Value>,
    /// In-app campaigns (schema in `src/messages/README.md`); archived ones are left out.
    #[serde(default)]
    pub campaigns: Vec<Value>,
    #[serde(default)]
    pub settings: SyncSettings,
}

/// App-wide settings the server controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Shortest time between two in-app messages, in seconds.
    #[serde(default = "default_min_gap")]
    pub in_app_min_gap_seconds: u32,
}

/// Shortest time between two in-app messages when the server sets none (Braze and
/// Iterable use the same).
pub const DEFAULT_MIN_GAP: Duration = Duration::from_secs(30);

fn default_min_gap() -> u32 {
    DEFAULT_MIN_GAP.as_secs() as u32
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            in_app_min_gap_seconds: default_min_gap(),
        }
    }
}

impl SyncDocument {
    pub fn empty() -> SyncDocument {
        SyncDocument {
            schema: SYNC_SCHEMA_VERSION,
            segments: Vec::new(),
            campaigns: Vec::new(),
            settings: SyncSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parts_take_their_defaults_and_unknown_fields_are_refused() {
        let doc: SyncDocument = serde_json::from_str(r#"{"schema": 1}"#).unwrap();
        assert_eq!(doc, SyncDocument::empty());
        assert_eq!(doc.settings.in_app_min_gap_seconds, 30);
        let err = serde_json::from_str::<SyncDocument>(r#"{"schema": 1, "segmnts": []}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `segmnts`"), "{err}");
    }
}
