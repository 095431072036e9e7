//! Credentials: the app key on device routes, the admin bearer token on admin routes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use beckon::protocol::APP_KEY_HEADER;

use crate::app::AppState;
use crate::error::ApiError;

/// The app key a device request was made with, once checked: handlers read it to
/// apply that key's settings (identity verification).
#[derive(Debug, Clone)]
pub struct AppKey(pub Arc<str>);

pub async fn require_app_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let given = req.headers().get(APP_KEY_HEADER).map(HeaderValue::as_bytes);
    // Check every key without stopping early: timing must not tell which one matched.
    let matched = given.and_then(|given| {
        state.app_keys().iter().fold(None, |found, key| {
            let equal = constant_time_eq(key.as_bytes(), given);
            found.or(equal.then_some(key))
        })
    });
    let Some(key) = matched else {
        return ApiError::unauthorized(format!("missing or unknown app key in {APP_KEY_HEADER}"))
            .into_response();
    };
    req.extensions_mut().insert(AppKey(Arc::from(key.as_str())));
    next.run(req).await
}

pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let token = req.headers().get(AUTHORIZATION).and_then(bearer_token);
    let valid = token.is_some_and(|t| constant_time_eq(t, state.admin_token().as_bytes()));
    if !valid {
        let mut response = ApiError::unauthorized(
            "missing or wrong admin token: send Authorization: Bearer <token>",
        )
        .into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(req).await
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive
/// (RFC 9110).
fn bearer_token(header: &HeaderValue) -> Option<&[u8]> {
    let value = header.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Compares secrets in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_tokens() {
        let token =
            |s: &'static str| bearer_token(&HeaderValue::from_static(s)).map(<[u8]>::to_vec);
        assert_eq!(token("Bearer abc"), Some(b"abc".to_vec()));
        assert_eq!(token("bearer  abc "), Some(b"abc".to_vec()));
        assert_eq!(token("BEARER abc"), Some(b"abc".to_vec()));
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Basic abc"), None);
        assert_eq!(token("Bearerabc"), None);
        assert_eq!(token("abc"), None);
    }

    #[test]
    fn compares_secrets_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
