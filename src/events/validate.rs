use serde_json::{Map, Value};

use super::value::{map_to_json, Properties};
use crate::common::FieldError;

/// Validation errors of events and traits carry the offending field's path.
pub type EventError = FieldError;

/// Checks user traits given to `identify` and converts them to JSON.
pub fn check_traits(traits: &Properties) -> Result<Map<String, Value>, FieldError> {
    map_to_json("traits", traits, 1)
}
