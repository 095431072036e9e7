//! Limits every part of Beckon enforces (DESIGN.md §4).

/// Largest serialized event, in bytes (Segment, RudderStack).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest batch body before compression, in bytes.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 500;
/// Longest event or screen name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest property or trait key, in bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// Longest identifier (user id, product id, order id...), in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Deepest nesting of free-form property values.
pub const MAX_VALUE_DEPTH: usize = 8;
/// Header carrying the app key on device requests.
pub const APP_KEY_HEADER: &str = "x-beckon-app-key";
/// Path of the batch upload endpoint.
pub const BATCH_PATH: &str = "/v1/batch";
