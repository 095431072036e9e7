//! Reading Segment E-commerce keys out of an event's properties, tolerating what
//! other clients send (numeric ids, `2.0` quantities) and ignoring what is unusable.

use serde_json::{Map, Value};

use crate::common::money::normalize_currency;

pub(crate) type Props = Map<String, Value>;

/// Non-blank text, trimmed.
pub(crate) fn text<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// An identifier: non-blank text or an integer (`42` → `"42"`).
pub(crate) fn id(props: &Props, key: &str) -> Option<String> {
    match props.get(key)? {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => text(props, key).map(str::to_owned),
    }
}

/// A price or amount: a finite number, not negative.
pub(crate) fn amount(props: &Props, key: &str) -> Option<f64> {
    props
        .get(key)?
        .as_f64()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// A quantity: a whole number of at least 1 (`2` or `2.0`), capped at `u32::MAX`.
pub(crate) fn quantity(props: &Props, key: &str) -> Option<u32> {
    let value = props.get(key)?;
    let whole = match value.as_u64() {
        Some(n) => n,
        None => {
            let f = value.as_f64()?;
            if !(f.is_finite() && f.fract() == 0.0 && f >= 1.0) {
                return None;
            }
            f.min(u64::MAX as f64) as u64
        }
    };
    (whole >= 1).then(|| u32::try_from(whole).unwrap_or(u32::MAX))
}

/// An ISO 4217 code, upper-cased.
pub(crate) fn currency(props: &Props, key: &str) -> Option<String> {
    text(props, key).and_then(normalize_currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Props {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_text_and_ids() {
        let p = props(json!({"a": " x ", "b": "  ", "c": 42, "d": 1.5, "e": true}));
        assert_eq!(text(&p, "a"), Some("x"));
        assert_eq!(text(&p, "b"), None);
        assert_eq!(text(&p, "c"), None);
        assert_eq!(text(&p, "missing"), None);
        assert_eq!(id(&p, "a").as_deref(), Some("x"));
        assert_eq!(id(&p, "c").as_deref(), Some("42"));
        assert_eq!(id(&p, "d"), None);
        assert_eq!(id(&p, "e"), None);
    }

    #[test]
    fn reads_amounts_and_quantities() {
        let p = props(json!({
            "price": 12.5, "neg": -1, "str": "12", "q": 3, "qf": 2.0, "half": 1.5,
            "zero": 0, "big": 1e12, "huge": u64::MAX
        }));
        assert_eq!(amount(&p, "price"), Some(12.5));
        assert_eq!(amount(&p, "neg"), None);
        assert_eq!(amount(&p, "str"), None);
        assert_eq!(quantity(&p, "q"), Some(3));
        assert_eq!(quantity(&p, "qf"), Some(2));
        assert_eq!(quantity(&p, "half"), None);
        assert_eq!(quantity(&p, "zero"), None);
        assert_eq!(quantity(&p, "neg"), None);
        assert_eq!(quantity(&p, "big"), Some(u32::MAX));
        assert_eq!(quantity(&p, "huge"), Some(u32::MAX));
    }

    #[test]
    fn reads_currencies() {
        let p = props(json!({"a": "eur", "b": "euro", "c": 978}));
        assert_eq!(currency(&p, "a").as_deref(), Some("EUR"));
        assert_eq!(currency(&p, "b"), None);
        assert_eq!(currency(&p, "c"), None);
    }
}
