//! The HTTP side of uploading: one request per batch, nothing else.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use super::policy::{parse_retry_after, Outcome};
use crate::protocol::{BatchResponse, APP_KEY_HEADER, BATCH_PATH};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What came back from one batch request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub outcome: Outcome,
    /// The server's per-event verdicts, on a 2xx that carried them.
    pub response: Option<BatchResponse>,
    /// A short description for `stats().last_error` when the attempt did not succeed.
    pub problem: Option<String>,
}

pub struct HttpTransport {
    client: reqwest::Client,
    batch_url: reqwest::Url,
    app_key: String,
}

impl HttpTransport {
    pub fn new(server_url: &str, app_key: &str, timeout: Duration) -> Result<Self, TransportError> {
        let batch_url = batch_url(server_url)?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| TransportError::Client(e.to_string()))?;
        Ok(Self {
            client,
            batch_url,
            app_key: app_key.to_owned(),
        })
    }

    /// Sends one gzip-compressed batch. Never fails: every way a request can go wrong
    /// becomes an [`Outcome`] for the policy to judge.
    pub async fn send(&self, gzipped: Vec<u8>) -> Reply {
        let request = self
            .client
            .post(self.batch_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "gzip")
            .header(
                USER_AGENT,
                concat!("beckon-sdk/", env!("CARGO_PKG_VERSION")),
            )
            .header(APP_KEY_HEADER, &self.app_key)
            .body(gzipped);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return network_error(&e),
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        // Read the whole body even on errors: a connection dropped mid-response means
        // we cannot know what the server did, so it must count as a network error.
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return network_error(&e),
        };
        let outcome = Outcome::Status { code, retry_after };
        if (200..300).contains(&code) {
            Reply {
                outcome,
                response: serde_json::from_slice(&body).ok(),
                problem: None,
            }
        } else {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            Reply {
                outcome,
                response: None,
                problem: Some(format!("server answered {code}: {}", text.trim())),
            }
        }
    }
}

fn network_error(error: &reqwest::Error) -> Reply {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    Reply {
        outcome: Outcome::NetworkError,
        response: None,
        problem: Some(format!("{kind}: {detail}")),
    }
}

/// `https://host/base` + `/v1/batch`, keeping any path prefix the app configured.
pub fn batch_url(server_url: &str) -> Result<reqwest::Url, TransportError> {
    let bad = |reason: &str| TransportError::BadUrl {
        url: server_url.to_owned(),
        reason: reason.to_owned(),
    };
    let base = reqwest::Url::parse(server_url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if base.host_str().is_none() || base.cannot_be_a_base() {
        return Err(bad("it has no host"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    let path = format!("{}{BATCH_PATH}", base.path().trim_end_matches('/'));
    let mut url = base;
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_batch_path_to_the_configured_base() {
        assert_eq!(
            batch_url("https://api.shop.example").unwrap().as_str(),
            "https://api.shop.example/v1/batch"
        );
        assert_eq!(
            batch_url("http://127.0.0.1:8080/beckon/").unwrap().as_str(),
            "http://127.0.0.1:8080/beckon/v1/batch"
        );
    }

    #[test]
    fn rejects_urls_it_cannot_post_to() {
        for url in [
            "",
            "api.shop.example",
            "ftp://shop.example",
            "https://shop.example/?a=1",
            "mailto:x@y",
        ] {
            assert!(batch_url(url).is_err(), "{url}");
        }
    }
}
