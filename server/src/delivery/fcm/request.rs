//! The FCM HTTP v1 `messages:send` request for one push.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::delivery::message::{PushNotification, PushPriority};
use crate::delivery::MAX_PUSH_BYTES;

/// Data keys FCM reserves for itself and refuses in `data` (its documentation: "from",
/// "notification", "message_type", and any key starting with "google" or "gcm").
fn is_reserved_data_key(key: &str) -> bool {
    matches!(key, "from" | "notification" | "message_type")
        || key.starts_with("google")
        || key.starts_with("gcm")
}

/// The JSON body of `POST /v1/projects/{project}/messages:send`, or why it must not be
/// sent. The whole body must fit in [`MAX_PUSH_BYTES`]: stricter than FCM, which counts
/// only the notification and data, so whatever passes here also passes there.
pub(crate) fn message_body(
    token: &str,
    notification: &PushNotification,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the FCM registration token is empty or not printable ASCII".into());
    }
    if let Some(key) = notification.data.keys().find(|k| is_reserved_data_key(k)) {
        return Err(format!("data key `{key}` is reserved by FCM"));
    }
    let mut android = Map::new();
    android.insert(
        "priority".into(),
        json!(match notification.priority {
            PushPriority::High => "high",
            PushPriority::Normal => "normal",
        }),
    );
    if let Some(expires_at) = notification.expires_at {
        let ttl = (expires_at - now).num_seconds();
        if ttl <= 0 {
            return Err(format!(
                "the push expired at {expires_at} before it was sent"
            ));
        }
        android.insert("ttl".into(), json!(format!("{ttl}s")));
    }
    if let Some(collapse) = &notification.collapse_id {
        android.insert("collapse_key".into(), json!(collapse));
    }
    let mut message = Map::new();
    message.insert("token".into(), json!(token));
    message.insert(
        "notification".into(),
        json!({"title": notification.title, "body": notification.body}),
    );
    if !notification.data.is_empty() {
        message.insert("data".into(), json!(notification.data));
    }
    message.insert("android".into(), Value::Object(android));
    let body = serde_json::to_vec(&json!({ "message": message }))
        .map_err(|err| format!("cannot serialize the FCM message: {err}"))?;
    if body.len() > MAX_PUSH_BYTES {
        return Err(format!(
            "the FCM message is {} bytes, over the {MAX_PUSH_BYTES}-byte limit",
            body.len()
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeDelta;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    fn notification() -> PushNotification {
        PushNotification {
            title: "Your cart misses you".into(),
            body: "10% off today".into(),
            data: BTreeMap::from([
                ("beckon".into(), r#"{"v":1,"message_id":"m1"}"#.into()),
                ("screen".into(), "cart".into()),
            ]),
            collapse_id: Some("cart-reminder".into()),
            expires_at: Some(now() + TimeDelta::hours(2)),
            priority: PushPriority::High,
        }
    }

    fn parse(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn builds_the_v1_message_with_android_options() {
        let body = parse(&message_body("fcm-token-1", &notification(), now()).unwrap());
        assert_eq!(
            body,
            json!({"message": {
                "token": "fcm-token-1",
                "notification": {"title": "Your cart misses you", "body": "10% off today"},
                "data": {"beckon": r#"{"v":1,"message_id":"m1"}"#, "screen": "cart"},
                "android": {"priority": "high", "ttl": "7200s", "collapse_key": "cart-reminder"}
            }})
        );
    }

    #[test]
    fn optional_parts_are_left_out() {
        let bare = PushNotification {
            data: BTreeMap::new(),
            collapse_id: None,
            expires_at: None,
            priority: PushPriority::Normal,
            ..notification()
        };
        let body = parse(&message_body("t", &bare, now()).unwrap());
        assert_eq!(body["message"]["android"], json!({"priority": "normal"}));
        assert!(body["message"].get("data").is_none());
    }

    #[test]
    fn refuses_what_fcm_would_refuse_before_sending() {
        let mut big = notification();
        big.body = "x".repeat(MAX_PUSH_BYTES);
        assert!(message_body("t", &big, now())
            .unwrap_err()
            .contains("4096-byte limit"));

        let mut expired = notification();
        expired.expires_at = Some(now());
        assert!(message_body("t", &expired, now())
            .unwrap_err()
            .contains("expired"));

        for key in ["from", "gcm.notification.x", "google.c.a", "message_type"] {
            let mut reserved = notification();
            reserved.data.insert(key.into(), "v".into());
            assert!(message_body("t", &reserved, now())
                .unwrap_err()
                .contains(key));
        }
        for token in ["", "has space", "new\nline"] {
            assert!(
                message_body(token, &notification(), now()).is_err(),
                "{token:?}"
            );
        }
    }

    #[test]
    fn the_limit_counts_bytes_not_characters() {
        let mut fits = notification();
        fits.body.clear();
        let base = message_body("t", &fits, now()).unwrap().len();
        // "é" is two bytes in UTF-8 and is not escaped by serde_json.
        fits.body = "é".repeat((MAX_PUSH_BYTES - base) / 2);
        assert!(message_body("t", &fits, now()).unwrap().len() <= MAX_PUSH_BYTES);
        fits.body.push_str("éé");
        assert!(message_body("t", &fits, now()).is_err());
    }
}
