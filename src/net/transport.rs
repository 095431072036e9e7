//! The HTTP side of talking to the server: one request per batch, and the
//! conditional download of the sync document.

use std::io::Read;
use std::time::Duration;

use chrono::Utc;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE,
    DATE, ETAG, IF_NONE_MATCH, RETRY_AFTER, USER_AGENT,
};
use hyper::Method;

use super::http::{form_encode, Endpoint, HttpClient, HttpError, Response};
use super::identity::{describe_refusals, identity_refusals};
use super::policy::Outcome;
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
/// How much of an error answer is read: enough for an identity refusal listing the
/// users of a whole batch.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
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
    client: HttpClient,
    batch_path: String,
    sync_path: String,
    permissions_path: String,
    app_key: HeaderValue,
    server_clock: Option<ServerClock>,
}

impl HttpTransport {
    /// A transport to `server_url` whose requests each take at most `timeout`, from
    /// connecting to the end of the answer.
    pub fn new(server_url: &str, app_key: &str, timeout: Duration) -> Result<Self, TransportError> {
        let endpoint = endpoint(server_url)?;
        let client = HttpClient::new(endpoint, timeout)
            .map_err(|e| TransportError::Client(e.to_string()))?;
        Self::with_client(client, app_key)
    }

    fn with_client(client: HttpClient, app_key: &str) -> Result<Self, TransportError> {
        let endpoint = client.endpoint();
        let app_key = HeaderValue::from_str(app_key)
            .map_err(|_| TransportError::Client("the app key cannot be sent in a header".into()))?;
        Ok(Self {
            batch_path: endpoint.path(BATCH_PATH),
            sync_path: endpoint.path(SYNC_PATH),
            permissions_path: endpoint.path(PERMISSIONS_PATH),
            client,
            app_key,
            server_clock: None,
        })
    }

    /// Sends one request with the headers every request carries (user agent, app key).
    async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<Response<'_>, HttpError> {
        let mut all = HeaderMap::with_capacity(headers.len() + 2);
        all.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        all.insert(APP_KEY_HEADER, self.app_key.clone());
        for (name, value) in headers {
            all.insert(name, value.clone());
        }
        self.client.request(method, path_and_query, all, body).await
    }

    /// Hands the `Date` header of every answer to `clock`.
    pub fn with_server_clock(mut self, clock: ServerClock) -> Self {
        self.server_clock = Some(clock);
        self
    }

    fn note_date(&self, headers: &HeaderMap) {
        if let Some(clock) = &self.server_clock {
            let date = headers.get(DATE).and_then(|v| v.to_str().ok());
            clock.observe(date, Utc::now());
        }
    }

    /// Sends one gzip-compressed batch. Never fails: every way a request can go wrong
    /// becomes an [`Outcome`] for the policy to judge.
    pub async fn send(&self, gzipped: Vec<u8>) -> Reply {
        let headers = [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
        ];
        let request = self.request(Method::POST, &self.batch_path, &headers, gzipped);
        let response = match request.await {
            Ok(response) => response,
            Err(e) => return network_error(&e),
        };
        self.note_date(response.headers());
        let code = response.status();
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
                refused: Vec::new(),
            }
        } else if let Some(refused) = identity_refusals(code, &body) {
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
                problem: Some(format!("server answered {code}: {}", detail(&body))),
                refused: Vec::new(),
            }
        }
    }

    /// Downloads the sync document unless the server's copy still has `etag`. Reads at
    /// most [`MAX_SYNC_BYTES`] (after decompression): a larger answer is refused without
    /// being read to the end, so a broken server cannot exhaust the device's memory.
    pub async fn fetch_sync(&self, etag: Option<&str>) -> Result<SyncFetch, TransportError> {
        let mut headers = vec![
            (ACCEPT, HeaderValue::from_static("application/json")),
            (ACCEPT_ENCODING, HeaderValue::from_static("gzip")),
        ];
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.push((IF_NONE_MATCH, etag));
        }
        let mut response = self
            .request(Method::GET, &self.sync_path, &headers, Vec::new())
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?;
        self.note_date(response.headers());
        let code = response.status();
        if code == 304 {
            return Ok(SyncFetch::NotModified);
        }
        if !(200..300).contains(&code) {
            return Err(status_error(code, &mut response).await);
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_ETAG_BYTES)
            .map(str::to_owned);
        let body = read_body(&mut response, MAX_SYNC_BYTES).await?;
        Ok(SyncFetch::Fetched { etag, body })
    }

    /// Downloads the permissions the server holds for one user, named by `owner`
    /// (`user_id` or `anonymous_id`, and its value), with the user's identity token
    /// when there is one. `None`: the server knows nothing of them (404).
    pub async fn fetch_permissions(
        &self,
        owner: (&str, &str),
        identity_token: Option<&str>,
    ) -> Result<Option<PermissionsDocument>, TransportError> {
        let path = format!(
            "{}?{}={}",
            self.permissions_path,
            form_encode(owner.0),
            form_encode(owner.1)
        );
        let mut headers = vec![
            (ACCEPT, HeaderValue::from_static("application/json")),
            (ACCEPT_ENCODING, HeaderValue::from_static("gzip")),
        ];
        if let Some(token) = identity_token.and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.push((HeaderName::from_static(IDENTITY_TOKEN_HEADER), token));
        }
        let mut response = self
            .request(Method::GET, &path, &headers, Vec::new())
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let code = response.status();
        if code == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&code) {
            return Err(status_error(code, &mut response).await);
        }
        let body = read_body(&mut response, MAX_PERMISSIONS_BYTES).await?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| TransportError::Decode(format!("not a permissions document: {e}")))
    }
}

/// The error for a status other than success: its code, `Retry-After` and the start
/// of the body, or the users refused when it is an identity refusal.
async fn status_error(code: u16, response: &mut Response<'_>) -> TransportError {
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let body = read_at_most(response, MAX_ERROR_BODY_BYTES)
        .await
        .map(|(bytes, _)| bytes)
        .unwrap_or_default();
    error_answer(code, retry_after, &body)
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

/// A successful answer's body, decompressed, at most `limit` bytes: a larger one is
/// refused without being read to the end, so a broken server cannot exhaust the
/// device's memory.
async fn read_body(response: &mut Response<'_>, limit: usize) -> Result<Vec<u8>, TransportError> {
    let gzipped = match response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(encoding) if encoding == "identity" => false,
        Some(encoding) if encoding == "gzip" => true,
        Some(other) => {
            return Err(TransportError::Decode(format!(
                "unsupported content encoding {}",
                quote(&other)
            )))
        }
    };
    let too_large = TransportError::TooLarge { limit };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large);
    }
    let (body, complete) = read_at_most(response, limit)
        .await
        .map_err(|e| TransportError::Network(e.to_string()))?;
    if !complete {
        return Err(too_large);
    }
    if gzipped {
        gunzip_at_most(&body, limit)
    } else {
        Ok(body)
    }
}

/// Reads the body up to `limit` bytes. Returns whether that was all of it; if not, the
/// rest is left unread and the connection is dropped with the response.
async fn read_at_most(
    response: &mut Response<'_>,
    limit: usize,
) -> Result<(Vec<u8>, bool), HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// Decompresses at most `limit` bytes, so a small compressed answer cannot expand
/// into an unbounded one.
fn gunzip_at_most(compressed: &[u8], limit: usize) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| TransportError::Decode(e.to_string()))?;
    if out.len() > limit {
        return Err(TransportError::TooLarge { limit });
    }
    Ok(out)
}

fn network_error(error: &HttpError) -> Reply {
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
    fn decompression_stops_at_the_limit() {
        let document = vec![b'x'; 10_000];
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &document).unwrap();
        let compressed = encoder.finish().unwrap();
        assert_eq!(gunzip_at_most(&compressed, 10_000).unwrap(), document);
        assert!(matches!(
            gunzip_at_most(&compressed, 9_999),
            Err(TransportError::TooLarge { limit: 9_999 })
        ));
        assert!(matches!(
            gunzip_at_most(b"not gzip at all", 100),
            Err(TransportError::Decode(_))
        ));
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
