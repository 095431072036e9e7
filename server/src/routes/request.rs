//! Reading requests: bodies within their size and time limits, JSON bodies, path ids
//! and the evaluation instant, with every refusal in the API's JSON error shape (axum's
//! own rejections are plain text).

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use beckon::text::quote;
use chrono::{DateTime, Datelike, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use crate::app::AppState;
use crate::error::ApiError;
use crate::metrics::PhaseLabel;

/// The body as JSON, refused past `limit` bytes or when it arrives too slowly.
pub async fn json_body(state: &AppState, body: Body, limit: usize) -> Result<Value, ApiError> {
    let bytes = read_limited(state, body, limit, || {
        ApiError::payload_too_large(format!("the body is over {limit} bytes"))
    })
    .await?;
    json_from(&bytes)
}

/// A body read whole, as JSON.
pub fn json_from(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))
}

/// The whole body, refused with `too_large` past `limit` bytes, and with 408 when it
/// takes longer than the body timeout in total: a body trickling in byte by byte
/// cannot hold a request open.
pub async fn read_limited(
    state: &AppState,
    body: Body,
    limit: usize,
    too_large: impl FnOnce() -> ApiError,
) -> Result<Bytes, ApiError> {
    let timeout = state.body_timeout();
    let Ok(read) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        let phase = PhaseLabel { phase: "body" };
        state
            .metrics()
            .connections_timed_out
            .get_or_create(&phase)
            .inc();
        return Err(ApiError::request_timeout(format!(
            "the request body did not arrive within {timeout:?}"
        )));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(too_large()),
        Err(err) => Err(ApiError::bad_request(format!(
            "could not read the request body: {err}"
        ))),
    }
}

/// The `{id}` of the route.
pub fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|err| ApiError::bad_request(err.body_text()))
}

/// The body's id must be the one in the path: a PUT never renames.
pub fn same_id(path_id: &str, body_id: &str) -> Result<(), ApiError> {
    if path_id == body_id {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "id: {body_id:?} in the body does not match {path_id:?} in the path"
    )))
}

/// The `at` query parameter: the instant segments are evaluated at, now by default.
pub fn evaluation_instant(at: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    let Some(text) = at else {
        return Ok(Utc::now());
    };
    let instant = DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|err| {
            ApiError::bad_request(format!(
                "at: {} is not an RFC 3339 time ({err})",
                quote(text)
            ))
        })?;
    // An offset moves a time early in year 0000 or late in 9999 out of RFC 3339's
    // years once in UTC: the answer's `evaluated_at` would then be a time this very
    // parameter refuses.
    if !(0..=9999).contains(&instant.year()) {
        return Err(ApiError::bad_request(format!(
            "at: {} is outside the years 0000 to 9999 in UTC",
            quote(text)
        )));
    }
    Ok(instant)
}

pub fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(&err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_is_an_rfc_3339_time_that_writes_back_as_one() {
        let at = evaluation_instant(Some("2026-11-21T10:00:00+09:00")).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-21T01:00:00+00:00");
        for far in ["0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-00:01"] {
            let err = evaluation_instant(Some(far)).unwrap_err();
            assert_eq!(err.status, 400, "{far}");
            assert!(err.message.contains("0000 to 9999"), "{}", err.message);
        }
        for edge in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"] {
            let at = evaluation_instant(Some(edge)).unwrap();
            assert_eq!(evaluation_instant(Some(&at.to_rfc3339())).unwrap(), at);
        }
    }

    #[test]
    fn a_refused_at_is_quoted_cut() {
        let long = format!("2026-11-21T10:00:00Z{}", "x".repeat(5_000));
        let err = evaluation_instant(Some(&long)).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.len() < 300, "{}", err.message);
        assert!(
            err.message.starts_with("at: \"2026-11-21T10:00:00Zxxx"),
            "{}",
            err.message
        );
    }
}
