//! What the device's requests to the server are and what their answers mean: one
//! request per batch, and the conditional downloads of the sync and permissions
//! documents. The bytes move through a [`Sender`]: the app's HTTP client or the
//! library's own.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::endpoint::{form_encode, Endpoint};
use super::exchange::{
    HttpClient, HttpClientError, HttpHeader, HttpMethod, HttpRequest, HttpResponse,
};
use super::identity::{describe_refusals, identity_refusals};
use super::policy::Outcome;
use super::sender::Sender;
use super::server_clock::ServerClock;
use crate::common::retry::parse_retry_after;
use crate::protocol::{
    BatchResponse, IdentityRefusal, PermissionsDocument, APP_KEY_HEADER, BATCH_PATH,
    IDENTITY_TOKEN_HEADER, MAX_SYNC_BYTES, PERMISSIONS_PATH, SYNC_PATH,
};
use crate::text::quote;

const AGENT: &str = concat!("beckon-sdk/", env!("CARGO_PKG_VERSION"));
/// Longer ETags are not kept: the next sync is then unconditional, which is harmless.
const MAX_ETAG_BYTES: usize = 256;
/// How much of an error answer is kept for `stats()`.
const MAX_ERROR_DETAIL_BYTES: usize = 300;
/// Largest answer to a batch: the server's verdicts on at most 500 events, or an
/// identity refusal listing the users of a whole batch, take well under 100 KB.
const MAX_BATCH_ANSWER_BYTES: u64 = 1024 * 1024;
/// Largest permissions document a device accepts: five channels take well under 2 KB.
pub const MAX_PERMISSIONS_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid server URL {}: {reason}", quote(.url))]
    BadUrl { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The server answered with a status other than success or 304.
    #[error("server answered {code}: {detail}")]
    Status {
        code: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// A 401 refusing the identity token of these users (missing, invalid, expired).
    #[error("{}", describe_refusals(.0))]
    IdentityRefused(Vec<IdentityRefusal>),
    /// No usable answer: connection refused or dropped, timeout, TLS failure.
    #[error("{0}")]
    Network(String),
    /// The answer is larger than the device accepts; it was not read to the end.
    #[error("the answer is over the {limit}-byte limit")]
    TooLarge { limit: usize },
    /// The answer's content encoding is unknown or its compressed data is damaged.
    #[error("the answer cannot be decoded: {0}")]
    Decode(String),
}

impl From<HttpClientError> for TransportError {
    fn from(error: HttpClientError) -> TransportError {
        match error {
            HttpClientError::Network { reason } => TransportError::Network(reason),
            HttpClientError::TooLarge { limit } => TransportError::TooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            HttpClientError::Decode { reason } => TransportError::Decode(reason),
        }
    }
}

impl TransportError {
    /// The attempt as the upload policy judges it; `None` when trying again cannot
    /// help (a bad configuration, an answer the device will never accept).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            TransportError::Status {
                code, retry_after, ..
            } => Some(Outcome::Status {
                code: *code,
                retry_after: *retry_after,
            }),
            TransportError::IdentityRefused(_) => Some(Outcome::IdentityRefused),
            TransportError::Network(_) => Some(Outcome::NetworkError),
            TransportError::BadUrl { .. }
            | TransportError::Client(_)
            | TransportError::TooLarge { .. }
            | TransportError::Decode(_) => None,
        }
    }
}

/// What came back from a conditional `GET /v1/sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncFetch {
    /// 304: the copy with the ETag sent is current.
    NotModified,
    /// A 2xx with the document, decompressed, at most [`MAX_SYNC_BYTES`].
    Fetched { etag: Option<String>, body: Vec<u8> },
}

/// What came back from one batch request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub outcome: Outcome,
    /// The server's per-event verdicts, on a 2xx that carried them.
    pub response: Option<BatchResponse>,
    /// A short description for `stats().last_error` when the attempt did not succeed.
    pub problem: Option<String>,
    /// With [`Outcome::IdentityRefused`]: the users whose token the server refused.
    pub refused: Vec<IdentityRefusal>,
}

pub struct HttpTransport {
    sender: Sender,
    batch_url: String,
    sync_url: String,
    permissions_url: String,
    app_key: String,
    timeout: Duration,
    server_clock: Option<ServerClock>,
}

impl HttpTransport {
    /// A transport to `server_url` whose requests each take at most `timeout`, from
    /// connecting to the end of the answer, made by `http` (`None`: the library's own
    /// client, in the builds that have one).
    pub fn new(
        server_url: &str,
        app_key: &str,
        timeout: Duration,
        http: Option<Arc<dyn HttpClient>>,
    ) -> Result<Self, TransportError> {
        let endpoint = endpoint(server_url)?;
        if !app_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TransportError::Client(
                "the app key cannot be sent in a header".into(),
            ));
        }
        let sender = match http {
            Some(client) => Sender::App(client),
            None => builtin(&endpoint, timeout)?,
        };
        Ok(Self {
            sender,
            batch_url: endpoint.url(BATCH_PATH),
            sync_url: endpoint.url(SYNC_PATH),
            permissions_url: endpoint.url(PERMISSIONS_PATH),
            app_key: app_key.to_owned(),
            timeout,
            server_clock: None,
        })
    }

    /// One request with the headers every request carries (user agent, app key).
    async fn exchange(
        &self,
        method: HttpMethod,
        url: String,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        max_response_bytes: u64,
    ) -> Result<HttpResponse, HttpClientError> {
        let mut all = Vec::with_capacity(headers.len() + 2);
        all.push(HttpHeader::new("user-agent", AGENT));
        all.push(HttpHeader::new(APP_KEY_HEADER, &self.app_key));
        all.extend(
            headers
                .iter()
                .map(|(name, value)| HttpHeader::new(*name, *value)),
        );
        let request = HttpRequest {
            method,
            url,
            headers: all,
            body,
            timeout_ms: self.timeout.as_millis() as u64,
            max_response_bytes,
        };
        let response = self.sender.send(request).await?;
        if let Some(clock) = &self.server_clock {
            clock.observe(response.header("date"), Utc::now());
        }
        Ok(response)
    }

    /// Hands the `Date` header of every answer to `clock`.
    pub fn with_server_clock(mut self, clock: ServerClock) -> Self {
        self.server_clock = Some(clock);
        self
    }

    /// Sends one gzip-compressed batch. Never fails: every way a request can go wrong
    /// becomes an [`Outcome`] for the policy to judge.
    pub async fn send(&self, gzipped: Vec<u8>) -> Reply {
        let headers = [
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ];
        let url = self.batch_url.clone();
        let exchange = self.exchange(
            HttpMethod::Post,
            url,
            &headers,
            gzipped,
            MAX_BATCH_ANSWER_BYTES,
        );
        // A body cut short, too large or undecodable means we cannot know what the
        // server did, so it counts as a network error and the batch goes again.
        let response = match exchange.await {
            Ok(response) => response,
            Err(e) => return network_error(&e),
        };
        let code = response.status;
        let body = &response.body;
        let outcome = Outcome::Status {
            code,
            retry_after: retry_after(&response),
        };
        if (200..300).contains(&code) {
            Reply {
                outcome,
                response: serde_json::from_slice(body).ok(),
                problem: None,
                refused: Vec::new(),
            }
        } else if let Some(refused) = identity_refusals(code, body) {
            Reply {
                outcome: Outcome::IdentityRefused,
                response: None,
                problem: Some(describe_refusals(&refused)),
                refused,
            }
        } else {
            Reply {
                outcome,
                response: None,
                problem: Some(format!("server answered {code}: {}", detail(body))),
                refused: Vec::new(),
            }
        }
    }

    /// Downloads the sync document unless the server's copy still has `etag`. Accepts
    /// at most [`MAX_SYNC_BYTES`] (decoded): a larger answer is refused without being
    /// read to the end, so a broken server cannot exhaust the device's memory.
    pub async fn fetch_sync(&self, etag: Option<&str>) -> Result<SyncFetch, TransportError> {
        let mut headers = vec![("accept", "application/json")];
        if let Some(etag) = etag.filter(|e| is_header_value(e)) {
            headers.push(("if-none-match", etag));
        }
        let url = self.sync_url.clone();
        let limit = MAX_SYNC_BYTES as u64;
        let response = self
            .exchange(HttpMethod::Get, url, &headers, Vec::new(), limit)
            .await?;
        let code = response.status;
        if code == 304 {
            return Ok(SyncFetch::NotModified);
        }
        if !(200..300).contains(&code) {
            return Err(status_error(&response));
        }
        let etag = response
            .header("etag")
            .filter(|v| !v.is_empty() && v.len() <= MAX_ETAG_BYTES && is_header_value(v))
            .map(str::to_owned);
        Ok(SyncFetch::Fetched {
            etag,
            body: response.body,
        })
    }

    /// Downloads the permissions the server holds for one user, named by `owner`
    /// (`user_id` or `anonymous_id`, and its value), with the user's identity token
    /// when there is one. `None`: the server knows nothing of them (404).
    pub async fn fetch_permissions(
        &self,
        owner: (&str, &str),
        identity_token: Option<&str>,
    ) -> Result<Option<PermissionsDocument>, TransportError> {
        let url = format!(
            "{}?{}={}",
            self.permissions_url,
            form_encode(owner.0),
            form_encode(owner.1)
        );
        let mut headers = vec![("accept", "application/json")];
        if let Some(token) = identity_token.filter(|t| is_header_value(t)) {
            headers.push((IDENTITY_TOKEN_HEADER, token));
        }
        let limit = MAX_PERMISSIONS_BYTES as u64;
        let response = self
            .exchange(HttpMethod::Get, url, &headers, Vec::new(), limit)
            .await?;
        let code = response.status;
        if code == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&code) {
            return Err(status_error(&response));
        }
        serde_json::from_slice(&response.body)
            .map(Some)
            .map_err(|e| TransportError::Decode(format!("not a permissions document: {e}")))
    }
}

#[cfg(feature = "builtin-http")]
fn builtin(endpoint: &Endpoint, timeout: Duration) -> Result<Sender, TransportError> {
    super::http::BuiltinClient::new(endpoint.clone(), timeout)
        .map(Sender::Builtin)
        .map_err(|e| TransportError::Client(e.to_string()))
}

#[cfg(not(feature = "builtin-http"))]
fn builtin(_: &Endpoint, _: Duration) -> Result<Sender, TransportError> {
    Err(TransportError::Client(
        "http: this library has no HTTP client of its own (the phones' builds leave it \
         out): give one, as the Kotlin and Swift packages do (PlatformHttpClient, \
         URLSessionHttpClient)"
            .into(),
    ))
}

/// A value a header may carry: visible ASCII and spaces.
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
}

fn retry_after(response: &HttpResponse) -> Option<Duration> {
    response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, Utc::now()))
}

/// The error for a status other than success: its code, `Retry-After` and the start
/// of the body, or the users refused when it is an identity refusal.
fn status_error(response: &HttpResponse) -> TransportError {
    error_answer(response.status, retry_after(response), &response.body)
}

/// What an error answer says, once its body is read (at most
/// [`MAX_ERROR_BODY_BYTES`] of it): the users refused when it is an identity refusal,
/// else its code, `Retry-After` and the start of the body. Public for the fuzz targets
/// (`fuzz/`), which feed it the server's answers.
#[doc(hidden)]
pub fn error_answer(code: u16, retry_after: Option<Duration>, body: &[u8]) -> TransportError {
    if let Some(refused) = identity_refusals(code, body) {
        return TransportError::IdentityRefused(refused);
    }
    TransportError::Status {
        code,
        retry_after,
        detail: detail(body),
    }
}

/// The start of an error answer, for people.
fn detail(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_DETAIL_BYTES)])
        .trim()
        .to_owned()
}

fn network_error(error: &HttpClientError) -> Reply {
    Reply {
        outcome: Outcome::NetworkError,
        response: None,
        problem: Some(error.to_string()),
        refused: Vec::new(),
    }
}

/// `https://host/base` + `/v1/batch`, keeping any path prefix the app configured.
pub fn batch_url(server_url: &str) -> Result<String, TransportError> {
    Ok(endpoint(server_url)?.url(BATCH_PATH))
}

fn endpoint(server_url: &str) -> Result<Endpoint, TransportError> {
    Endpoint::parse(server_url).map_err(|reason| TransportError::BadUrl {
        url: server_url.to_owned(),
        reason,
    })
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
    fn the_sync_endpoint_sits_beside_the_batch_endpoint() {
        assert_eq!(
            endpoint("http://127.0.0.1:8080/beckon/")
                .unwrap()
                .url(SYNC_PATH),
            "http://127.0.0.1:8080/beckon/v1/sync"
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
