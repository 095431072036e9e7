use axum::http::header::{CONNECTION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use beckon::protocol::{ErrorAnswer, ErrorBody, IdentityRefusal};
use beckon::text::quote;

use crate::store::StoreError;

/// The code of answers the database could not give because it is damaged, or because
/// a stored row cannot be read back.
pub const STORAGE_CORRUPT: &str = "storage_corrupt";

/// How long devices are asked to wait before sending again to a damaged database:
/// repairing it takes an operator minutes at least, and it is their backoff's cap.
const DAMAGED_RETRY_AFTER_SECONDS: u32 = 300;

/// An error answer of the HTTP API.
///
/// Every error, whatever the route, has the same JSON shape so clients parse one thing:
/// `{"error": {"code": "bad_request", "message": "..."}}` ([`ErrorAnswer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable; clients branch on it.
    pub code: &'static str,
    /// For people; wording may change.
    pub message: String,
    /// The users whose identity token was refused, for the `identity_token_*` codes.
    pub identity: Vec<IdentityRefusal>,
    /// Seconds to wait before trying again, sent as `Retry-After`.
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            identity: Vec::new(),
            retry_after: None,
        }
    }

    /// 401 for users whose identity token is missing, invalid or expired; the code is
    /// the first one's problem. `refused` is never empty.
    pub fn identity_refused(refused: Vec<IdentityRefusal>) -> Self {
        let first = refused
            .first()
            .map_or(beckon::protocol::IdentityProblem::Missing, |r| r.problem);
        let names: Vec<String> = refused
            .iter()
            .map(|r| format!("{} ({})", quote(&r.user_id), r.problem.as_str()))
            .collect();
        let message = format!(
            "no valid identity token for user {}: the app's backend signs user ids, send \
             the token it issued",
            names.join(", ")
        );
        Self {
            identity: refused,
            ..Self::new(StatusCode::UNAUTHORIZED, first.code(), message)
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// The endpoint exists, the thing it names does not.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The request is well-formed but clashes with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not accept that method",
        )
    }

    /// The request (its body) did not arrive in time. The connection is closed after
    /// the answer: the rest of the body may still be on its way.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message)
    }

    /// The cause goes to the log, not to the client: it may reveal server internals.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        )
    }

    /// 503: the database is damaged, so nothing is stored until an operator repairs
    /// it. Devices keep their events and send them again after `Retry-After`.
    pub fn storage_damaged() -> Self {
        Self {
            retry_after: Some(DAMAGED_RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                STORAGE_CORRUPT,
                "the server's database is damaged: nothing is stored until an operator \
                 checks it (beckon-server --check-database) and repairs it; try again later",
            )
        }
    }
}

/// The one way a storage failure becomes an answer, whatever the route.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_damage() {
            // The store logged the damage, with what to do, when it first found it.
            tracing::debug!(error = %err, "request refused: the database is damaged");
            return Self::storage_damaged();
        }
        if err.is_unreadable_row() {
            tracing::error!(
                error = %err,
                "request failed on an unreadable stored row; run beckon-server \
                 --check-database to tell a damaged file from a value written badly"
            );
            return Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                STORAGE_CORRUPT,
                "a stored record cannot be read back; the operator should check the \
                 database (beckon-server --check-database)",
            );
        }
        Self::internal(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorAnswer {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message,
                identity: self.identity,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, seconds.into());
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}
