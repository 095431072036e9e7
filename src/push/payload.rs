//! Finding and reading the Beckon payload in what the app hands over, whichever
//! platform it came from:
//!
//! - the FCM `data` map, as JSON: `{"beckon": "<payload JSON>", …}` (Android's
//!   `RemoteMessage.data`), or as a map ([`parse_fcm_data`]);
//! - a whole FCM message: `{"data": {…}}`, or the HTTP v1 body `{"message": {"data": {…}}}`;
//! - an APNs `userInfo`: `{"aps": {…}, "beckon": {…}}`, the payload as an object.
//!
//! Anything larger than a push can be, or not shaped like one, is refused with the
//! place and the reason; nothing is guessed. That includes an object repeating a key:
//! which copy counts is up to each JSON parser, so a push could say one thing to the
//! service showing it and another to the SDK.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::protocol::{PushPayload, MAX_PUSH_BYTES, PUSH_PAYLOAD_KEY, PUSH_SCHEMA_VERSION};
use crate::text::json::{read_listing_repeats, RepeatedKey};
use crate::text::{clip_quoted_spans, quote};

/// Why a push was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushPayloadError {
    #[error("the push is {bytes} bytes, over the {limit}-byte limit of a push")]
    Oversized { bytes: usize, limit: usize },
    /// The push carries no Beckon payload: it was sent by something else.
    #[error(
        "the push has no \"beckon\" entry (looked at the top level, in data and in message.data)"
    )]
    NotBeckon,
    /// Sent by a newer server in a format this SDK cannot read.
    #[error("{at}: payload version {found} is not supported; this SDK reads version {supported}")]
    UnsupportedVersion {
        at: String,
        found: u64,
        supported: u32,
    },
    #[error("{at}: {problem}")]
    Malformed { at: String, problem: String },
}

fn malformed(at: &str, problem: impl Into<String>) -> PushPayloadError {
    PushPayloadError::Malformed {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

/// Reads the payload from a push's JSON text, in any of the accepted shapes.
pub fn parse_push(text: &str) -> Result<PushPayload, PushPayloadError> {
    check_size(text.len())?;
    let (value, repeats) =
        read_listing_repeats(text).map_err(|e| malformed("push", format!("is not JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(malformed("push", "must be a JSON object"));
    };
    let located = locate(&top);
    // Another SDK's push may repeat keys of its own; a Beckon push may not, nor may
    // any push repeat a key on the way to the Beckon entry, where which copy holds
    // the entry is in doubt.
    if let Some(repeat) = repeats
        .iter()
        .find(|repeat| located.is_ok() || leads_to_entry(repeat))
    {
        return Err(repeated("", repeat));
    }
    let (at, entry) = located?;
    read_entry(&at, entry)
}

/// The keys [`locate`] follows to the Beckon entry, as paths.
const ENTRY_WAYS: [&str; 6] = [
    PUSH_PAYLOAD_KEY,
    "data",
    "data.beckon",
    "message",
    "message.data",
    "message.data.beckon",
];

fn leads_to_entry(repeat: &RepeatedKey) -> bool {
    ENTRY_WAYS.contains(&join(&repeat.path, &repeat.key).as_str())
}

fn join(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (false, true) => path.to_owned(),
        (false, false) => format!("{path}.{key}"),
    }
}

/// The error for a repeated key of the JSON found at `at` (empty: the push itself).
fn repeated(at: &str, repeat: &RepeatedKey) -> PushPayloadError {
    let object = join(at, &repeat.path);
    malformed(
        if object.is_empty() { "push" } else { &object },
        format!(
            "repeats the key {}; a key may appear only once in an object",
            quote(&repeat.key)
        ),
    )
}

/// Reads the payload from an FCM `data` map (string keys and values), as Android's
/// `RemoteMessage.getData()` gives it.
pub fn parse_fcm_data(data: &HashMap<String, String>) -> Result<PushPayload, PushPayloadError> {
    check_size(data.iter().map(|(k, v)| k.len() + v.len()).sum())?;
    let entry = data
        .get(PUSH_PAYLOAD_KEY)
        .ok_or(PushPayloadError::NotBeckon)?;
    read_payload_text(&format!("data.{PUSH_PAYLOAD_KEY}"), entry)
}

fn check_size(bytes: usize) -> Result<(), PushPayloadError> {
    if bytes > MAX_PUSH_BYTES {
        return Err(PushPayloadError::Oversized {
            bytes,
            limit: MAX_PUSH_BYTES,
        });
    }
    Ok(())
}

/// The `beckon` entry and where it was found.
fn locate(top: &Map<String, Value>) -> Result<(String, &Value), PushPayloadError> {
    if let Some(entry) = top.get(PUSH_PAYLOAD_KEY) {
        return Ok((PUSH_PAYLOAD_KEY.to_owned(), entry));
    }
    let nested = |path: &[&str]| {
        let mut map = top;
        for key in path {
            map = map.get(*key)?.as_object()?;
        }
        map.get(PUSH_PAYLOAD_KEY)
    };
    if let Some(entry) = nested(&["data"]) {
        return Ok((format!("data.{PUSH_PAYLOAD_KEY}"), entry));
    }
    if let Some(entry) = nested(&["message", "data"]) {
        return Ok((format!("message.data.{PUSH_PAYLOAD_KEY}"), entry));
    }
    Err(PushPayloadError::NotBeckon)
}

/// The entry is a string of JSON (FCM data values are strings) or an object (APNs).
fn read_entry(at: &str, entry: &Value) -> Result<PushPayload, PushPayloadError> {
    match entry {
        Value::String(text) => read_payload_text(at, text),
        Value::Object(_) => read_payload(at, entry.clone()),
        _ => Err(malformed(
            at,
            "must be a JSON object, or a string holding one",
        )),
    }
}

fn read_payload_text(at: &str, text: &str) -> Result<PushPayload, PushPayloadError> {
    let (value, repeats) =
        read_listing_repeats(text).map_err(|e| malformed(at, format!("is not JSON: {e}")))?;
    if let Some(repeat) = repeats.first() {
        return Err(repeated(at, repeat));
    }
    if !value.is_object() {
        return Err(malformed(at, "must hold a JSON object"));
    }
    read_payload(at, value)
}

fn read_payload(at: &str, value: Value) -> Result<PushPayload, PushPayloadError> {
    // The version first: a newer payload would otherwise fail on its new fields, and
    // the app deserves to hear that the SDK is too old rather than that the push is bad.
    match value.get("v") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(found) if found != u64::from(PUSH_SCHEMA_VERSION) => {
                return Err(PushPayloadError::UnsupportedVersion {
                    at: format!("{at}.v"),
                    found,
                    supported: PUSH_SCHEMA_VERSION,
                })
            }
            Some(_) => {}
            None => return Err(malformed(&format!("{at}.v"), "must be a whole number")),
        },
        Some(_) => return Err(malformed(&format!("{at}.v"), "must be a whole number")),
        None => return Err(malformed(at, "has no version (v)")),
    }
    let payload: PushPayload = serde_json::from_value(value)
        .map_err(|e| malformed(at, clip_quoted_spans(&e.to_string())))?;
    payload.validate().map_err(|e| {
        let field = match e.field.strip_prefix(PUSH_PAYLOAD_KEY) {
            Some(rest) => format!("{at}{rest}"),
            None => e.field.clone(),
        };
        malformed(&field, e.problem)
    })?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Discount, PromoOffer};
    use serde_json::json;

    fn payload() -> PushPayload {
        PushPayload {
            campaign_id: Some("bf".into()),
            deep_link: Some("shop://product/42".into()),
            promo: Some(PromoOffer {
                code: "BF10".into(),
                discount: Discount::Percent { value: 10.0 },
                currency: None,
                expires_at: "2026-12-01T00:00:00Z".parse().unwrap(),
                min_basket: None,
                max_uses: 1,
            }),
            ..PushPayload::new("m-1")
        }
    }

    #[test]
    fn reads_every_platform_shape() {
        let p = payload();
        let fcm_data = serde_json::to_value(p.to_fcm_data().unwrap()).unwrap();
        let apns = {
            let mut user_info = p.to_apns_custom().unwrap();
            user_info.insert("aps".into(), json!({"alert": {"title": "Hi"}}));
            Value::Object(user_info)
        };
        let shapes = [
            // Android RemoteMessage.data as JSON, with other SDKs' keys beside it.
            json!({"beckon": fcm_data["beckon"], "other_sdk": "x"}),
            // The FCM message the app received.
            json!({"notification": {"title": "Hi"}, "data": fcm_data}),
            // The FCM HTTP v1 request body.
            json!({"message": {"token": "t", "data": fcm_data}}),
            apns,
        ];
        for shape in shapes {
            assert_eq!(parse_push(&shape.to_string()).unwrap(), p, "{shape}");
        }
        let map: HashMap<String, String> = p.to_fcm_data().unwrap().into_iter().collect();
        assert_eq!(parse_fcm_data(&map).unwrap(), p);
    }

    #[test]
    fn a_push_from_someone_else_is_told_apart() {
        assert_eq!(
            parse_push(r#"{"aps": {"alert": "hi"}, "other": 1}"#),
            Err(PushPayloadError::NotBeckon)
        );
        assert_eq!(
            parse_push(r#"{"data": {"x": "1"}}"#),
            Err(PushPayloadError::NotBeckon)
        );
        assert_eq!(
            parse_fcm_data(&HashMap::from([("x".into(), "1".into())])),
            Err(PushPayloadError::NotBeckon)
        );
    }

    #[test]
    fn oversized_input_is_refused_before_reading() {
        let padding = "x".repeat(MAX_PUSH_BYTES);
        let text = json!({"beckon": {"v": 1, "message_id": "m"}, "pad": padding}).to_string();
        assert!(matches!(
            parse_push(&text),
            Err(PushPayloadError::Oversized { limit: 4096, .. })
        ));
        let map = HashMap::from([
            (
                "beckon".to_string(),
                r#"{"v":1,"message_id":"m"}"#.to_string(),
            ),
            ("pad".to_string(), padding),
        ]);
        assert!(matches!(
            parse_fcm_data(&map),
            Err(PushPayloadError::Oversized { .. })
        ));
    }

    #[test]
    fn a_repeated_key_is_refused_naming_it_and_its_object() {
        let promo = r#"{"code": "A-1", "code": "B-2", "discount": {"kind": "free_shipping"}, "expires_at": "2026-12-01T00:00:00Z"}"#;
        let inner = format!(r#"{{"v": 1, "message_id": "m", "promo": {promo}}}"#);
        let as_string = serde_json::to_string(&inner).unwrap();
        let cases = [
            // APNs: the payload as an object.
            (
                format!(r#"{{"beckon": {inner}}}"#),
                "beckon.promo",
                "\"code\"",
            ),
            // FCM: the payload as a string, at the top, in data, in message.data.
            (
                format!(r#"{{"beckon": {as_string}}}"#),
                "beckon.promo",
                "\"code\"",
            ),
            (
                format!(r#"{{"data": {{"beckon": {as_string}}}}}"#),
                "data.beckon.promo",
                "\"code\"",
            ),
            (
                format!(r#"{{"message": {{"data": {{"beckon": {as_string}}}}}}}"#),
                "message.data.beckon.promo",
                "\"code\"",
            ),
            // The rest of a Beckon push, and the keys leading to the entry.
            (
                r#"{"beckon": {"v": 1, "message_id": "m", "v": 1}}"#.into(),
                "beckon",
                "\"v\"",
            ),
            (
                r#"{"aps": {"alert": "a", "alert": "b"}, "beckon": {"v": 1, "message_id": "m"}}"#
                    .into(),
                "aps",
                "\"alert\"",
            ),
            (
                r#"{"beckon": {"v": 1, "message_id": "m"}, "beckon": {"v": 1, "message_id": "n"}}"#
                    .into(),
                "push",
                "\"beckon\"",
            ),
            (
                r#"{"data": {"beckon": "{\"v\":1,\"message_id\":\"m\"}"}, "data": {"x": "1"}}"#
                    .into(),
                "push",
                "\"data\"",
            ),
            (
                r#"{"message": {"data": {"beckon": "{}"}, "data": {}}}"#.into(),
                "message",
                "\"data\"",
            ),
        ];
        for (text, at, key) in cases {
            match parse_push(&text) {
                Err(PushPayloadError::Malformed { at: found, problem }) => {
                    assert_eq!(found, at, "{text}: {problem}");
                    assert!(
                        problem.contains(&format!("repeats the key {key}")),
                        "{text}: {problem}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let data = HashMap::from([("beckon".to_string(), inner)]);
        assert!(matches!(
            parse_fcm_data(&data),
            Err(PushPayloadError::Malformed { at, .. }) if at == "data.beckon.promo"
        ));
    }

    #[test]
    fn another_sdks_push_may_repeat_its_own_keys() {
        assert_eq!(
            parse_push(r#"{"aps": {"alert": "a", "alert": "b"}, "other": 1}"#),
            Err(PushPayloadError::NotBeckon)
        );
        assert_eq!(
            parse_push(r#"{"data": {"x": "1", "x": "2"}}"#),
            Err(PushPayloadError::NotBeckon)
        );
    }

    #[test]
    fn a_newer_version_says_so() {
        let err =
            parse_push(r#"{"beckon": {"v": 2, "message_id": "m", "new_field": 1}}"#).unwrap_err();
        assert_eq!(
            err,
            PushPayloadError::UnsupportedVersion {
                at: "beckon.v".into(),
                found: 2,
                supported: 1
            }
        );
        assert!(err.to_string().contains("version 2 is not supported"));
    }

    #[test]
    fn malformed_payloads_say_where_and_why() {
        let cases = [
            ("not json", "push", "is not JSON"),
            ("[1]", "push", "must be a JSON object"),
            (
                r#"{"beckon": 7}"#,
                "beckon",
                "must be a JSON object, or a string",
            ),
            (
                r#"{"data": {"beckon": "{oops"}}"#,
                "data.beckon",
                "is not JSON",
            ),
            (
                r#"{"data": {"beckon": "[1]"}}"#,
                "data.beckon",
                "must hold a JSON object",
            ),
            (
                r#"{"beckon": {"message_id": "m"}}"#,
                "beckon",
                "has no version",
            ),
            (
                r#"{"beckon": {"v": "1", "message_id": "m"}}"#,
                "beckon.v",
                "whole number",
            ),
            (
                r#"{"beckon": {"v": 1.5, "message_id": "m"}}"#,
                "beckon.v",
                "whole number",
            ),
            (
                r#"{"beckon": {"v": 1}}"#,
                "beckon",
                "missing field `message_id`",
            ),
            (
                r#"{"beckon": {"v": 1, "message_id": "m", "deeplink": "x"}}"#,
                "beckon",
                "unknown field `deeplink`",
            ),
            (
                r#"{"message": {"data": {"beckon": "{\"v\":1,\"message_id\":\"m\",\"deep_link\":\"/p/1\"}"}}}"#,
                "message.data.beckon.deep_link",
                "is not absolute",
            ),
            (
                r#"{"beckon": {"v": 1, "message_id": "m", "promo": {"code": "A B", "discount": {"kind": "free_shipping"}, "expires_at": "2026-12-01T00:00:00Z"}}}"#,
                "beckon.promo.code",
                "only letters",
            ),
            (
                r#"{"beckon": {"v": 1, "message_id": "m", "promo": {"code": "AB", "discount": {"kind": "percent", "value": 10}, "expires_at": "next week"}}}"#,
                "beckon",
                "input contains invalid characters",
            ),
        ];
        for (text, at, problem) in cases {
            match parse_push(text) {
                Err(PushPayloadError::Malformed {
                    at: found,
                    problem: said,
                }) => {
                    assert_eq!(found, at, "{text}: {said}");
                    assert!(said.contains(problem), "{text}: {said}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
