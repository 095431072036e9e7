//! Reading JSON from outside without letting a repeated key through. JSON leaves an
//! object with a key twice undefined, and parsers disagree on it: serde_json keeps
//! the last value, others the first. A push saying `"code": "A-1"` and then
//! `"code": "B-2"` could show one code to the shopper's notification service and
//! give the SDK the other, so where it matters the input is read here and a repeated
//! key is refused, named with the path of its object.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::clip;

/// A key an object of the input holds more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedKey {
    /// Where the object is: keys joined with `.`, `[i]` for array items, empty for
    /// the top level. Keys in it are cut to a readable length.
    pub path: String,
    /// The key, whole.
    pub key: String,
}

/// How deep the reader goes. It recurses per level, and it runs on the app's thread,
/// whatever its stack (a 256 KB secondary thread included); what it reads (a push of at
/// most 4 KB) has no reason to nest anywhere near this.
pub const MAX_DEPTH: usize = 32;

/// Reads `text` as JSON the way `serde_json` does (a repeated key keeps its last
/// value) and lists every repeated key, in reading order. The error is serde's, for
/// text that is not JSON or nests deeper than [`MAX_DEPTH`].
pub fn read_listing_repeats(text: &str) -> Result<(Value, Vec<RepeatedKey>), serde_json::Error> {
    let repeats = RefCell::new(Vec::new());
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Reader {
        path: String::new(),
        depth: 0,
        repeats: &repeats,
    }
    .deserialize(&mut reader)?;
    reader.end()?;
    Ok((value, repeats.into_inner()))
}

/// Builds the value while noting repeated keys. The path is built as the reader goes
/// down, so a repeat deep inside says where it is.
struct Reader<'a> {
    path: String,
    /// Containers around the value read.
    depth: usize,
    repeats: &'a RefCell<Vec<RepeatedKey>>,
}

impl Reader<'_> {
    fn child(&self, step: impl fmt::Display) -> Self {
        let path = if self.path.is_empty() {
            step.to_string()
        } else {
            format!("{}.{step}", self.path)
        };
        Reader {
            path,
            depth: self.depth + 1,
            repeats: self.repeats,
        }
    }

    /// Refuses to open a container past [`MAX_DEPTH`].
    fn check_depth<E: serde::de::Error>(&self) -> Result<(), E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!(
                "nests deeper than {MAX_DEPTH} levels at {}",
                if self.path.is_empty() {
                    "the top"
                } else {
                    &self.path
                }
            )));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Reader<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reader<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // JSON text cannot spell a non-finite number; serde_json reads the same way.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        self.check_depth()?;
        let mut values = Vec::new();
        loop {
            let item = Reader {
                path: format!("{}[{}]", self.path, values.len()),
                depth: self.depth + 1,
                repeats: self.repeats,
            };
            match items.next_element_seed(item)? {
                Some(value) => values.push(value),
                None => return Ok(Value::Array(values)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        self.check_depth()?;
        let mut map = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let value = entries.next_value_seed(self.child(clip(&key)))?;
            if map.insert(key.clone(), value).is_some() {
                self.repeats.borrow_mut().push(RepeatedKey {
                    path: self.path.clone(),
                    key,
                });
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repeats(text: &str) -> Vec<(String, String)> {
        let (_, repeats) = read_listing_repeats(text).unwrap();
        repeats.into_iter().map(|r| (r.path, r.key)).collect()
    }

    fn pair(path: &str, key: &str) -> (String, String) {
        (path.to_owned(), key.to_owned())
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a": 1, "b": [true, null, -2, 3.5, 18446744073709551615], "c": {"d": "é\n"}}"#,
            "[]",
            "\"text\"",
            "0",
            r#"{"": {}}"#,
        ] {
            let (value, repeats) = read_listing_repeats(text).unwrap();
            assert_eq!(
                value,
                serde_json::from_str::<Value>(text).unwrap(),
                "{text}"
            );
            assert!(repeats.is_empty(), "{text}");
        }
    }

    #[test]
    fn lists_each_repeated_key_with_the_path_of_its_object() {
        let text = r#"{"beckon": {"promo": {"code": "A-1", "code": "B-2"}}, "aps": {}}"#;
        let (value, _) = read_listing_repeats(text).unwrap();
        assert_eq!(
            value["beckon"]["promo"]["code"], "B-2",
            "the last, as serde_json"
        );
        assert_eq!(repeats(text), [pair("beckon.promo", "code")]);
        assert_eq!(repeats(r#"{"v": 1, "v": 1}"#), [pair("", "v")]);
        assert_eq!(
            repeats(r#"{"list": [{}, {"x": 1, "y": 2, "x": 3}]}"#),
            [pair("list[1]", "x")]
        );
        assert_eq!(repeats(r#"[[1, {"k": 1, "k": 1}]]"#), [pair("[0][1]", "k")]);
        assert_eq!(
            repeats(r#"{"a": {"x": 1, "x": 2}, "a": {}, "b": 1, "b": 2}"#),
            [pair("a", "x"), pair("", "a"), pair("", "b")],
            "in reading order"
        );
        assert_eq!(
            repeats(r#"{"k": 1, "k": 2, "k": 3}"#),
            [pair("", "k"), pair("", "k")]
        );
    }

    #[test]
    fn keys_are_compared_after_unescaping() {
        assert_eq!(
            repeats(r#"{"code": 1, "c\u006fde": 2}"#),
            [pair("", "code")]
        );
        assert!(repeats(r#"{"code": 1, "Code": 2}"#).is_empty());
    }

    #[test]
    fn a_long_key_is_cut_in_paths_and_kept_whole_as_the_key() {
        let long = "k".repeat(1_000);
        let text = json!({ long.clone(): {"x": 1} })
            .to_string()
            .replace(r#"{"x":1}"#, r#"{"x":1,"x":2}"#);
        let found = repeats(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].0.len() < 100 && found[0].0.ends_with('…'),
            "{found:?}"
        );
        assert_eq!(found[0].1, "x");
    }

    #[test]
    fn refuses_text_that_is_not_json() {
        for text in ["", "{", r#"{"a": 1,}"#, "[1] [2]", r#"{"a" 1}"#, "nul"] {
            assert!(read_listing_repeats(text).is_err(), "{text:?}");
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(read_listing_repeats(&deep).is_err(), "nesting has a limit");
    }

    #[test]
    fn refuses_to_go_deeper_than_its_bound_and_reads_up_to_it() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(read_listing_repeats(&nested(MAX_DEPTH)).is_ok());
        let error = read_listing_repeats(&nested(MAX_DEPTH + 1))
            .unwrap_err()
            .to_string();
        assert!(error.contains("nests deeper than 32 levels"), "{error}");
        let objects = format!(
            "{}1{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        let error = read_listing_repeats(&objects).unwrap_err().to_string();
        assert!(error.contains("at a.a.a"), "{error}");
    }

    #[test]
    fn a_deep_document_is_refused_on_a_small_stack() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let refused = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || read_listing_repeats(&deep).is_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(refused);
    }
}
