//! `GET /v1/permissions`: one user's channel permissions for their device, which applies
//! those made elsewhere (an unsubscribe link, another device) by the same rule as the
//! server: the later change wins.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use beckon::protocol::{
    check_id, IdentityProblem, IdentityRefusal, PermissionsDocument, IDENTITY_TOKEN_HEADER,
};
use chrono::Utc;
use serde::Deserialize;

use super::verify::{check_random_id, refuse, verify_users};
use crate::app::AppState;
use crate::auth::AppKey;
use crate::error::ApiError;
use crate::identity::Enforcement;
use crate::store::KeyKind;

#[derive(Deserialize)]
pub struct PermissionsQuery {
    user_id: Option<String>,
    anonymous_id: Option<String>,
}

/// The user is the `user_id` when given, else the `anonymous_id` (as events are keyed).
/// A user the server knows nothing of has no permissions set: an empty list.
///
/// With identities verified for the app key, a `user_id` needs the user's token in
/// [`IDENTITY_TOKEN_HEADER`], and an `anonymous_id` must be a UUID that is not a user's
/// id.
pub async fn permissions(
    State(state): State<AppState>,
    Extension(AppKey(app_key)): Extension<AppKey>,
    headers: HeaderMap,
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
    if field == "user_id" {
        let token = headers
            .get(IDENTITY_TOKEN_HEADER)
            .and_then(|value| value.to_str().ok());
        let users = BTreeMap::from([(user_key.as_str(), 0)]);
        verify_users(&state, &app_key, &users, |_| token, Utc::now())?;
    } else if state.identities().enforcement(&app_key) == Enforcement::Required {
        check_anonymous_key(&state, &app_key, &user_key).await?;
    }
    let permissions = state.store().permissions(user_key.clone()).await?;
    let document = PermissionsDocument {
        user_key,
        permissions,
    };
    // Consent must never be served stale from a cache.
    Ok(([(CACHE_CONTROL, "no-store")], Json(document)).into_response())
}

/// Asked for by anonymous id with identities required: the id must be what the SDK
/// makes (a UUID) and must not be a user's, whose permissions need the user's token.
async fn check_anonymous_key(state: &AppState, app_key: &str, key: &str) -> Result<(), ApiError> {
    check_random_id(key).map_err(ApiError::bad_request)?;
    if state.store().key_kind(key.to_string()).await? == Some(KeyKind::User) {
        let refusal = IdentityRefusal {
            user_id: key.to_string(),
            problem: IdentityProblem::Missing,
        };
        return Err(refuse(state, app_key, vec![refusal]));
    }
    Ok(())
}
