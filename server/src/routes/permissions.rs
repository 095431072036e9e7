//! `GET /v1/permissions`: one user's channel permissions for their device, which applies
//! those made elsewhere (an unsubscribe link, another device) by the same rule as the
//! server: the later change wins.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::Json;
use beckon::protocol::{check_id, PermissionsDocument};
use serde::Deserialize;

use super::request::internal;
use crate::app::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct PermissionsQuery {
    user_id: Option<String>,
    anonymous_id: Option<String>,
}

/// The user is the `user_id` when given, else the `anonymous_id` (as events are keyed).
/// A user the server knows nothing of has no permissions set: an empty list.
pub async fn permissions(
    State(state): State<AppState>,
    query: Result<Query<PermissionsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let (field, user_key) = match (query.user_id, query.anonymous_id) {
        (Some(user_id), _) => ("user_id", user_id),
        (None, Some(anonymous_id)) => ("anonymous_id", anonymous_id),
        (None, None) => {
            return Err(ApiError::bad_request(
                "user_id or anonymous_id is required in the query",
            ))
        }
    };
    check_id(field, &user_key).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let permissions = state
        .store()
        .permissions(user_key.clone())
        .await
        .map_err(internal)?;
    let document = PermissionsDocument {
        user_key,
        permissions,
    };
    // Consent must never be served stale from a cache.
    Ok(([(CACHE_CONTROL, "no-store")], Json(document)).into_response())
}
