//! `/v1/admin/users/{user_key}`: what the server knows of one user (profile, channel
//! permissions and their history, devices and push tokens, reported segments), and
//! server-side permission changes such as an unsubscribe link's.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use beckon::consent::{Channel, Permission, PermissionState};
use beckon::protocol::check_id;
use beckon::text::clip_quoted_spans;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::request::{internal, json_body};
use crate::app::AppState;
use crate::error::ApiError;

pub const USERS_PATH: &str = "/v1/admin/users";

/// The source of a change made through this API without naming one.
pub const DEFAULT_SERVER_SOURCE: &str = "server";

/// A permission change body is two short strings.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024;

/// The routes, to be put behind the admin credentials.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{USERS_PATH}/{{user_key}}"), get(user))
        .route(
            &format!("{USERS_PATH}/{{user_key}}/permissions/history"),
            get(history),
        )
        .route(
            &format!("{USERS_PATH}/{{user_key}}/permissions/{{channel}}"),
            put(set_permission),
        )
}

/// `reachable` says, per channel, whether a send could reach the user now, by the
/// same rule the send pipeline applies.
async fn user(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let user_key = user_key(path.map(|Path(key)| key))?;
    let store = state.store();
    let audience = store
        .audiences(vec![user_key.clone()])
        .await?
        .pop()
        .ok_or_else(|| internal("no audience read for one user key"))?;
    let devices = store.devices(user_key.clone()).await?;
    if audience.profile.is_none() && audience.permissions.is_empty() && devices.is_empty() {
        return Err(unknown_user(&user_key));
    }
    let segments = store.device_segments(user_key.clone()).await?;
    let reachable: Map<String, Value> = Channel::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), audience.can_receive(*c).into()))
        .collect();
    Ok(Json(json!({
        "user_key": user_key,
        "profile": audience.profile,
        "permissions": audience.permissions,
        "reachable": reachable,
        "devices": devices,
        "segments": segments,
    })))
}

async fn history(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let user_key = user_key(path.map(|Path(key)| key))?;
    let history = state.store().permission_history(user_key.clone()).await?;
    if history.is_empty() {
        let profile = state.store().profile(user_key.clone()).await?;
        if profile.is_none() {
            return Err(unknown_user(&user_key));
        }
    }
    Ok(Json(json!({"user_key": user_key, "history": history})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionBody {
    state: String,
    source: Option<String>,
}

/// Stamped with the server's time, so it wins over every change made before it; the
/// user's devices pick it up from `GET /v1/permissions`. Permissions may be set for a
/// user no event has named yet (consent given on a web form before the app ran).
async fn set_permission(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Path((user_key, channel)) = path.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let channel = permission_path(&user_key, &channel)?;
    let body = json_body(&state, body, MAX_BODY_BYTES).await?;
    let change = permission_change(channel, body, Utc::now())?;
    let store = state.store();
    let applied = store.set_permission(user_key.clone(), change).await?;
    let current = store
        .permissions(user_key.clone())
        .await?
        .into_iter()
        .find(|p| p.channel == channel);
    Ok(Json(json!({
        "user_key": user_key,
        "applied": applied,
        "permission": current,
    })))
}

/// The user and channel of `PUT .../{user_key}/permissions/{channel}`, checked.
pub(crate) fn permission_path(user_key: &str, channel: &str) -> Result<Channel, ApiError> {
    check_id("user_key", user_key).map_err(|err| ApiError::bad_request(err.to_string()))?;
    channel
        .parse()
        .map_err(|err| ApiError::bad_request(format!("{err}")))
}

/// The change a permission body (`{"state": …, "source": …}`, already read as JSON)
/// makes to `channel`, stamped `now`.
pub(crate) fn permission_change(
    channel: Channel,
    body: Value,
    now: DateTime<Utc>,
) -> Result<Permission, ApiError> {
    // serde quotes what it did not expect (an unknown field's name) whole.
    let body: PermissionBody = serde_json::from_value(body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a permission: {}",
            clip_quoted_spans(&err.to_string())
        ))
    })?;
    let state_name: PermissionState = body
        .state
        .parse()
        .map_err(|err| ApiError::bad_request(format!("state: {err}")))?;
    let source = body
        .source
        .unwrap_or_else(|| DEFAULT_SERVER_SOURCE.to_string());
    check_id("source", &source).map_err(|err| ApiError::bad_request(err.to_string()))?;
    Ok(Permission {
        channel,
        state: state_name,
        source,
        updated_at: now,
    })
}

fn user_key(path: Result<String, PathRejection>) -> Result<String, ApiError> {
    let key = path.map_err(|err| ApiError::bad_request(err.body_text()))?;
    check_id("user_key", &key).map_err(|err| ApiError::bad_request(err.to_string()))?;
    Ok(key)
}

fn unknown_user(user_key: &str) -> ApiError {
    ApiError::missing(format!(
        "no user {user_key:?}: no event, permission or device names it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(body: Value) -> Result<Permission, ApiError> {
        permission_change(Channel::Email, body, Utc::now())
    }

    #[test]
    fn a_permission_body_is_a_state_and_maybe_a_source() {
        let now = Utc::now();
        let change = permission_change(
            permission_path("alice", "email").unwrap(),
            json!({"state": "unsubscribed", "source": "unsubscribe_link"}),
            now,
        )
        .unwrap();
        assert_eq!(change.channel, Channel::Email);
        assert_eq!(change.state, PermissionState::Unsubscribed);
        assert_eq!(change.source, "unsubscribe_link");
        assert_eq!(change.updated_at, now);
        let change = super::tests::change(json!({"state": "opted_in"})).unwrap();
        assert_eq!(change.source, DEFAULT_SERVER_SOURCE);
        assert_eq!(permission_path("alice", "fax").unwrap_err().status, 400);
    }

    #[test]
    fn an_unknown_field_is_named_cut() {
        let field = "k".repeat(3_000);
        let err = change(json!({"state": "opted_in", field.as_str(): 1})).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains("unknown field `kkk"),
            "{}",
            err.message
        );
        assert!(err.message.len() < 400, "{}", err.message);
    }
}
