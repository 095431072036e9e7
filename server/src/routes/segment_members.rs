//! `GET /v1/admin/segments/{id}/size` and `.../members`: who is in a segment, by the
//! server's evaluation of the stored events and by what devices reported.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use beckon::text::quote;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::{evaluation_instant, path_id};
use super::segments::SEGMENTS_PATH;
use crate::app::AppState;
use crate::catalog::segments::evaluation_set;
use crate::error::ApiError;
use crate::evaluate::{explain_member, server_members};

/// The routes, to be put behind the admin credentials.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{SEGMENTS_PATH}/{{id}}/size"), get(size))
        .route(&format!("{SEGMENTS_PATH}/{{id}}/members"), get(members))
        .route(&format!("{SEGMENTS_PATH}/{{id}}/explain"), get(explain))
}

#[derive(Deserialize)]
struct SizeQuery {
    at: Option<String>,
}

#[derive(Deserialize)]
struct MembersQuery {
    source: Option<String>,
    at: Option<String>,
}

async fn size(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<SizeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let now = evaluation_instant(query.at.as_deref())?;
    let server = evaluate(&state, &id, now).await?;
    let device = state.store().device_members(id.clone()).await?;
    Ok(Json(json!({
        "segment_id": id,
        "server_members": server.len(),
        "device_members": device.len(),
        "evaluated_at": now,
    })))
}

async fn members(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<MembersQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let now = evaluation_instant(query.at.as_deref())?;
    let source = member_source(query.source.as_deref())?;
    let members = match source {
        MemberSource::Server => evaluate(&state, &id, now).await?,
        MemberSource::Device => {
            // The same checks as for the server's answer: unknown and archived
            // segments are refused alike whatever the source.
            let catalog = state.store().catalog().await?;
            evaluation_set(&catalog, &id)?;
            state.store().device_members(id.clone()).await?
        }
    };
    Ok(Json(json!({
        "segment_id": id,
        "source": source.as_str(),
        "members": members,
        "evaluated_at": now,
    })))
}

/// Whose view of a segment's members `members` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberSource {
    /// The server's evaluation of the stored events (the default).
    Server,
    /// What devices reported.
    Device,
}

impl MemberSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MemberSource::Server => "server",
            MemberSource::Device => "device",
        }
    }
}

/// The `source` query parameter of `members`.
pub(crate) fn member_source(source: Option<&str>) -> Result<MemberSource, ApiError> {
    match source.unwrap_or("server") {
        "server" => Ok(MemberSource::Server),
        "device" => Ok(MemberSource::Device),
        other => Err(ApiError::bad_request(format!(
            "source must be \"server\" or \"device\", got {}",
            quote(other)
        ))),
    }
}

#[derive(Deserialize)]
struct ExplainQuery {
    user: Option<String>,
    at: Option<String>,
}

/// Which clauses put a user in the segment or kept them out, by the shared engine.
async fn explain(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ExplainQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let now = evaluation_instant(query.at.as_deref())?;
    let user = query
        .user
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("user is required: a user id or anonymous id"))?;
    let catalog = state.store().catalog().await?;
    let set = evaluation_set(&catalog, &id)?;
    let explanation = explain_member(state.store(), set, &id, &user, now)
        .await?
        .ok_or_else(|| ApiError::missing(format!("no events of user {user:?}")))?;
    Ok(Json(json!({
        "segment_id": id,
        "user": user,
        "member": explanation.matched,
        "because": explanation.to_string(),
        "clauses": explanation.clauses.iter().map(|c| json!({
            "path": c.path,
            "holds": c.holds,
            "sentence": c.sentence,
        })).collect::<Vec<_>>(),
        "evaluated_at": now,
    })))
}

async fn evaluate(state: &AppState, id: &str, now: DateTime<Utc>) -> Result<Vec<String>, ApiError> {
    let catalog = state.store().catalog().await?;
    let set = evaluation_set(&catalog, id)?;
    Ok(server_members(state.store(), set, id, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_the_server_by_default_and_a_wrong_one_is_quoted_cut() {
        assert_eq!(member_source(None).unwrap(), MemberSource::Server);
        assert_eq!(member_source(Some("device")).unwrap(), MemberSource::Device);
        let err = member_source(Some(&"d".repeat(5_000))).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.len() < 200, "{}", err.message);
    }
}
