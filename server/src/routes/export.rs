//! `GET /v1/events`: the admin events export, NDJSON pages behind a cursor.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use beckon::protocol::{ExportedEvent, NEXT_CURSOR_HEADER};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::paging::{parse_limit, Cursor};

/// Bounds a page's memory: at the 32 KB event limit, 10,000 events would be 320 MB. A
/// page may therefore hold fewer than `limit` events; the cursor says where to go on.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Deserialize)]
pub struct ExportQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let cursor = match query.cursor.as_deref() {
        None => Cursor::default(),
        Some(text) => Cursor::parse(text).map_err(ApiError::bad_request)?,
    };
    let limit = parse_limit(query.limit.as_deref()).map_err(ApiError::bad_request)?;

    let page = state.store().page(cursor.0, limit, PAGE_BYTES).await?;
    // At the end of the log the cursor stays put, so clients can keep polling with it.
    let next = page.last_seq.map_or(cursor, Cursor);
    let body = tokio::task::spawn_blocking(move || ndjson(&page.events))
        .await
        .map_err(|err| ApiError::internal(&err))?
        .map_err(|err| ApiError::internal(&err))?;

    Ok((
        [
            (CONTENT_TYPE, "application/x-ndjson".to_string()),
            (CACHE_CONTROL, "no-store".to_string()),
        ],
        [(NEXT_CURSOR_HEADER, next.to_string())],
        body,
    )
        .into_response())
}

fn ndjson(events: &[ExportedEvent]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(events.len() * 512);
    for event in events {
        serde_json::to_writer(&mut out, event)?;
        out.push(b'\n');
    }
    Ok(out)
}
