//! The library's own HTTP/1.1 client (the `builtin-http` feature: host tools and the
//! Rust tests; the phones' libraries leave it out and use the platform's HTTP stack,
//! `net::exchange`): hyper's connection layer over tokio, TLS by rustls (ring, the
//! Mozilla roots of `webpki-roots`), one connection kept open between requests. The
//! device only ever talks to its own server, one request at a time from the upload
//! thread, so this is all it needs of a general client such as reqwest, whose pool,
//! proxies, redirects and URL handling cost 0.73 MB of the library (BENCHMARKS.md,
//! "Library size"); TLS and HTTP in all cost 1.31 MB.
//!
//! What it does: resolves the host (on tokio's blocking pool), connects to its
//! addresses in turn, giving the other address family a start after 300 ms when the
//! first is slow (as browsers and hyper's own connector do), sets `TCP_NODELAY`,
//! negotiates TLS 1.2 or 1.3 with ALPN `http/1.1`, and bounds each request, from
//! connecting to the last byte of the answer, by one timeout. A request on the kept
//! connection that fails before any answer (the server closed it meanwhile) is sent
//! once more on a new connection: reads are safe to repeat, and the server
//! deduplicates the events of a batch sent twice. No redirects are followed and no proxy
//! from the environment is used. It asks for gzip and decodes it, within the request's
//! limit on the answer's size.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::endpoint::Endpoint;
use super::exchange::{HttpClientError, HttpHeader, HttpMethod, HttpRequest, HttpResponse};
use crate::text::quote;

/// How long the first address family has before the other one is tried alongside.
const FALLBACK_DELAY: Duration = Duration::from_millis(300);

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    kind: ErrorKind,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// The timeout passed first.
    Timeout,
    /// No connection: the name did not resolve, nothing accepted, or TLS failed.
    Connect,
    /// The connection failed during the exchange (dropped, cut short, not HTTP).
    Exchange,
}

impl HttpError {
    fn timeout(phase: &str, limit: Duration) -> HttpError {
        HttpError {
            kind: ErrorKind::Timeout,
            detail: format!("{phase} took longer than {} ms", limit.as_millis()),
        }
    }

    fn connect(detail: String) -> HttpError {
        HttpError {
            kind: ErrorKind::Connect,
            detail,
        }
    }

    fn exchange(error: &hyper::Error) -> HttpError {
        HttpError {
            kind: ErrorKind::Exchange,
            detail: with_causes(error),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Timeout => "timed out",
            ErrorKind::Connect => "could not connect",
            ErrorKind::Exchange => "connection failed",
        };
        write!(f, "{kind}: {}", self.detail)
    }
}

impl StdError for HttpError {}

/// An error and the errors it came from, on one line.
fn with_causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

type Sender = SendRequest<Full<Bytes>>;

/// An HTTP/1.1 client for one server.
pub struct BuiltinClient {
    endpoint: Endpoint,
    host_header: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
    /// The connection kept open after a complete answer, for the next request.
    idle: Mutex<Option<Sender>>,
}

impl BuiltinClient {
    /// A client trusting the Mozilla root certificates (`webpki-roots`), whatever the
    /// platform holds.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<BuiltinClient, String> {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        BuiltinClient::with_roots(endpoint, timeout, roots)
    }

    /// A client trusting `roots` only (tests use a certificate authority of their own).
    pub(crate) fn with_roots(
        endpoint: Endpoint,
        timeout: Duration,
        roots: RootCertStore,
    ) -> Result<BuiltinClient, String> {
        let host_header = HeaderValue::from_str(&endpoint.authority).map_err(|e| e.to_string())?;
        let tls = if endpoint.https {
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(endpoint.host.clone()).map_err(|e| e.to_string())?;
            Some((TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(BuiltinClient {
            endpoint,
            host_header,
            tls,
            timeout,
            idle: Mutex::new(None),
        })
    }

    /// Sends one request to `path_and_query` (origin form, `/v1/batch`) and returns
    /// once the answer's status and headers are in; its body is read from the
    /// [`Response`], within the same timeout.
    pub async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Response<'_>, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let uri: Uri = path_and_query
            .parse()
            .map_err(|e| HttpError::connect(format!("cannot request {path_and_query:?}: {e}")))?;
        let body = Bytes::from(body);
        let make = || {
            let mut request = Request::new(Full::new(body.clone()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = headers.clone();
            request.headers_mut().insert(HOST, self.host_header.clone());
            request
        };
        let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut sender) = kept {
            let exchange = async {
                sender.ready().await?;
                sender.send_request(make()).await
            };
            match timeout_at(deadline, exchange).await {
                Ok(Ok(head)) => return Ok(Response::new(self, head, sender, deadline)),
                // Closed by the server while it was kept: once more on a new one.
                Ok(Err(_)) => {}
                Err(_) => return Err(HttpError::timeout("the request", self.timeout)),
            }
        }
        let mut sender = match timeout_at(deadline, self.connect(deadline)).await {
            Ok(connected) => connected?,
            Err(_) => {
                let phase = format!("connecting to {}", self.endpoint.authority);
                return Err(HttpError::timeout(&phase, self.timeout));
            }
        };
        match timeout_at(deadline, sender.send_request(make())).await {
            Ok(Ok(head)) => Ok(Response::new(self, head, sender, deadline)),
            Ok(Err(e)) => Err(HttpError::exchange(&e)),
            Err(_) => Err(HttpError::timeout("the request", self.timeout)),
        }
    }

    /// Makes one exchange of the device's: the answer whatever its status, its body
    /// read to the end and decoded, at most `request.max_response_bytes` of it (a
    /// longer one is left unread, and its connection closed). The client's own timeout
    /// applies, not the request's: both come from the same configuration.
    pub async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        let url: Uri = request.url.parse().map_err(|e| {
            HttpClientError::network(format!("cannot request {:?}: {e}", request.url))
        })?;
        let path_and_query = url.path_and_query().map_or("/", |p| p.as_str());
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
        for header in &request.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes());
            let value = HeaderValue::from_str(&header.value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(HttpClientError::network(format!(
                    "header {:?} cannot be sent",
                    header.name
                )));
            };
            headers.append(name, value);
        }
        if !headers.contains_key(ACCEPT_ENCODING) {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let method = match request.method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
        };
        let limit = usize::try_from(request.max_response_bytes).unwrap_or(usize::MAX);
        let mut response = self
            .request(method, path_and_query, headers, request.body)
            .await
            .map_err(|e| HttpClientError::network(e.to_string()))?;
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                HttpHeader::new(name.as_str(), String::from_utf8_lossy(value.as_bytes()))
            })
            .collect();
        let body = read_body(&mut response, limit).await?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    async fn connect(&self, deadline: Instant) -> Result<Sender, HttpError> {
        let authority = &self.endpoint.authority;
        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((self.endpoint.host.as_str(), self.endpoint.port))
                .await
                .map_err(|e| HttpError::connect(format!("cannot resolve {authority}: {e}")))?
                .collect();
        let tcp = connect_tcp(addresses, deadline)
            .await
            .map_err(|e| HttpError::connect(format!("{authority}: {e}")))?;
        // Small requests and answers: no waiting for more data to fill a segment.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => Box::new(
                connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| HttpError::connect(format!("TLS with {authority}: {e}")))?,
            ),
        };
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::connect(with_causes(&e)))?;
        // Runs the connection until both ends are done with it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Keeps a connection whose answer was read to the end, for the next request.
    fn keep(&self, sender: Sender) {
        if !sender.is_closed() {
            *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
        }
    }
}

/// Connects to the first address that accepts, the addresses of the first one's family
/// in turn and those of the other family from [`FALLBACK_DELAY`] on, each attempt given
/// an equal share of the time left.
async fn connect_tcp(addresses: Vec<SocketAddr>, deadline: Instant) -> io::Result<TcpStream> {
    let Some(first) = addresses.first() else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        ));
    };
    let ipv6 = first.is_ipv6();
    let (preferred, others): (Vec<_>, Vec<_>) =
        addresses.into_iter().partition(|a| a.is_ipv6() == ipv6);
    if others.is_empty() {
        return connect_in_turn(preferred, deadline).await;
    }
    let primary = connect_in_turn(preferred, deadline);
    let fallback = async {
        tokio::time::sleep(FALLBACK_DELAY).await;
        connect_in_turn(others, deadline).await
    };
    tokio::pin!(primary, fallback);
    tokio::select! {
        done = &mut primary => match done {
            Ok(stream) => Ok(stream),
            Err(e) => fallback.await.map_err(|_| e),
        },
        done = &mut fallback => match done {
            Ok(stream) => Ok(stream),
            Err(_) => primary.await,
        },
    }
}

async fn connect_in_turn(addresses: Vec<SocketAddr>, deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    let count = addresses.len() as u32;
    for (tried, address) in (0u32..).zip(addresses) {
        let share = deadline.saturating_duration_since(Instant::now()) / (count - tried);
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, format!("{address}")),
        }
    }
    Err(last)
}

/// An answer whose status and headers are in; the body is read in chunks.
pub struct Response<'a> {
    client: &'a BuiltinClient,
    status: u16,
    headers: HeaderMap,
    body: Incoming,
    /// Given back to the client once the body is read to the end.
    sender: Option<Sender>,
    deadline: Instant,
}

impl<'a> Response<'a> {
    fn new(
        client: &'a BuiltinClient,
        head: hyper::Response<Incoming>,
        sender: Sender,
        deadline: Instant,
    ) -> Response<'a> {
        let (parts, body) = head.into_parts();
        Response {
            client,
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            sender: Some(sender),
            deadline,
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body's length when the answer says it (`content-length`).
    pub fn content_length(&self) -> Option<u64> {
        self.body.size_hint().exact()
    }

    /// The next piece of the body, `None` at its end. Dropping the response before
    /// then closes the connection, leaving the rest unread.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        loop {
            let frame = match timeout_at(self.deadline, self.body.frame()).await {
                Ok(frame) => frame,
                Err(_) => {
                    return Err(HttpError::timeout(
                        "reading the answer",
                        self.client.timeout,
                    ))
                }
            };
            match frame {
                None => {
                    if let Some(sender) = self.sender.take() {
                        self.client.keep(sender);
                    }
                    return Ok(None);
                }
                Some(Err(e)) => return Err(HttpError::exchange(&e)),
                Some(Ok(frame)) => {
                    // Trailers, if any, are of no use here.
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
    }
}

/// A body, decoded, at most `limit` bytes: a larger one is refused without being read
/// to the end, so a broken server cannot exhaust the device's memory.
async fn read_body(response: &mut Response<'_>, limit: usize) -> Result<Vec<u8>, HttpClientError> {
    let gzipped = match response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(encoding) if encoding == "identity" => false,
        Some(encoding) if encoding == "gzip" => true,
        Some(other) => {
            return Err(HttpClientError::Decode {
                reason: format!("unsupported content encoding {}", quote(&other)),
            })
        }
    };
    let too_large = HttpClientError::TooLarge {
        limit: limit as u64,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large);
    }
    let (body, complete) = read_at_most(response, limit)
        .await
        .map_err(|e| HttpClientError::network(e.to_string()))?;
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
fn gunzip_at_most(compressed: &[u8], limit: usize) -> Result<Vec<u8>, HttpClientError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpClientError::Decode {
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(HttpClientError::TooLarge {
            limit: limit as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
