//! Reading admin requests: JSON bodies, path ids and the evaluation instant, with every
//! refusal in the API's JSON error shape (axum's own rejections are plain text).

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use crate::error::ApiError;

/// The body as JSON, refused past `limit` bytes.
pub async fn json_body(body: Body, limit: usize) -> Result<Value, ApiError> {
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => {
            return Err(ApiError::payload_too_large(format!(
                "the body is over {limit} bytes"
            )))
        }
        Err(err) => {
            return Err(ApiError::bad_request(format!(
                "could not read the request body: {err}"
            )))
        }
    };
    serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))
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
    match at {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .map_err(|err| {
                ApiError::bad_request(format!("at: {text:?} is not an RFC 3339 time ({err})"))
            }),
    }
}

pub fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(&err)
}
