//! The server's error answers as the SDK reads them (`src/net/transport.rs`,
//! `src/net/identity.rs`): the 401 refusing identity tokens, every other error with its
//! `Retry-After` and the start of its body, and what the upload policy then decides.
//!
//! The first byte picks the answer:
//!
//! - `0`: an answer written as HTTP writes it (`401\nRetry-After: 5\n\n{"error": …}`),
//!   as any server or proxy on the way may send;
//! - `1`: an identity refusal the server itself writes (`ApiError::identity_refused`
//!   through its JSON answer) for users drawn from the bytes: one of a read, or many
//!   of a batch (up to the 500 events a batch holds, ids up to 256 bytes);
//! - `2`: one of the server's other error answers (bad request, too large, timeout,
//!   the damaged database's 503 with its `Retry-After`) with a drawn message.
//!
//! Checked: an answer is an identity refusal exactly when it is a 401 whose body lists
//! users under an identity code, and then it lists those users; what the server writes
//! the device reads back as the same refusals, whether it reads the whole body (uploads)
//! or the first 64 KiB (sync and permissions, which name one user); every other answer
//! keeps its code and `Retry-After`, and at most 300 bytes of its body; the text shown
//! for either (`stats().last_error`) stays short however long the ids and the body;
//! and the upload policy keeps refused events, drops what a client error refused, and
//! waits within its bounds.

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use beckon::common::retry::parse_retry_after;
use beckon::net::policy::{decide, Decision};
use beckon::net::{
    describe_refusals, error_answer, identity_refusals, Outcome, RetryPolicy, TransportError,
};
use beckon::protocol::{
    ErrorAnswer, IdentityProblem, IdentityRefusal, MAX_BATCH_EVENTS, MAX_ID_BYTES,
};
use beckon_server::fuzzing::{error_response, ErrorResponse};
use beckon_server::ApiError;

use crate::gen;
use crate::http;

/// What the transport reads of an error answer for sync and permissions.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// What it keeps of an error body for people.
const MAX_ERROR_DETAIL_BYTES: usize = 300;
/// The longest text a refusal or an error may show, whatever the answer: three users
/// named (each id cut at 80 characters, escaped) and the rest counted, or the status
/// and 300 bytes of body.
const MAX_SHOWN_CHARS: usize = 3_000;

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Some((code, retry_after, body)) = split_answer(rest) {
                read(code, retry_after.as_deref(), body, false);
            }
        }
        1 => {
            let _ = refusal(&mut Unstructured::new(rest));
        }
        _ => {
            let _ = other_error(&mut Unstructured::new(rest));
        }
    }
}

/// An error answer (neither a success nor a 304, as the transport reads them) and its
/// first `Retry-After` that is header text.
fn split_answer(data: &[u8]) -> Option<(u16, Option<String>, &[u8])> {
    let (code, headers, body) = http::split_answer(data)?;
    if (200..300).contains(&code) || code == 304 {
        return None;
    }
    let retry_after = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"retry-after"))
        .map(|(_, value)| *value)
        .find(|value| value.iter().all(|&b| b == b'\t' || (32..127).contains(&b)))
        .map(|value| String::from_utf8_lossy(value).into_owned());
    Some((code, retry_after, body))
}

/// Reads an error answer as the transport does, and checks what it makes of it.
/// `server_refused`: the refusals the server wrote into it, when it did.
fn read(code: u16, retry_after: Option<&str>, body: &[u8], cut: bool) -> TransportError {
    let now = gen::now();
    let wait = retry_after.and_then(|value| parse_retry_after(value, now));
    let body = if cut {
        &body[..body.len().min(MAX_ERROR_BODY_BYTES)]
    } else {
        body
    };
    let error = error_answer(code, wait, body);
    let listed = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|answer| answer.identity_refusals().map(<[_]>::to_vec))
        .filter(|refusals| !refusals.is_empty());
    match &error {
        TransportError::IdentityRefused(refused) => {
            assert_eq!(code, 401, "only a 401 refuses identities");
            assert_eq!(Some(refused), listed.as_ref(), "the users the body lists");
            assert_eq!(identity_refusals(code, body).as_ref(), Some(refused));
            assert_eq!(error.outcome(), Some(Outcome::IdentityRefused));
        }
        TransportError::Status {
            code: kept,
            retry_after: kept_wait,
            detail,
        } => {
            assert!(
                code != 401 || listed.is_none(),
                "a 401 listing users: {listed:?}"
            );
            assert_eq!(*kept, code);
            assert_eq!(*kept_wait, wait);
            assert!(
                detail.len() <= 3 * MAX_ERROR_DETAIL_BYTES,
                "{} bytes",
                detail.len()
            );
            assert!(
                detail.chars().count() <= MAX_ERROR_DETAIL_BYTES,
                "a detail of {} characters",
                detail.chars().count()
            );
            assert_eq!(detail.trim(), detail);
            assert_eq!(
                error.outcome(),
                Some(Outcome::Status {
                    code,
                    retry_after: wait
                })
            );
        }
        other => panic!("an error answer read as {other:?}"),
    }
    let shown = error.to_string();
    assert!(
        shown.chars().count() <= MAX_SHOWN_CHARS,
        "{} characters shown for a {}-byte answer",
        shown.chars().count(),
        body.len()
    );
    decided(&error);
    error
}

/// The upload policy keeps refused events waiting for tokens, drops what a client
/// error refused (but a timeout or throttling), and waits within its bounds.
fn decided(error: &TransportError) {
    let policy = RetryPolicy::default();
    let outcome = error.outcome().expect("an answer can be judged");
    for failures in [0, 1, 7, u32::MAX] {
        for random in [0.0, 0.5, 0.999] {
            let decision = decide(outcome, failures, &policy, random);
            let (code, retry_after) = match outcome {
                Outcome::IdentityRefused => {
                    assert!(
                        matches!(decision, Decision::Retry { delay } if delay <= policy.cap),
                        "{decision:?}"
                    );
                    continue;
                }
                Outcome::Status { code, retry_after } => (code, retry_after),
                Outcome::NetworkError => unreachable!("an answer came"),
            };
            match decision {
                Decision::Delete => panic!("an error answer deletes the batch: {code}"),
                Decision::Drop => assert!(
                    (400..500).contains(&code) && code != 408 && code != 429,
                    "{code} drops the batch"
                ),
                Decision::Retry { delay } => {
                    assert!(!(400..500).contains(&code) || code == 408 || code == 429);
                    match retry_after {
                        Some(wait) => assert_eq!(delay, wait.min(policy.max_retry_after)),
                        None => assert!(delay <= policy.cap, "{delay:?}"),
                    }
                }
            }
        }
    }
}

fn problem(u: &mut Unstructured) -> Result<IdentityProblem> {
    u.choose(&IdentityProblem::ALL).copied()
}

/// A user id the server could have read from a request: 1 to 256 bytes, no control
/// character; drawn, or a stem repeated to a drawn length so that short inputs make
/// long ids.
fn user_id(u: &mut Unstructured, index: usize) -> Result<String> {
    let stem: String = u.arbitrary()?;
    let stem: String = stem.chars().filter(|c| !c.is_control()).collect();
    let stem = if stem.trim().is_empty() {
        "user".to_string()
    } else {
        stem
    };
    let length = u.int_in_range(1..=MAX_ID_BYTES)?;
    let mut id = format!("{index}-");
    while id.len() < length {
        id.push_str(&stem);
    }
    while id.len() > MAX_ID_BYTES {
        id.pop();
    }
    Ok(id)
}

fn refusal(u: &mut Unstructured) -> Result<()> {
    let many = u.arbitrary::<bool>()?;
    let count = if many {
        u.int_in_range(1..=MAX_BATCH_EVENTS)?
    } else {
        1
    };
    let mut refused = Vec::with_capacity(count);
    for index in 0..count {
        refused.push(IdentityRefusal {
            user_id: user_id(u, index)?,
            problem: problem(u)?,
        });
    }
    let ErrorResponse {
        status: code,
        headers,
        body,
    } = error_response(ApiError::identity_refused(refused.clone()));
    assert_eq!(code, 401);
    let retry_after = header(&headers, "retry-after");
    // Uploads read the whole answer; sync and permissions, which name one user, the
    // first 64 KiB.
    let whole = read(code, retry_after.as_deref(), &body, false);
    assert!(
        matches!(&whole, TransportError::IdentityRefused(read) if *read == refused),
        "the device reads {whole:?}"
    );
    if !many {
        let cut = read(code, retry_after.as_deref(), &body, true);
        assert!(
            matches!(&cut, TransportError::IdentityRefused(read) if *read == refused),
            "the device reads {cut:?}"
        );
    }
    let described = describe_refusals(&refused);
    for refusal in refused.iter().take(3) {
        assert!(described.contains(refusal.problem.as_str()));
    }
    Ok(())
}

fn header(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| std::str::from_utf8(value).ok().map(str::to_owned))
}

fn other_error(u: &mut Unstructured) -> Result<()> {
    let message: String = u.arbitrary()?;
    let error = match u.int_in_range(0..=5u8)? {
        0 => ApiError::bad_request(message.clone()),
        1 => ApiError::payload_too_large(message.clone()),
        2 => ApiError::request_timeout(message.clone()),
        3 => ApiError::conflict(message.clone()),
        4 => ApiError::unauthorized(message.clone()),
        _ => ApiError::storage_damaged(),
    };
    let ErrorResponse {
        status: code,
        headers,
        body,
    } = error_response(error);
    let retry_after = header(&headers, "retry-after");
    let read = read(code, retry_after.as_deref(), &body, u.arbitrary()?);
    let TransportError::Status {
        retry_after: wait, ..
    } = read
    else {
        panic!("a {code} without users read as {read:?}");
    };
    if code == 503 {
        assert!(
            wait.is_some_and(|wait| wait > Duration::ZERO),
            "the 503 says when"
        );
    }
    Ok(())
}
