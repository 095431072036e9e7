use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use beckon::protocol::{ErrorAnswer, ErrorBody, IdentityRefusal};

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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            identity: Vec::new(),
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
            .map(|r| format!("{:?} ({})", r.user_id, r.problem.as_str()))
            .collect();
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: first.code(),
            message: format!(
                "no valid identity token for user {}: the app's backend signs user ids, \
                 send the token it issued",
                names.join(", ")
            ),
            identity: refused,
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
