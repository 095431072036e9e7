//! Which `Content-Encoding`s the batch endpoint takes.

use axum::extract::Request;
use axum::http::header::CONTENT_ENCODING;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use beckon::text::quote;

use crate::error::ApiError;

/// Accepts gzip and identity in any letter case and hands the decompression layer the
/// exact spelling it matches on; anything else gets a JSON 415 rather than the layer's
/// bodiless one.
pub async fn gzip_or_identity(mut req: Request, next: Next) -> Result<Response, ApiError> {
    let mut values = req.headers().get_all(CONTENT_ENCODING).iter();
    let first = values.next().cloned();
    if values.next().is_some() {
        return Err(unsupported("several"));
    }
    if let Some(value) = first {
        let text = value.to_str().unwrap_or("?").trim().to_ascii_lowercase();
        match text.as_str() {
            "" | "identity" => {
                req.headers_mut().remove(CONTENT_ENCODING);
            }
            "gzip" | "x-gzip" => {
                req.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            _ => return Err(unsupported(&quote(&text))),
        }
    }
    Ok(next.run(req).await)
}

fn unsupported(what: &str) -> ApiError {
    ApiError::unsupported_media_type(format!(
        "content encoding {what} is not supported; send gzip or identity"
    ))
}
