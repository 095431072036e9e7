//! The push providers' answers as the server reads them
//! (`server/src/delivery/*/response.rs`: FCM HTTP v1, APNs, the messaging webhook) and
//! the `Retry-After` header (`beckon::common::retry::parse_retry_after`, which the SDK's
//! uploads and the server's deliveries share).
//!
//! The first byte picks what is read:
//!
//! - `0`, `1`, `2`: an FCM, APNs or webhook answer written as HTTP writes it: the
//!   status on the first line, then `Name: value` header lines, an empty line and the
//!   body (`503\nRetry-After: 17\n\n{"error": …}`), so real answers are seeds as they
//!   are;
//! - `3`: a `Retry-After` value (up to the first NUL), then bytes for two instants it is
//!   read at;
//! - `4`: an instant drawn from the bytes, written as an HTTP date (IMF-fixdate), then
//!   read at another;
//! - `5`: the FCM OAuth token endpoint's answer (`delivery/fcm/oauth.rs`), written as
//!   HTTP writes it.
//!
//! Checked: an answer is exactly one of delivered, retry, permanent failure (the token
//! gone, or the message refused) or stale credentials, and which one agrees with its
//! status the way each provider documents it (2xx delivered, 429 and 5xx retried, the
//! provider's own codes for a dead token); a retry waits what its `Retry-After` says,
//! and the wait a delivery then takes stays within the retry cap; the detail kept with
//! an attempt names the provider and status and stays short whatever the body. A
//! `Retry-After` in seconds is read as exactly those seconds at any instant; a date is
//! read as the time left until it, never less than zero, and read later it is that
//! much less; an HTTP date is always read. A token answer is a usable token only on a
//! 200, to be replaced after now and within a year; otherwise it is a retry exactly on
//! 429 and 5xx, and its detail stays short too.

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use beckon::common::retry::parse_retry_after;
use beckon_server::delivery::{DeliveryRetry, Outcome};
use beckon_server::fuzzing::{fcm_token_answer, provider_answer, Answer, Provider};
use chrono::{DateTime, TimeDelta, Utc};

use crate::gen;
use crate::http::split_answer;

/// The longest detail an attempt keeps: the provider, the status and its code, then at
/// most 300 characters of what the provider said, and the ellipsis.
const MAX_DETAIL_CHARS: usize = 400;

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => answer(Provider::Fcm, rest),
        1 => answer(Provider::Apns, rest),
        2 => answer(Provider::Webhook, rest),
        3 => {
            let (value, rest) = gen::split(rest);
            let _ = retry_after(&value, &mut Unstructured::new(rest));
        }
        4 => {
            let _ = http_date(&mut Unstructured::new(rest));
        }
        _ => token_answer(rest),
    }
}

fn token_answer(data: &[u8]) {
    let Some((status, headers, body)) = split_answer(data) else {
        return;
    };
    let now = gen::now();
    match fcm_token_answer(status, &headers, body, now) {
        Ok((length, refresh_at)) => {
            assert_eq!(status, 200);
            assert!(length > 0);
            assert!(refresh_at > now, "replaced at {refresh_at}, got at {now}");
            assert!(refresh_at <= now + TimeDelta::days(365), "{refresh_at}");
        }
        Err(outcome) => {
            let (retried, detail) = match &outcome {
                Outcome::Retry {
                    status: said,
                    after,
                    detail,
                } => {
                    assert_eq!(*said, Some(status));
                    let header = first_header(&headers, b"retry-after");
                    let expected = header
                        .as_deref()
                        .and_then(|value| parse_retry_after(value, now));
                    assert_eq!(*after, expected);
                    (true, detail)
                }
                Outcome::Failed { detail, .. } => (false, detail),
                other => panic!("a token answer read as {other:?}"),
            };
            assert_eq!(
                retried,
                status == 429 || (500..=599).contains(&status),
                "{status}: {outcome:?}"
            );
            assert!(detail.starts_with("FCM OAuth token "), "{detail}");
            assert!(
                detail.chars().count() <= MAX_DETAIL_CHARS,
                "a detail of {} characters kept from a {}-byte body",
                detail.chars().count(),
                body.len()
            );
        }
    }
}

fn answer(provider: Provider, data: &[u8]) {
    let Some((status, headers, body)) = split_answer(data) else {
        return;
    };
    let now = gen::now();
    let answer = provider_answer(provider, status, &headers, body, now);
    let retry_after_header = first_header(&headers, b"retry-after");
    let success = match provider {
        Provider::Apns => status == 200,
        _ => (200..300).contains(&status),
    };
    let retried = status == 429
        || (500..=599).contains(&status)
        || (provider == Provider::Webhook && status == 408);
    let name = match provider {
        Provider::Fcm => "FCM",
        Provider::Apns => "APNs",
        Provider::Webhook => "webhook",
    };
    let detail = match &answer {
        Answer::Done(Outcome::Delivered { provider_id }) => {
            assert!(success, "{name} {status} delivered");
            if provider == Provider::Webhook {
                assert!(provider_id.is_some(), "a webhook delivery has an id");
            }
            if provider == Provider::Apns {
                let header = first_header(&headers, b"apns-id");
                assert_eq!(provider_id.as_deref(), header.as_deref(), "the apns-id");
            }
            return;
        }
        Answer::StaleCredentials(detail) => {
            assert!(
                provider != Provider::Webhook,
                "the webhook has no credentials to renew"
            );
            match provider {
                Provider::Fcm => assert_eq!(status, 401),
                _ => assert_eq!(status, 403),
            }
            detail
        }
        Answer::Done(Outcome::Unregistered { detail }) => {
            assert!(!success && !retried, "{name} {status} unregistered");
            match provider {
                Provider::Fcm => assert!(status == 400 || status == 404, "{status}"),
                Provider::Apns => assert!(status == 400 || status == 410, "{status}"),
                Provider::Webhook => assert_eq!(status, 410),
            }
            detail
        }
        Answer::Done(Outcome::Retry {
            after,
            status: said,
            detail,
        }) => {
            assert!(retried, "{name} {status} retried");
            assert_eq!(*said, Some(status));
            let expected = retry_after_header
                .as_deref()
                .and_then(|value| parse_retry_after(value, now));
            assert_eq!(*after, expected, "{retry_after_header:?}");
            let policy = DeliveryRetry::default();
            for failed in [1, 2, policy.max_attempts, u32::MAX] {
                for random in [0.0, 0.5, 0.999] {
                    let wait = policy.delay(failed, *after, random);
                    assert!(wait <= policy.timing.cap, "{wait:?} after {after:?}");
                }
            }
            detail
        }
        Answer::Done(Outcome::Failed {
            status: said,
            detail,
        }) => {
            assert!(!success && !retried, "{name} {status} failed");
            assert!(
                provider != Provider::Fcm || status != 401,
                "FCM 401 renews the token"
            );
            assert_eq!(*said, Some(status));
            detail
        }
    };
    assert!(
        detail.starts_with(&format!("{name} {status}")),
        "the detail names the provider and status: {detail:?}"
    );
    assert!(
        detail.chars().count() <= MAX_DETAIL_CHARS,
        "a detail of {} characters kept from a {}-byte body",
        detail.chars().count(),
        body.len()
    );
}

/// The first value of header `name` as the client reads it (`HeaderMap::get`, then
/// `to_str`): among the values HTTP can carry (no control character but tab), the
/// first, as text when it is visible ASCII, spaces and tabs.
fn first_header(headers: &[(&[u8], &[u8])], name: &[u8]) -> Option<String> {
    let (_, value) = headers.iter().find(|(header, value)| {
        header.eq_ignore_ascii_case(name)
            && value.iter().all(|&b| b == b'\t' || (b >= 32 && b != 127))
    })?;
    value
        .iter()
        .all(|&b| b == b'\t' || (32..127).contains(&b))
        .then(|| String::from_utf8_lossy(value).into_owned())
}

/// An instant near [`gen::now`], or anywhere from 1970 to 9999.
fn instant(u: &mut Unstructured) -> Result<DateTime<Utc>> {
    let seconds = if u.ratio(1, 4)? {
        u.int_in_range(0..=253_402_300_799i64)?
    } else {
        gen::now().timestamp() + i64::from(u.int_in_range(-100_000..=100_000i32)?)
    };
    let nanos = if u.ratio(1, 4)? {
        u.int_in_range(0..=999_999_999u32)?
    } else {
        0
    };
    Ok(DateTime::from_timestamp(seconds, nanos).unwrap_or_else(gen::now))
}

fn retry_after(value: &str, u: &mut Unstructured) -> Result<()> {
    let first = instant(u)?;
    let later = first + TimeDelta::milliseconds(i64::from(u.int_in_range(0..=u32::MAX)?));
    let at_first = parse_retry_after(value, first);
    let at_later = parse_retry_after(value, later);
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(seconds) = trimmed.parse::<u64>() {
            assert_eq!(at_first, Some(Duration::from_secs(seconds)), "{value:?}");
            assert_eq!(at_later, at_first, "{value:?}: seconds do not age");
        }
        return Ok(());
    }
    match (at_first, at_later) {
        (None, None) => {}
        (Some(first_wait), Some(later_wait)) => {
            if trimmed.parse::<u64>().is_ok() {
                assert_eq!(first_wait, later_wait, "{value:?}");
                return Ok(());
            }
            // A date: the wait is the time left until it, and a later reading waits
            // that much less, never below zero.
            let elapsed = (later - first).to_std().expect("later is not earlier");
            assert_eq!(
                later_wait,
                first_wait.saturating_sub(elapsed),
                "{value:?} at {first} then {later}"
            );
        }
        other => panic!("{value:?} read at one instant and not another: {other:?}"),
    }
    Ok(())
}

fn http_date(u: &mut Unstructured) -> Result<()> {
    let date = instant(u)?;
    let date = DateTime::from_timestamp(date.timestamp(), 0).expect("in range");
    let now = instant(u)?;
    let value = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let padded = if u.arbitrary()? {
        format!("  {value} ")
    } else {
        value.clone()
    };
    let expected = (date - now).to_std().unwrap_or(Duration::ZERO);
    assert_eq!(
        parse_retry_after(&padded, now),
        Some(expected),
        "{padded:?} at {now}"
    );
    Ok(())
}
