//! The five admin routes every kind of definition has (create, update, list, show,
//! archive), written once over [`DefinitionRoutes`].

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::request::{json_body, path_id, same_id};
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind, Record};

/// One kind of definition: how its JSON is read and which changes are allowed (the
/// rules themselves live in `crate::catalog`).
pub trait DefinitionRoutes: Send + Sync + 'static {
    /// The definition once parsed and checked on its own.
    type Parsed: Send + 'static;
    const KIND: Kind;
    /// The collection: `PATH`, `PATH/{id}`, `PATH/{id}/archive`.
    const PATH: &'static str;
    /// The key of the list in `GET PATH`.
    const LIST_KEY: &'static str;
    const MAX_BODY_BYTES: usize;

    fn parse(body: &Value) -> Result<Self::Parsed, ApiError>;
    fn id(parsed: &Self::Parsed) -> &str;
    fn create(catalog: &Catalog, parsed: &Self::Parsed) -> Result<Draft, ApiError>;
    fn update(catalog: &Catalog, parsed: &Self::Parsed) -> Result<Draft, ApiError>;
    fn archive(catalog: &Catalog, id: &str) -> Result<Draft, ApiError>;
}

/// The routes of `D`, to be put behind the admin credentials.
pub fn routes<D: DefinitionRoutes>() -> Router<AppState> {
    Router::new()
        .route(D::PATH, get(list::<D>).post(create::<D>))
        .route(
            &format!("{}/{{id}}", D::PATH),
            get(show::<D>).put(update::<D>),
        )
        .route(&format!("{}/{{id}}/archive", D::PATH), post(archive::<D>))
}

async fn create<D: DefinitionRoutes>(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, ApiError> {
    let parsed = D::parse(&json_body(&state, body, D::MAX_BODY_BYTES).await?)?;
    let id = D::id(&parsed).to_owned();
    let record = state
        .store()
        .write_definition(D::KIND, id, move |catalog| D::create(catalog, &parsed))
        .await??;
    let location = format!("{}/{}", D::PATH, record.id);
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(record)).into_response())
}

async fn update<D: DefinitionRoutes>(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Json<Record>, ApiError> {
    let id = path_id(path)?;
    let parsed = D::parse(&json_body(&state, body, D::MAX_BODY_BYTES).await?)?;
    same_id(&id, D::id(&parsed))?;
    let record = state
        .store()
        .write_definition(D::KIND, id, move |catalog| D::update(catalog, &parsed))
        .await??;
    Ok(Json(record))
}

/// Archiving an archived definition changes nothing and answers 200 again.
async fn archive<D: DefinitionRoutes>(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Record>, ApiError> {
    let id = path_id(path)?;
    let target = id.clone();
    let record = state
        .store()
        .write_definition(D::KIND, id, move |catalog| D::archive(catalog, &target))
        .await??;
    Ok(Json(record))
}

/// Every definition of the kind, archived ones included, by id.
async fn list<D: DefinitionRoutes>(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let catalog = state.store().catalog().await?;
    let records: Vec<&Record> = catalog.all(D::KIND).collect();
    Ok(Json(json!({ D::LIST_KEY: records })))
}

async fn show<D: DefinitionRoutes>(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Record>, ApiError> {
    let id = path_id(path)?;
    let catalog = state.store().catalog().await?;
    catalog
        .get(D::KIND, &id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::missing(format!("{} {id:?} does not exist", D::KIND)))
}
