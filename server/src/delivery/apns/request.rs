//! The APNs request for one push: path, headers and JSON payload.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::delivery::message::{PushNotification, PushPriority};
use crate::delivery::outcome::Outcome;
use crate::delivery::MAX_PUSH_BYTES;

/// The data key holding Beckon's own payload: a JSON string in FCM data, a JSON
/// object next to `aps` in APNs.
pub(crate) const BECKON_KEY: &str = "beckon";
/// APNs refuses longer collapse ids.
pub(crate) const MAX_COLLAPSE_ID_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApnsRequest {
    /// `/3/device/{token}`.
    pub path: String,
    /// `apns-*` headers; the client adds `authorization`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// APNs device tokens are hex strings (32 bytes today; Apple warns they may grow).
fn is_device_token(token: &str) -> bool {
    (64..=200).contains(&token.len())
        && token.len().is_multiple_of(2)
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn payload(notification: &PushNotification) -> Result<Value, String> {
    let mut root = Map::new();
    root.insert(
        "aps".into(),
        json!({
            "alert": {"title": notification.title, "body": notification.body},
            "sound": "default",
        }),
    );
    for (key, value) in &notification.data {
        let value = match key.as_str() {
            "aps" => return Err("data key `aps` is reserved by APNs".into()),
            BECKON_KEY => match serde_json::from_str::<Value>(value) {
                Ok(object @ Value::Object(_)) => object,
                _ => return Err(format!("data key `{BECKON_KEY}` is not a JSON object")),
            },
            _ => Value::String(value.clone()),
        };
        root.insert(key.clone(), value);
    }
    Ok(Value::Object(root))
}

/// The request, or the outcome of a push that must not be sent: a malformed device
/// token can never be delivered (APNs would answer BadDeviceToken), so it is
/// unregistered; anything else wrong fails the push.
pub(crate) fn apns_request(
    token: &str,
    notification: &PushNotification,
    topic: &str,
    now: DateTime<Utc>,
) -> Result<ApnsRequest, Outcome> {
    if !is_device_token(token) {
        return Err(Outcome::Unregistered {
            detail:
                "APNs: the device token is not an even-length hex string of 64 to 200 characters"
                    .into(),
        });
    }
    let fail = |reason: String| Outcome::failed(format!("APNs: {reason}"));
    let expiration = match notification.expires_at {
        Some(at) if at <= now => {
            return Err(fail(format!("the push expired at {at} before it was sent")))
        }
        Some(at) => at.timestamp(),
        // 0: try once, do not store for later delivery.
        None => 0,
    };
    let mut headers = vec![
        ("apns-topic", topic.to_string()),
        ("apns-push-type", "alert".to_string()),
        (
            "apns-priority",
            match notification.priority {
                PushPriority::High => "10",
                PushPriority::Normal => "5",
            }
            .to_string(),
        ),
        ("apns-expiration", expiration.to_string()),
    ];
    if let Some(collapse) = &notification.collapse_id {
        if collapse.is_empty() || collapse.len() > MAX_COLLAPSE_ID_BYTES {
            return Err(fail(format!(
                "the collapse id is {} bytes; APNs takes 1 to {MAX_COLLAPSE_ID_BYTES}",
                collapse.len()
            )));
        }
        headers.push(("apns-collapse-id", collapse.clone()));
    }
    let body = serde_json::to_vec(&payload(notification).map_err(fail)?)
        .map_err(|err| fail(format!("cannot serialize the payload: {err}")))?;
    if body.len() > MAX_PUSH_BYTES {
        return Err(fail(format!(
            "the payload is {} bytes, over the {MAX_PUSH_BYTES}-byte limit",
            body.len()
        )));
    }
    Ok(ApnsRequest {
        path: format!("/3/device/{token}"),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeDelta;

    use super::*;

    const TOKEN: &str = "6a1f0c3e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29";

    fn now() -> DateTime<Utc> {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    fn notification() -> PushNotification {
        PushNotification {
            title: "Back in stock".into(),
            body: "The sneakers you liked".into(),
            data: BTreeMap::from([
                (
                    "beckon".into(),
                    r#"{"v":1,"message_id":"m1","deep_link":"shop://p/1"}"#.into(),
                ),
                ("screen".into(), "product".into()),
            ]),
            collapse_id: Some("restock-1".into()),
            expires_at: Some(now() + TimeDelta::hours(1)),
            priority: PushPriority::High,
        }
    }

    fn header<'a>(request: &'a ApnsRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn builds_path_headers_and_payload() {
        let request = apns_request(TOKEN, &notification(), "com.example.shop", now()).unwrap();
        assert_eq!(request.path, format!("/3/device/{TOKEN}"));
        assert_eq!(header(&request, "apns-topic"), Some("com.example.shop"));
        assert_eq!(header(&request, "apns-push-type"), Some("alert"));
        assert_eq!(header(&request, "apns-priority"), Some("10"));
        assert_eq!(
            header(&request, "apns-expiration"),
            Some((now().timestamp() + 3600).to_string().as_str())
        );
        assert_eq!(header(&request, "apns-collapse-id"), Some("restock-1"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({
                "aps": {"alert": {"title": "Back in stock", "body": "The sneakers you liked"}, "sound": "default"},
                "beckon": {"v": 1, "message_id": "m1", "deep_link": "shop://p/1"},
                "screen": "product"
            })
        );
    }

    #[test]
    fn normal_priority_and_no_expiry_or_collapse() {
        let quiet = PushNotification {
            priority: PushPriority::Normal,
            expires_at: None,
            collapse_id: None,
            ..notification()
        };
        let request = apns_request(TOKEN, &quiet, "t", now()).unwrap();
        assert_eq!(header(&request, "apns-priority"), Some("5"));
        assert_eq!(header(&request, "apns-expiration"), Some("0"));
        assert_eq!(header(&request, "apns-collapse-id"), None);
    }

    #[test]
    fn malformed_device_tokens_are_unregistered_without_sending() {
        for token in [
            "",
            "abc",
            &TOKEN[1..],
            &format!("{}zz", &TOKEN[2..]),
            &"a".repeat(202),
        ] {
            assert!(
                matches!(
                    apns_request(token, &notification(), "t", now()),
                    Err(Outcome::Unregistered { .. })
                ),
                "{token}"
            );
        }
        assert!(apns_request(&TOKEN.to_uppercase(), &notification(), "t", now()).is_ok());
    }

    fn failure(notification: &PushNotification) -> String {
        match apns_request(TOKEN, notification, "t", now()) {
            Err(Outcome::Failed {
                status: None,
                detail,
            }) => detail,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_what_apns_would_refuse_before_sending() {
        let mut big = notification();
        big.body = "x".repeat(MAX_PUSH_BYTES);
        assert!(failure(&big).contains("4096-byte limit"));

        let mut long_collapse = notification();
        long_collapse.collapse_id = Some("c".repeat(65));
        assert!(failure(&long_collapse).contains("collapse id"));
        let mut fits = notification();
        fits.collapse_id = Some("c".repeat(64));
        assert!(apns_request(TOKEN, &fits, "t", now()).is_ok());

        let mut expired = notification();
        expired.expires_at = Some(now() - TimeDelta::seconds(1));
        assert!(failure(&expired).contains("expired"));

        let mut aps = notification();
        aps.data.insert("aps".into(), "{}".into());
        assert!(failure(&aps).contains("`aps`"));

        for bad in ["not json", "[1,2]", "\"text\""] {
            let mut beckon = notification();
            beckon.data.insert("beckon".into(), bad.into());
            assert!(failure(&beckon).contains("`beckon`"), "{bad}");
        }
    }
}
