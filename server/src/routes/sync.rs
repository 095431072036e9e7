//! `GET /v1/sync`: the device's conditional download of segments, campaigns and
//! settings.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::request::internal;
use crate::app::AppState;
use crate::error::ApiError;
use crate::{etag, sync_document};

/// Built from the catalog on every request, so a change shows up on the next poll and
/// there is no cache to go stale; the catalog is a handful of small rows.
pub async fn sync(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let catalog = state.store().catalog().await?;
    let rendered = tokio::task::spawn_blocking(move || sync_document::render(&catalog))
        .await
        .map_err(internal)?;
    // no-cache: caches may keep the document but must revalidate it with its ETag.
    let validators = [
        (ETAG, rendered.etag.clone()),
        (CACHE_CONTROL, "no-cache".to_string()),
    ];
    if etag::client_has(&headers, &rendered.etag) {
        return Ok((StatusCode::NOT_MODIFIED, validators).into_response());
    }
    Ok((
        validators,
        [(CONTENT_TYPE, "application/json")],
        rendered.body,
    )
        .into_response())
}
