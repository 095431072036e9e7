//! Google OAuth 2.0 for service accounts: a signed JWT assertion exchanged for a
//! short-lived access token (RFC 7523), which is cached until shortly before it ends.

use beckon::text::{clip, clip_quoted_spans};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::service_account::ServiceAccount;
use crate::delivery::http::Reply;
use crate::delivery::jwt::sign_rs256;
use crate::delivery::outcome::Outcome;

pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME: TimeDelta = TimeDelta::hours(1);
/// A token is replaced this long before it ends, so no send races its expiry.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

pub(crate) fn assertion_claims(account: &ServiceAccount, now: DateTime<Utc>) -> Value {
    json!({
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": now.timestamp(),
        "exp": (now + ASSERTION_LIFETIME).timestamp(),
    })
}

pub(crate) fn assertion(account: &ServiceAccount, now: DateTime<Utc>) -> Result<String, String> {
    sign_rs256(
        &account.key,
        &json!({"alg": "RS256", "typ": "JWT"}),
        &assertion_claims(account, now),
    )
}

/// An access token and when to stop using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    pub value: String,
    pub refresh_at: DateTime<Utc>,
}

impl AccessToken {
    pub(crate) fn is_usable(&self, now: DateTime<Utc>) -> bool {
        now < self.refresh_at
    }
}

/// When a token obtained at `now`, living `expires_in` seconds, should be replaced:
/// five minutes early, or halfway for a token living less than ten minutes.
pub(crate) fn refresh_at(now: DateTime<Utc>, expires_in: u64) -> DateTime<Utc> {
    let lifetime = TimeDelta::seconds(expires_in.min(86_400 * 365) as i64);
    now + lifetime - REFRESH_MARGIN.min(lifetime / 2)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    token_type: Option<String>,
}

/// The token endpoint's answer: a token, or the outcome of the send that needed it.
pub(crate) fn token_from_reply(reply: &Reply, now: DateTime<Utc>) -> Result<AccessToken, Outcome> {
    let refused = |what: &str| match reply.body_excerpt() {
        body if body.is_empty() => format!("FCM OAuth token request {what}"),
        body => format!("FCM OAuth token request {what}: {body}"),
    };
    match reply.status {
        200 => {
            // serde quotes what it did not expect whole: the answer's own text.
            let parsed: TokenResponse = serde_json::from_str(&reply.body).map_err(|err| {
                Outcome::failed(format!(
                    "FCM OAuth token response unreadable ({})",
                    clip_quoted_spans(&err.to_string())
                ))
            })?;
            if parsed.access_token.is_empty()
                || !parsed.access_token.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(Outcome::failed(
                    "FCM OAuth token response has no usable access_token",
                ));
            }
            if let Some(kind) = parsed.token_type.as_deref() {
                if !kind.eq_ignore_ascii_case("bearer") {
                    return Err(Outcome::failed(format!(
                        "FCM OAuth token type `{}` is not Bearer",
                        clip(kind)
                    )));
                }
            }
            Ok(AccessToken {
                value: parsed.access_token,
                // Google always says; an hour is its usual lifetime.
                refresh_at: refresh_at(now, parsed.expires_in.unwrap_or(3600)),
            })
        }
        429 | 500..=599 => Err(Outcome::Retry {
            after: reply.retry_after(now),
            status: Some(reply.status),
            detail: refused(&format!("answered {}", reply.status)),
        }),
        status => Err(Outcome::Failed {
            status: Some(status),
            detail: refused(&format!("refused ({status})")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, RETRY_AFTER};

    use super::*;
    use crate::delivery::fcm::service_account::parse_service_account;
    use crate::delivery::jwt::tests::{decode_part, test_service_account_json};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    #[test]
    fn the_assertion_claims_what_google_requires() {
        let account = parse_service_account(test_service_account_json()).unwrap();
        let now = at("2025-03-01T12:00:00Z");
        let token = assertion(&account, now).unwrap();
        assert_eq!(
            decode_part(&token, 0),
            json!({"alg": "RS256", "typ": "JWT"})
        );
        let claims = decode_part(&token, 1);
        assert_eq!(claims["iss"], account.client_email.as_str());
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["iat"], now.timestamp());
        assert_eq!(claims["exp"], now.timestamp() + 3600);
    }

    #[test]
    fn tokens_are_replaced_shortly_before_they_end() {
        let now = at("2025-03-01T12:00:00Z");
        assert_eq!(refresh_at(now, 3600), at("2025-03-01T12:55:00Z"));
        assert_eq!(refresh_at(now, 120), at("2025-03-01T12:01:00Z"));
        assert_eq!(refresh_at(now, 0), now);
        let token = AccessToken {
            value: "t".into(),
            refresh_at: refresh_at(now, 3600),
        };
        assert!(token.is_usable(at("2025-03-01T12:54:59Z")));
        assert!(!token.is_usable(at("2025-03-01T12:55:00Z")));
    }

    #[test]
    fn reads_a_token_response() {
        let now = at("2025-03-01T12:00:00Z");
        let token = token_from_reply(
            &reply(
                200,
                r#"{"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(token.value, "ya29.abc");
        assert_eq!(token.refresh_at, now + TimeDelta::seconds(3599 - 300));
    }

    #[test]
    fn bad_token_responses_fail_or_retry_by_status() {
        let now = at("2025-03-01T12:00:00Z");
        for body in [
            "{}",
            "not json",
            r#"{"access_token":""}"#,
            r#"{"access_token":"a b"}"#,
            r#"{"access_token":"x","token_type":"MAC"}"#,
        ] {
            assert!(
                matches!(
                    token_from_reply(&reply(200, body), now),
                    Err(Outcome::Failed { status: None, .. })
                ),
                "{body}"
            );
        }
        let refused =
            token_from_reply(&reply(400, r#"{"error":"invalid_grant"}"#), now).unwrap_err();
        match refused {
            Outcome::Failed { status, detail } => {
                assert_eq!(status, Some(400));
                assert!(detail.contains("invalid_grant"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "9".parse().unwrap());
        let busy = Reply {
            status: 503,
            headers,
            body: String::new(),
        };
        assert_eq!(
            token_from_reply(&busy, now).unwrap_err(),
            Outcome::Retry {
                after: Some(std::time::Duration::from_secs(9)),
                status: Some(503),
                detail: "FCM OAuth token request answered 503".into(),
            }
        );
    }

    #[test]
    fn the_answers_own_text_is_cut_in_a_refusal() {
        // A token type or an unreadable field is the endpoint's text, up to the whole
        // 64 KiB body read: the attempt keeps a cut of it.
        let now = at("2026-06-01T12:00:00Z");
        let long = "T".repeat(5_000);
        for body in [
            format!(r#"{{"access_token":"ya29.x","token_type":"{long}"}}"#),
            format!(r#"{{"access_token":"ya29.x","expires_in":"{long}"}}"#),
        ] {
            match token_from_reply(&reply(200, &body), now) {
                Err(Outcome::Failed { detail, .. }) => {
                    assert!(detail.contains("TTTT"), "{detail}");
                    assert!(detail.len() < 300, "{detail}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
