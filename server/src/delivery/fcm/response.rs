//! What an FCM HTTP v1 answer means for the message.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::delivery::http::{excerpt, Reply, Verdict};
use crate::delivery::outcome::Outcome;

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorStatus,
}

#[derive(Deserialize, Default)]
struct ErrorStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
    #[serde(rename = "fieldViolations", default)]
    field_violations: Vec<FieldViolation>,
}

#[derive(Deserialize)]
struct FieldViolation {
    #[serde(default)]
    field: String,
}

impl ErrorStatus {
    fn has_code(&self, code: &str) -> bool {
        self.details
            .iter()
            .any(|d| d.error_code.as_deref() == Some(code))
    }

    /// FCM says a token is malformed with INVALID_ARGUMENT and either a field violation
    /// on `message.token` or a message naming the registration token.
    fn blames_the_token(&self) -> bool {
        self.details
            .iter()
            .flat_map(|d| &d.field_violations)
            .any(|v| v.field == "message.token")
            || self
                .message
                .to_ascii_lowercase()
                .contains("registration token")
    }

    fn code(&self) -> &str {
        self.details
            .iter()
            .find_map(|d| d.error_code.as_deref())
            .unwrap_or(&self.status)
    }
}

#[derive(Deserialize)]
struct Sent {
    name: Option<String>,
}

pub(crate) fn classify(reply: &Reply, now: DateTime<Utc>) -> Verdict {
    let status = reply.status;
    if (200..300).contains(&status) {
        let name = serde_json::from_str::<Sent>(&reply.body)
            .ok()
            .and_then(|sent| sent.name);
        return Verdict::Done(Outcome::Delivered { provider_id: name });
    }
    let error = serde_json::from_str::<ErrorBody>(&reply.body)
        .unwrap_or_default()
        .error;
    // The code and message are the provider's text, up to the whole body: cut like
    // any other body, so stored attempts stay small.
    let detail = match (error.code(), error.message.as_str()) {
        ("", "") => format!("FCM {status}: {}", reply.body_excerpt()),
        (code, message) => excerpt(&format!("FCM {status} {code}: {message}")),
    };
    let outcome = match status {
        401 => return Verdict::StaleCredentials(detail),
        404 if error.has_code("UNREGISTERED") => Outcome::Unregistered { detail },
        400 if error.has_code("UNREGISTERED")
            || (error.status == "INVALID_ARGUMENT" && error.blames_the_token()) =>
        {
            Outcome::Unregistered { detail }
        }
        _ => reply.retry_or_fail(now, detail),
    };
    Verdict::Done(outcome)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, RETRY_AFTER};
    use serde_json::json;

    use super::*;

    fn reply(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.to_string(),
        }
    }

    fn fcm_error(
        code: u16,
        status: &str,
        message: &str,
        error_code: Option<&str>,
    ) -> serde_json::Value {
        let mut details = vec![];
        if let Some(error_code) = error_code {
            details.push(json!({
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": error_code
            }));
        }
        json!({"error": {"code": code, "message": message, "status": status, "details": details}})
    }

    fn outcome(reply: &Reply) -> Outcome {
        match classify(reply, Utc::now()) {
            Verdict::Done(outcome) => outcome,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn success_is_delivered_with_the_message_name() {
        let ok = reply(200, json!({"name": "projects/p/messages/0:123"}));
        assert_eq!(
            outcome(&ok),
            Outcome::Delivered {
                provider_id: Some("projects/p/messages/0:123".into())
            }
        );
        let odd = Reply {
            body: "not json".into(),
            ..ok
        };
        assert_eq!(outcome(&odd), Outcome::Delivered { provider_id: None });
    }

    #[test]
    fn unregistered_and_bad_tokens_are_unregistered() {
        let gone = reply(
            404,
            fcm_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                Some("UNREGISTERED"),
            ),
        );
        assert_eq!(
            outcome(&gone),
            Outcome::Unregistered {
                detail: "FCM 404 UNREGISTERED: Requested entity was not found.".into()
            }
        );
        let invalid = reply(
            400,
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                Some("INVALID_ARGUMENT"),
            ),
        );
        assert!(matches!(outcome(&invalid), Outcome::Unregistered { .. }));
        let violation = reply(
            400,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid value",
                "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                             "fieldViolations": [{"field": "message.token", "description": "bad"}]}]}}),
        );
        assert!(matches!(outcome(&violation), Outcome::Unregistered { .. }));
    }

    #[test]
    fn other_client_errors_fail_without_touching_the_token() {
        let bad_data = reply(
            400,
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received. Unknown name \"x\"",
                Some("INVALID_ARGUMENT"),
            ),
        );
        assert!(matches!(
            outcome(&bad_data),
            Outcome::Failed {
                status: Some(400),
                ..
            }
        ));
        let wrong_project = reply(404, fcm_error(404, "NOT_FOUND", "Project not found", None));
        assert!(matches!(
            outcome(&wrong_project),
            Outcome::Failed {
                status: Some(404),
                ..
            }
        ));
        let mismatch = reply(
            403,
            fcm_error(
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                Some("SENDER_ID_MISMATCH"),
            ),
        );
        match outcome(&mismatch) {
            Outcome::Failed { status, detail } => {
                assert_eq!(status, Some(403));
                assert_eq!(detail, "FCM 403 SENDER_ID_MISMATCH: SenderId mismatch");
            }
            other => panic!("{other:?}"),
        }
        let html = Reply {
            status: 413,
            headers: HeaderMap::new(),
            body: "<html>too large</html>".into(),
        };
        assert_eq!(
            outcome(&html),
            Outcome::Failed {
                status: Some(413),
                detail: "FCM 413: <html>too large</html>".into()
            }
        );
    }

    #[test]
    fn overload_and_outages_are_retried_with_retry_after() {
        for status in [429, 500, 502, 503] {
            let mut busy = reply(status, fcm_error(status, "UNAVAILABLE", "busy", None));
            busy.headers.insert(RETRY_AFTER, "17".parse().unwrap());
            assert_eq!(
                outcome(&busy),
                Outcome::Retry {
                    after: Some(Duration::from_secs(17)),
                    status: Some(status),
                    detail: format!("FCM {status} UNAVAILABLE: busy"),
                }
            );
        }
        let no_hint = reply(503, json!({}));
        assert!(matches!(
            outcome(&no_hint),
            Outcome::Retry { after: None, .. }
        ));
    }

    #[test]
    fn a_long_error_message_is_cut_in_the_detail() {
        // The provider's message can be the whole 64 KiB body read: the attempt keeps
        // an excerpt, as it does of any body.
        let long = "m".repeat(5_000);
        for (status, code) in [(503, "UNAVAILABLE"), (401, "UNAUTHENTICATED"), (400, "X")] {
            let answer = reply(status, fcm_error(status, code, &long, None));
            let detail = match classify(&answer, Utc::now()) {
                Verdict::StaleCredentials(detail) => detail,
                Verdict::Done(Outcome::Retry { detail, .. } | Outcome::Failed { detail, .. }) => {
                    detail
                }
                other => panic!("{other:?}"),
            };
            assert!(
                detail.starts_with(&format!("FCM {status} {code}: mmm")),
                "{detail}"
            );
            assert_eq!(detail.chars().count(), 301, "{detail}");
        }
        let long_code = reply(503, fcm_error(503, &"C".repeat(5_000), "busy", None));
        match outcome(&long_code) {
            Outcome::Retry { detail, .. } => assert_eq!(detail.chars().count(), 301),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unauthenticated_answer_asks_for_a_new_access_token() {
        let stale = reply(
            401,
            fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
                None,
            ),
        );
        assert!(matches!(
            classify(&stale, Utc::now()),
            Verdict::StaleCredentials(_)
        ));
    }
}
