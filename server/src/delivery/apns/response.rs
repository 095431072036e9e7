//! What an APNs answer means for the push.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::delivery::http::{excerpt, Reply, Verdict};
use crate::delivery::outcome::Outcome;

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    reason: String,
}

pub(crate) fn classify(reply: &Reply, now: DateTime<Utc>) -> Verdict {
    let status = reply.status;
    if status == 200 {
        return Verdict::Done(Outcome::Delivered {
            provider_id: reply.header("apns-id").map(str::to_string),
        });
    }
    let reason = serde_json::from_str::<ErrorBody>(&reply.body)
        .unwrap_or_default()
        .reason;
    let detail = if reason.is_empty() {
        format!("APNs {status}: {}", reply.body_excerpt())
    } else {
        // The reason is the provider's text: cut like a body.
        excerpt(&format!("APNs {status} {reason}"))
    };
    let outcome = match (status, reason.as_str()) {
        (403, "ExpiredProviderToken") => return Verdict::StaleCredentials(detail),
        // 410 is Unregistered or ExpiredToken: either way the token is dead.
        (410, _) | (400, "BadDeviceToken") => Outcome::Unregistered { detail },
        _ => reply.retry_or_fail(now, detail),
    };
    Verdict::Done(outcome)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, RETRY_AFTER};

    use super::*;

    fn reply(status: u16, reason: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: if reason.is_empty() {
                String::new()
            } else {
                format!(r#"{{"reason":"{reason}"}}"#)
            },
        }
    }

    fn outcome(reply: &Reply) -> Outcome {
        match classify(reply, Utc::now()) {
            Verdict::Done(outcome) => outcome,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn success_carries_the_apns_id() {
        let mut ok = reply(200, "");
        ok.headers.insert(
            "apns-id",
            "EC1BF194-B3B2-424A-89A9-5A918A6E8B9C".parse().unwrap(),
        );
        assert_eq!(
            outcome(&ok),
            Outcome::Delivered {
                provider_id: Some("EC1BF194-B3B2-424A-89A9-5A918A6E8B9C".into())
            }
        );
    }

    #[test]
    fn dead_tokens_are_unregistered() {
        assert_eq!(
            outcome(&reply(410, "Unregistered")),
            Outcome::Unregistered {
                detail: "APNs 410 Unregistered".into()
            }
        );
        assert!(matches!(
            outcome(&reply(410, "ExpiredToken")),
            Outcome::Unregistered { .. }
        ));
        assert!(matches!(
            outcome(&reply(400, "BadDeviceToken")),
            Outcome::Unregistered { .. }
        ));
    }

    #[test]
    fn throttling_and_outages_are_retried() {
        for (status, reason) in [
            (429, "TooManyRequests"),
            (503, "ServiceUnavailable"),
            (500, "InternalServerError"),
        ] {
            let mut busy = reply(status, reason);
            busy.headers.insert(RETRY_AFTER, "3".parse().unwrap());
            assert_eq!(
                outcome(&busy),
                Outcome::Retry {
                    after: Some(Duration::from_secs(3)),
                    status: Some(status),
                    detail: format!("APNs {status} {reason}"),
                }
            );
        }
    }

    #[test]
    fn an_expired_provider_token_asks_for_a_new_one_but_other_403s_fail() {
        assert!(matches!(
            classify(&reply(403, "ExpiredProviderToken"), Utc::now()),
            Verdict::StaleCredentials(_)
        ));
        assert!(matches!(
            outcome(&reply(403, "InvalidProviderToken")),
            Outcome::Failed {
                status: Some(403),
                ..
            }
        ));
    }

    #[test]
    fn a_long_reason_is_cut_in_the_detail() {
        let long = "r".repeat(5_000);
        for status in [400, 403, 410, 503] {
            let detail = match classify(&reply(status, &long), Utc::now()) {
                Verdict::StaleCredentials(detail) => detail,
                Verdict::Done(
                    Outcome::Unregistered { detail }
                    | Outcome::Retry { detail, .. }
                    | Outcome::Failed { detail, .. },
                ) => detail,
                other => panic!("{other:?}"),
            };
            assert!(
                detail.starts_with(&format!("APNs {status} rrr")),
                "{detail}"
            );
            assert_eq!(detail.chars().count(), 301, "{detail}");
        }
    }

    #[test]
    fn other_refusals_fail_and_keep_the_token() {
        for (status, reason) in [
            (400, "BadCollapseId"),
            (400, "DeviceTokenNotForTopic"),
            (400, "TopicDisallowed"),
            (413, "PayloadTooLarge"),
            (405, "MethodNotAllowed"),
        ] {
            assert_eq!(
                outcome(&reply(status, reason)),
                Outcome::Failed {
                    status: Some(status),
                    detail: format!("APNs {status} {reason}"),
                }
            );
        }
        let mut odd = reply(404, "");
        odd.body = "<html>nope</html>".into();
        assert_eq!(
            outcome(&odd),
            Outcome::Failed {
                status: Some(404),
                detail: "APNs 404: <html>nope</html>".into()
            }
        );
    }
}
