use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use crate::common::FieldError;
use crate::protocol::{check_key, MAX_VALUE_DEPTH};
use crate::text::clip;

/// Free-form properties attached to an event, or user traits.
pub type Properties = HashMap<String, JsonValue>;

/// A JSON-compatible value, for free-form properties and traits.
///
/// A typed enum rather than a JSON string so that apps cannot hand over text that
/// fails to parse, and so non-finite numbers are caught at the call that made them.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum JsonValue {
    Null,
    Bool { value: bool },
    Integer { value: i64 },
    Number { value: f64 },
    Text { value: String },
    Array { values: Vec<JsonValue> },
    Object { fields: HashMap<String, JsonValue> },
}

impl JsonValue {
    /// Converts to `serde_json`, checking keys, depth and that numbers are finite.
    /// `path` names the value in error messages ("properties.color").
    pub fn to_json(&self, path: &str) -> Result<Value, FieldError> {
        self.to_json_at(&|| path.to_owned(), 1)
    }

    /// [`JsonValue::to_json`] with the path made only when it is needed: for an error,
    /// or to name the values nested in an array or object.
    pub(crate) fn to_json_with(&self, path: &dyn Fn() -> String) -> Result<Value, FieldError> {
        self.to_json_at(path, 1)
    }

    fn to_json_at(&self, path: &dyn Fn() -> String, depth: usize) -> Result<Value, FieldError> {
        if depth > MAX_VALUE_DEPTH {
            return Err(FieldError::new(
                path(),
                format!("nests deeper than {MAX_VALUE_DEPTH} levels"),
            ));
        }
        Ok(match self {
            JsonValue::Null => Value::Null,
            JsonValue::Bool { value } => Value::Bool(*value),
            JsonValue::Integer { value } => Value::Number((*value).into()),
            JsonValue::Number { value } => Value::Number(
                Number::from_f64(*value).ok_or_else(|| FieldError::new(path(), NOT_FINITE))?,
            ),
            JsonValue::Text { value } => Value::String(value.clone()),
            JsonValue::Array { values } => {
                let path = path();
                Value::Array(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v.to_json_at(&|| format!("{path}[{i}]"), depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
            JsonValue::Object { fields } => Value::Object(map_to_json(&path(), fields, depth + 1)?),
        })
    }

    /// The inverse of [`JsonValue::to_json`], for values read back from storage.
    pub fn from_json(value: &Value) -> JsonValue {
        match value {
            Value::Null => JsonValue::Null,
            Value::Bool(value) => JsonValue::Bool { value: *value },
            Value::Number(n) => match n.as_i64() {
                Some(value) => JsonValue::Integer { value },
                None => JsonValue::Number {
                    value: n.as_f64().unwrap_or_default(),
                },
            },
            Value::String(value) => JsonValue::Text {
                value: value.clone(),
            },
            Value::Array(items) => JsonValue::Array {
                values: items.iter().map(JsonValue::from_json).collect(),
            },
            Value::Object(map) => JsonValue::Object {
                fields: map
                    .iter()
                    .map(|(k, v)| (k.clone(), JsonValue::from_json(v)))
                    .collect(),
            },
        }
    }
}

/// Converts a map of properties or traits, checking every key and value.
pub(crate) fn map_to_json(
    path: &str,
    map: &HashMap<String, JsonValue>,
    depth: usize,
) -> Result<Map<String, Value>, FieldError> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        check_key(path, key)?;
        out.insert(
            key.clone(),
            value.to_json_at(&|| format!("{path}.{}", clip(key)), depth)?,
        );
    }
    Ok(out)
}

pub(crate) const NOT_FINITE: &str = "must be a finite number";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_nested_values_both_ways() {
        let value = JsonValue::Object {
            fields: HashMap::from([
                (
                    "tags".into(),
                    JsonValue::Array {
                        values: vec![JsonValue::Text { value: "a".into() }, JsonValue::Null],
                    },
                ),
                ("n".into(), JsonValue::Integer { value: -3 }),
                ("x".into(), JsonValue::Number { value: 1.5 }),
                ("ok".into(), JsonValue::Bool { value: true }),
            ]),
        };
        let json = value.to_json("p").unwrap();
        assert_eq!(
            json,
            json!({"tags": ["a", null], "n": -3, "x": 1.5, "ok": true})
        );
        assert_eq!(JsonValue::from_json(&json), value);
    }

    #[test]
    fn rejects_non_finite_numbers_with_their_path() {
        let value = JsonValue::Array {
            values: vec![JsonValue::Number { value: f64::NAN }],
        };
        let err = value.to_json("properties.scores").unwrap_err();
        assert_eq!(
            err.to_string(),
            "properties.scores[0]: must be a finite number"
        );
        assert!(JsonValue::Number {
            value: f64::INFINITY
        }
        .to_json("p")
        .is_err());
    }

    #[test]
    fn rejects_empty_keys_and_deep_nesting() {
        let map = HashMap::from([(String::new(), JsonValue::Null)]);
        assert!(map_to_json("properties", &map, 1).is_err());
        let mut deep = JsonValue::Null;
        for _ in 0..MAX_VALUE_DEPTH {
            deep = JsonValue::Array { values: vec![deep] };
        }
        assert!(deep
            .to_json("p")
            .unwrap_err()
            .to_string()
            .contains("nests deeper"));
    }
}
