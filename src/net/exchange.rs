//! One HTTP exchange as plain data, and the client that makes it.
//!
//! The device's requests are made by an [`HttpClient`]: on the phones, the platform's
//! own HTTP stack behind the Kotlin and Swift packages (`PlatformHttpClient` over
//! `HttpURLConnection`, `URLSessionHttpClient` over `URLSession`), which brings the
//! system's trust store, proxies and VPN rules and keeps TLS out of the library
//! (BENCHMARKS.md, "Library size"). Builds with the `builtin-http` feature (host
//! tools, the Rust tests) also carry a client of their own (`net::http`).
//!
//! What a request means is decided here and in `transport`; a client only moves
//! bytes. These types never name a network library.

use std::fmt;

/// The methods the device uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// One header line. Names are compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

impl HttpHeader {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> HttpHeader {
        HttpHeader {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A request for an [`HttpClient`] to send as it is.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct HttpRequest {
    pub method: HttpMethod,
    /// The absolute `http` or `https` URL, query included.
    pub url: String,
    /// Sent as given; their order and the case of their names carry no meaning (URLSession
    /// keeps its own order). A `content-encoding` here describes `body`, which is already
    /// encoded (a batch is gzip).
    pub headers: Vec<HttpHeader>,
    /// Empty for a `GET`.
    pub body: Vec<u8>,
    /// The whole exchange, from connecting to the answer's last byte, should take no
    /// longer: the client gives up after it. The device stops waiting a little later
    /// whatever the client does.
    pub timeout_ms: u64,
    /// The most bytes of the answer's body the device accepts (after decoding any
    /// content encoding the client negotiated): a longer body is not read to the end
    /// and the client throws [`HttpClientError::TooLarge`].
    pub max_response_bytes: u64,
}

impl fmt::Debug for HttpRequest {
    /// Without the body, and without the values of the headers that identify the app
    /// or the user.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|h| match is_secret(&h.name) {
                true => format!("{}: …", h.name),
                false => format!("{}: {}", h.name, h.value),
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .field("timeout_ms", &self.timeout_ms)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

fn is_secret(name: &str) -> bool {
    use crate::protocol::{APP_KEY_HEADER, IDENTITY_TOKEN_HEADER};
    name.eq_ignore_ascii_case(APP_KEY_HEADER) || name.eq_ignore_ascii_case(IDENTITY_TOKEN_HEADER)
}

/// The server's answer, whatever its status: a 4xx or 5xx is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct HttpResponse {
    pub status: u16,
    /// As received; a repeated name may appear more than once, or once with its values
    /// joined by commas.
    pub headers: Vec<HttpHeader>,
    /// The whole body, decoded from any content encoding the client negotiated, at
    /// most the request's `max_response_bytes`.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name`, whatever the case of either.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "ffi", derive(uniffi::Error))]
pub enum HttpClientError {
    /// No answer: no connection, a timeout, a TLS failure, the connection dropped
    /// before the answer's end. The device tries again later.
    #[error("{reason}")]
    Network { reason: String },
    /// The answer's body is longer than the request's `max_response_bytes`.
    #[error("the answer is over the {limit}-byte limit")]
    TooLarge { limit: u64 },
    /// The answer's content encoding is unknown, or its encoded data is damaged.
    #[error("the answer cannot be decoded: {reason}")]
    Decode { reason: String },
}

impl HttpClientError {
    pub fn network(reason: impl Into<String>) -> HttpClientError {
        HttpClientError::Network {
            reason: reason.into(),
        }
    }
}

/// An implementation that throws something else than [`HttpClientError`] (a Kotlin
/// `RuntimeException`, say) failed to get an answer, as far as the device can tell. Only
/// the first line of what it threw is kept: Kotlin hands over its whole stack trace,
/// which `stats().last_error` has no room for.
#[cfg(feature = "ffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for HttpClientError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> HttpClientError {
        HttpClientError::network(app_client_failed(&error.reason))
    }
}

#[cfg_attr(not(feature = "ffi"), allow(dead_code))]
fn app_client_failed(thrown: &str) -> String {
    let first_line = thrown.lines().next().unwrap_or_default().trim();
    format!("the app's HTTP client failed: {first_line}")
}

/// What makes the device's HTTP requests; the Kotlin and Swift packages give one over
/// the platform's own HTTP stack, and an app may give its own (to reuse its OkHttp
/// client and its certificate pinning, say).
///
/// Called on a thread of Beckon's own, never the app's main thread, one request at a
/// time; it may block until the answer is in. An implementation must:
/// - send the request as given (method, URL, headers, body), with no cookies, no cache
///   and no credentials of its own;
/// - not follow redirects: a 3xx is the answer (the device tries again later);
/// - return any status as an [`HttpResponse`], and throw only when there is no whole
///   answer ([`HttpClientError::Network`]);
/// - decode the content encodings it asks for itself (platform stacks ask for gzip),
///   and stop reading a body past `max_response_bytes` ([`HttpClientError::TooLarge`]);
/// - give up after `timeout_ms`.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait HttpClient: Send + Sync {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError>;
}

impl fmt::Debug for dyn HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpClient")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_app_client_threw_is_kept_to_its_first_line() {
        let thrown =
            "java.lang.IllegalStateException: no network\n\tat com.shop.Http.send(Http.kt:12)\n";
        assert_eq!(
            app_client_failed(thrown),
            "the app's HTTP client failed: java.lang.IllegalStateException: no network"
        );
    }

    #[test]
    fn headers_are_found_whatever_their_case() {
        let response = HttpResponse {
            status: 200,
            headers: vec![
                HttpHeader::new("ETag", "\"a\""),
                HttpHeader::new("etag", "\"b\""),
            ],
            body: Vec::new(),
        };
        assert_eq!(response.header("etag"), Some("\"a\""));
        assert_eq!(response.header("ETAG"), Some("\"a\""));
        assert_eq!(response.header("date"), None);
    }

    #[test]
    fn a_request_shown_for_debugging_hides_the_keys_and_the_body() {
        let request = HttpRequest {
            method: HttpMethod::Post,
            url: "https://api.shop.example/v1/batch".into(),
            headers: vec![
                HttpHeader::new("X-Beckon-App-Key", "app-key-secret"),
                HttpHeader::new("content-type", "application/json"),
            ],
            body: b"user@example.com".to_vec(),
            timeout_ms: 10_000,
            max_response_bytes: 1024,
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("app-key-secret"), "{shown}");
        assert!(!shown.contains("user@example.com"), "{shown}");
        assert!(shown.contains("content-type: application/json"), "{shown}");
    }
}
