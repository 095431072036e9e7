use serde_json::{Map, Value};

use super::value::{map_to_json, Properties};
use crate::common::FieldError;
use crate::protocol::MAX_EVENT_BYTES;
use crate::text::clip;

/// Validation errors of events and traits carry the offending field's path.
pub type EventError = FieldError;

/// Checks user traits given to `identify` and converts them to JSON. Errors name the
/// trait (`traits.plan`, `traits.prefs.sizes[2]`): keys, depth, finite numbers, and
/// that no trait alone is larger than an event may be.
pub fn check_traits(traits: &Properties) -> Result<Map<String, Value>, FieldError> {
    let traits = map_to_json("traits", traits, 1)?;
    for (key, value) in &traits {
        let bytes = serde_json::to_vec(value).map_or(usize::MAX, |json| json.len());
        if bytes > MAX_EVENT_BYTES {
            return Err(FieldError::new(
                format!("traits.{}", clip(key)),
                format!("is {bytes} bytes, over the {MAX_EVENT_BYTES}-byte limit of an event"),
            ));
        }
    }
    Ok(traits)
}

/// The largest of a map's values, as `(key, bytes of its JSON)`: what to name when
/// the event holding them is too large.
pub fn largest_value(map: &Map<String, Value>) -> Option<(&str, usize)> {
    map.iter()
        .map(|(key, value)| {
            let bytes = serde_json::to_vec(value).map_or(usize::MAX, |json| json.len());
            (key.as_str(), bytes)
        })
        .max_by_key(|(_, bytes)| *bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::JsonValue;

    fn text(value: &str) -> JsonValue {
        JsonValue::Text {
            value: value.into(),
        }
    }

    #[test]
    fn traits_become_json() {
        let traits = Properties::from([
            ("plan".to_string(), text("gold")),
            ("age".to_string(), JsonValue::Integer { value: 41 }),
        ]);
        let json = check_traits(&traits).unwrap();
        assert_eq!(json["plan"], "gold");
        assert_eq!(json["age"], 41);
        assert!(check_traits(&Properties::new()).unwrap().is_empty());
    }

    #[test]
    fn each_refusal_names_the_trait() {
        let nested_nan = JsonValue::Object {
            fields: [(
                "sizes".to_string(),
                JsonValue::Array {
                    values: vec![
                        JsonValue::Integer { value: 1 },
                        JsonValue::Number { value: f64::NAN },
                    ],
                },
            )]
            .into(),
        };
        let cases = [
            (
                "score",
                JsonValue::Number { value: f64::NAN },
                "traits.score",
                "finite number",
            ),
            (
                "ltv",
                JsonValue::Number {
                    value: f64::INFINITY,
                },
                "traits.ltv",
                "finite number",
            ),
            (
                "prefs",
                nested_nan,
                "traits.prefs.sizes[1]",
                "finite number",
            ),
            (
                "bio",
                text(&"x".repeat(1 << 20)),
                "traits.bio",
                "is 1048578 bytes, over the 32768-byte limit",
            ),
            ("", text("x"), "traits", "keys must not be empty"),
        ];
        for (key, value, field, problem) in cases {
            let traits = Properties::from([(key.to_string(), value)]);
            let err = check_traits(&traits).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.problem.contains(problem), "{err}");
        }
        let long_key = "k".repeat(100);
        let traits = Properties::from([(long_key, text(&"x".repeat(40_000)))]);
        let err = check_traits(&traits).unwrap_err();
        assert!(
            err.field.starts_with("traits.kkk") && err.field.ends_with('…'),
            "{err}"
        );
    }

    #[test]
    fn a_trait_just_within_the_limit_passes() {
        // 32766 characters and two quotes: exactly the limit.
        let traits =
            Properties::from([("bio".to_string(), text(&"x".repeat(MAX_EVENT_BYTES - 2)))]);
        assert!(check_traits(&traits).is_ok());
        let traits =
            Properties::from([("bio".to_string(), text(&"x".repeat(MAX_EVENT_BYTES - 1)))]);
        assert!(check_traits(&traits).is_err());
    }

    #[test]
    fn the_largest_value_is_found() {
        let map = serde_json::json!({"a": "xx", "b": "xxxxxx", "c": 1});
        assert_eq!(largest_value(map.as_object().unwrap()), Some(("b", 8)));
        assert_eq!(largest_value(&Map::new()), None);
    }
}
