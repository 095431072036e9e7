//! Reading JSON objects field by field, collecting every problem with its path
//! (`variants.pt-BR.buttons[0].url`) instead of stopping at the first.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::common::FieldError;
use crate::messages::suggest::closest;
use crate::text::{clip, quote};

/// The problems found so far.
#[derive(Debug, Default)]
pub(super) struct Errors(pub(super) Vec<FieldError>);

impl Errors {
    pub(super) fn add(&mut self, path: &str, problem: impl Into<String>) {
        let path = if path.is_empty() { "campaign" } else { path };
        self.0.push(FieldError::new(path, problem));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs a check, recording its error at `path`.
    pub(super) fn check(&mut self, path: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
            Err(problem) => {
                self.add(path, problem);
                false
            }
        }
    }
}

/// The path of `key` inside `path`; a key is outside input, so it is cut to a
/// readable length.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        clip(key).into_owned()
    } else {
        format!("{path}.{}", clip(key))
    }
}

pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A JSON object being read, with its path.
pub(super) struct Object<'a> {
    pub(super) path: String,
    pub(super) map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    /// `value` as an object; reports anything else.
    pub(super) fn new(path: &str, value: &'a Value, errs: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Object {
                path: path.to_owned(),
                map,
            }),
            other => {
                errs.add(path, format!("must be an object, not {}", kind(other)));
                None
            }
        }
    }

    /// Reports every key outside `known`, suggesting the nearest known one.
    pub(super) fn deny_unknown(&self, known: &[&str], errs: &mut Errors) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                let hint = match closest(key, known.iter().copied()) {
                    Some(near) => format!("; did you mean {near}?"),
                    None => format!("; known fields are {}", known.join(", ")),
                };
                errs.add(&self.at(key), format!("is not a known field{hint}"));
            }
        }
    }

    pub(super) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value at `key`; `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value at `key`, reporting its absence.
    pub(super) fn required(&self, key: &str, errs: &mut Errors) -> Option<&'a Value> {
        let value = self.get(key);
        if value.is_none() {
            errs.add(&self.at(key), "is required");
        }
        value
    }

    pub(super) fn required_str(&self, key: &str, errs: &mut Errors) -> Option<&'a str> {
        self.required(key, errs)
            .and_then(|v| as_str(&self.at(key), v, errs))
    }

    pub(super) fn optional_str(&self, key: &str, errs: &mut Errors) -> Option<&'a str> {
        self.get(key).and_then(|v| as_str(&self.at(key), v, errs))
    }

    pub(super) fn optional_int(&self, key: &str, errs: &mut Errors) -> Option<i64> {
        self.get(key).and_then(|v| as_int(&self.at(key), v, errs))
    }

    pub(super) fn optional_timestamp(&self, key: &str, errs: &mut Errors) -> Option<DateTime<Utc>> {
        let path = self.at(key);
        let text = as_str(&path, self.get(key)?, errs)?;
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errs.add(
                    &path,
                    format!(
                        "{} is not an RFC 3339 timestamp such as 2025-01-31T09:00:00Z",
                        quote(text)
                    ),
                );
                None
            }
        }
    }
}

pub(super) fn as_str<'a>(path: &str, value: &'a Value, errs: &mut Errors) -> Option<&'a str> {
    match value {
        Value::String(s) => Some(s),
        other => {
            errs.add(path, format!("must be a string, not {}", kind(other)));
            None
        }
    }
}

pub(super) fn as_int(path: &str, value: &Value, errs: &mut Errors) -> Option<i64> {
    let int = value.as_i64();
    if int.is_none() {
        errs.add(
            path,
            format!("must be a whole number, not {}", describe(value)),
        );
    }
    int
}

pub(super) fn as_array<'a>(path: &str, value: &'a Value, errs: &mut Errors) -> Option<&'a [Value]> {
    match value {
        Value::Array(items) => Some(items),
        other => {
            errs.add(path, format!("must be a list, not {}", kind(other)));
            None
        }
    }
}

/// "a string", "a number", … for error messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Like [`kind`], showing numbers themselves: `1.5`, not "a number".
fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_paths_types_and_unknown_keys() {
        let mut errs = Errors::default();
        let value = json!({"a": 1, "b": "x", "titel": true, "n": null, "f": 1.5});
        let obj = Object::new("variants.en", &value, &mut errs).unwrap();
        obj.deny_unknown(&["a", "b", "title", "n", "f"], &mut errs);
        assert_eq!(obj.optional_int("a", &mut errs), Some(1));
        assert_eq!(obj.required_str("b", &mut errs), Some("x"));
        assert_eq!(obj.required_str("a", &mut errs), None);
        assert_eq!(obj.required("n", &mut errs), None);
        assert_eq!(obj.optional_str("n", &mut errs), None);
        assert_eq!(obj.optional_int("f", &mut errs), None);
        assert_eq!(
            Object::new("x", &json!([1]), &mut errs).map(|o| o.path),
            None
        );
        let shown: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "variants.en.titel: is not a known field; did you mean title?",
                "variants.en.a: must be a string, not a number",
                "variants.en.n: is required",
                "variants.en.f: must be a whole number, not 1.5",
                "x: must be an object, not a list",
            ]
        );
    }

    #[test]
    fn root_errors_are_reported_on_the_campaign() {
        let mut errs = Errors::default();
        assert!(Object::new("", &json!("text"), &mut errs).is_none());
        assert_eq!(errs.0[0].field, "campaign");
        assert_eq!(join("", "id"), "id");
        assert_eq!(join("a", "b"), "a.b");
        assert_eq!(index("a.b", 2), "a.b[2]");
    }

    #[test]
    fn reads_timestamps_with_offsets_as_utc() {
        let mut errs = Errors::default();
        let value = json!({"t": "2025-01-31T10:00:00+01:00", "bad": "2025-01-31 10:00", "naive": "2025-01-31T10:00:00"});
        let obj = Object::new("", &value, &mut errs).unwrap();
        assert_eq!(
            obj.optional_timestamp("t", &mut errs).unwrap().to_rfc3339(),
            "2025-01-31T09:00:00+00:00"
        );
        assert_eq!(obj.optional_timestamp("bad", &mut errs), None);
        assert_eq!(obj.optional_timestamp("naive", &mut errs), None);
        assert_eq!(obj.optional_timestamp("absent", &mut errs), None);
        assert_eq!(errs.0.len(), 2);
        assert!(errs.0[0].problem.contains("is not an RFC 3339 timestamp"));
    }
}
