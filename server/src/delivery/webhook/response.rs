//! What the webhook's answer means for the message.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::delivery::http::Reply;
use crate::delivery::outcome::Outcome;

#[derive(Deserialize)]
struct Accepted {
    id: Option<String>,
}

/// `message_id` is the `webhook-id` we sent, the provider id when the receiver names
/// none of its own (`{"id": …}`).
pub(crate) fn classify(reply: &Reply, message_id: &str, now: DateTime<Utc>) -> Outcome {
    let status = reply.status;
    let detail = || match reply.body_excerpt() {
        body if body.is_empty() => format!("webhook {status}"),
        body => format!("webhook {status}: {body}"),
    };
    match status {
        200..=299 => Outcome::Delivered {
            provider_id: serde_json::from_str::<Accepted>(&reply.body)
                .ok()
                .and_then(|accepted| accepted.id)
                .or_else(|| Some(message_id.to_string())),
        },
        // The receiver says the address is gone for good.
        410 => Outcome::Unregistered { detail: detail() },
        // A receiver timing out on its side is worth another try too.
        408 => Outcome::Retry {
            after: reply.retry_after(now),
            status: Some(status),
            detail: detail(),
        },
        _ => reply.retry_or_fail(now, detail()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, RETRY_AFTER};

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    #[test]
    fn accepted_messages_take_the_receivers_id_or_ours() {
        let now = Utc::now();
        assert_eq!(
            classify(&reply(202, r#"{"id":"sms-991"}"#), "msg_1", now),
            Outcome::Delivered {
                provider_id: Some("sms-991".into())
            }
        );
        assert_eq!(
            classify(&reply(204, ""), "msg_1", now),
            Outcome::Delivered {
                provider_id: Some("msg_1".into())
            }
        );
    }

    #[test]
    fn gone_addresses_retries_and_refusals() {
        let now = Utc::now();
        assert_eq!(
            classify(&reply(410, "number ported"), "m", now),
            Outcome::Unregistered {
                detail: "webhook 410: number ported".into()
            }
        );
        for status in [408, 429, 500, 503] {
            let mut busy = reply(status, "");
            busy.headers.insert(RETRY_AFTER, "2".parse().unwrap());
            assert_eq!(
                classify(&busy, "m", now),
                Outcome::Retry {
                    after: Some(Duration::from_secs(2)),
                    status: Some(status),
                    detail: format!("webhook {status}"),
                }
            );
        }
        for status in [301, 400, 401, 403, 404, 422] {
            assert!(
                matches!(classify(&reply(status, "no"), "m", now), Outcome::Failed { status: Some(s), .. } if s == status),
                "{status}"
            );
        }
    }
}
