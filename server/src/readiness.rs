//! `GET /readyz`: whether the server can do its work, for load balancers and
//! orchestrators. `/healthz` only says the process answers; this one turns 503 once
//! the database is found damaged, and stays so until an operator repairs the file and
//! restarts the server.

use axum::extract::State;

use crate::app::AppState;
use crate::error::ApiError;

pub const READYZ_PATH: &str = "/readyz";

pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.store().is_damaged() {
        return Err(ApiError::storage_damaged());
    }
    Ok("ready")
}
