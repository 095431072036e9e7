//! `/v1/admin/sends`: create a send (checked in full, every problem reported), read its
//! status and counters, page through its deliveries with their attempts, cancel it.
//! The send runner (`crate::dispatch`) does the rest in the background.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use beckon::common::FieldError;
use beckon::text::quote;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::{internal, path_id};
use crate::app::AppState;
use crate::dispatch::CatalogDefinitions;
use crate::error::ApiError;
use crate::paging::{parse_limit, Cursor};
use crate::sends::{Send, SendError, MAX_SEND_BYTES};
use crate::store::{DeliveryStatus, NewSend, SendRecord, SendStatus};

pub const SENDS_PATH: &str = "/v1/admin/sends";

/// The routes, to be put behind the admin credentials.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SENDS_PATH, post(create))
        .route(&format!("{SENDS_PATH}/{{id}}"), get(read))
        .route(&format!("{SENDS_PATH}/{{id}}/deliveries"), get(deliveries))
        .route(&format!("{SENDS_PATH}/{{id}}/cancel"), post(cancel))
}

/// A refused request: the API's error shape, with every problem and its path in
/// `fields` as well as in the message.
struct Refused(SendError);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let fields: Vec<Value> = self
            .0
            .errors()
            .iter()
            .map(|FieldError { field, problem }| json!({"field": field, "problem": problem}))
            .collect();
        let body = json!({"error": {
            "code": "bad_request",
            "message": self.0.to_string(),
            "fields": fields,
        }});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

async fn create(State(state): State<AppState>, body: Body) -> Result<Response, Response> {
    let text = body_text(body).await.map_err(IntoResponse::into_response)?;
    let store = state.store();
    let catalog = store
        .catalog()
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    let now = state.sends().now();
    let send = Send::parse(&text, &CatalogDefinitions(&catalog), now)
        .map_err(|err| Refused(err).into_response())?;
    let request: Value = serde_json::from_str(&text)
        .map_err(|err| internal(format!("an accepted send is not JSON: {err}")).into_response())?;
    let id = uuid::Uuid::now_v7().to_string();
    store
        .create_send(NewSend {
            id: id.clone(),
            request,
            created_at: now,
            campaign_id: send.campaign_id().map(str::to_owned),
            collapse_id: send.collapse_id().map(str::to_owned),
            promo: send.promo().cloned(),
        })
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    state.sends().send_stored();
    let location = format!("{SENDS_PATH}/{id}");
    let mut response = (
        StatusCode::CREATED,
        Json(json!({"id": id, "status": SendStatus::Scheduled, "created_at": now})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The body as text, refused past [`MAX_SEND_BYTES`].
async fn body_text(body: Body) -> Result<String, ApiError> {
    let bytes = match Limited::new(body, MAX_SEND_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => {
            return Err(ApiError::payload_too_large(format!(
                "the body is over {MAX_SEND_BYTES} bytes"
            )))
        }
        Err(err) => {
            return Err(ApiError::bad_request(format!(
                "could not read the request body: {err}"
            )))
        }
    };
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))
}

async fn read(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let send = stored(&state, &id).await?;
    Ok(Json(view(&send)))
}

async fn cancel(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let send = state
        .store()
        .cancel_send(id.clone(), state.sends().now())
        .await?
        .ok_or_else(|| unknown(&id))?;
    if send.status == SendStatus::Done {
        return Err(ApiError::conflict(format!(
            "send {id:?} is done: every delivery has its outcome"
        )));
    }
    Ok(Json(view(&send)))
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    cursor: Option<String>,
    limit: Option<String>,
    status: Option<String>,
}

async fn deliveries(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(path)?;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let (after, limit, status) = deliveries_query(
        query.cursor.as_deref(),
        query.limit.as_deref(),
        query.status.as_deref(),
    )?;
    stored(&state, &id).await?;
    let page = state
        .store()
        .deliveries(id.clone(), after as i64, limit, status)
        .await?;
    // A full page may have more after it; a shorter one is the end.
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|d| Cursor(d.id as u64).to_string()))
        .flatten();
    Ok(Json(json!({
        "send_id": id,
        "deliveries": page,
        "next_cursor": next_cursor,
    })))
}

/// The deliveries page asked for: after which delivery, how many, and of which status.
pub(crate) fn deliveries_query(
    cursor: Option<&str>,
    limit: Option<&str>,
    status: Option<&str>,
) -> Result<(u64, usize, Option<DeliveryStatus>), ApiError> {
    let after = match cursor {
        Some(text) => Cursor::parse(text).map_err(ApiError::bad_request)?.0,
        None => 0,
    };
    let limit = parse_limit(limit).map_err(ApiError::bad_request)?;
    let status = match status {
        Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
            let known: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "status must be one of {}, got {}",
                known.join(", "),
                quote(text)
            ))
        })?),
        None => None,
    };
    Ok((after, limit, status))
}

async fn stored(state: &AppState, id: &str) -> Result<SendRecord, ApiError> {
    state
        .store()
        .send(id.to_owned())
        .await?
        .ok_or_else(|| unknown(id))
}

fn unknown(id: &str) -> ApiError {
    ApiError::missing(format!("send {id:?} does not exist"))
}

fn view(send: &SendRecord) -> Value {
    let c = &send.counts;
    json!({
        "id": send.id,
        "status": send.status,
        "created_at": send.created_at,
        "planned_at": send.planned_at,
        "finished_at": send.finished_at,
        "error": send.error,
        "campaign_id": send.campaign_id,
        "counts": {
            "users": c.users,
            "deliveries": c.deliveries(),
            "pending": c.pending,
            "delivered": c.delivered,
            "skipped": c.skipped,
            "expired": c.expired,
            "failed": c.failed,
            "unregistered": c.unregistered,
        },
        "request": send.request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deliveries_query_reads_cursor_limit_and_status() {
        assert_eq!(
            deliveries_query(Some("17"), Some("100"), Some("failed")).unwrap(),
            (17, 100, Some(DeliveryStatus::Failed))
        );
        assert_eq!(deliveries_query(None, None, None).unwrap(), (0, 1000, None));
        assert_eq!(
            deliveries_query(Some("017"), None, None)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn an_unknown_status_is_quoted_cut() {
        let err = deliveries_query(None, None, Some(&"f".repeat(5_000))).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.starts_with("status must be one of pending, "),
            "{}",
            err.message
        );
        assert!(err.message.len() < 300, "{}", err.message);
    }
}
