//! The device's HTTP/1.1 client: hyper's connection layer over tokio, TLS by rustls
//! (ring, the Mozilla roots of `webpki-roots`), one connection kept open between
//! requests. The device only ever talks to its own server, one request at a time from
//! the upload thread, so this is all it needs of a general client such as reqwest,
//! whose pool, proxies, redirects and URL handling cost 0.73 MB of the library
//! (BENCHMARKS.md, "Library size").
//!
//! What it does: resolves the host (on tokio's blocking pool), connects to its
//! addresses in turn, giving the other address family a start after 300 ms when the
//! first is slow (as browsers and hyper's own connector do), sets `TCP_NODELAY`,
//! negotiates TLS 1.2 or 1.3 with ALPN `http/1.1`, and bounds each request, from
//! connecting to the last byte of the answer, by one timeout. A request on the kept
//! connection that fails before any answer (the server closed it meanwhile) is sent
//! once more on a new connection: reads are safe to repeat, and the server
//! deduplicates the events of a batch sent twice. No redirects are followed, no proxy
//! from the environment is used and nothing is decompressed here.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// How long the first address family has before the other one is tried alongside.
const FALLBACK_DELAY: Duration = Duration::from_millis(300);

/// Where the server is: the parts of the configured URL that a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    /// The host as DNS and TLS see it: a name, or an IP address (IPv6 without brackets).
    host: String,
    port: u16,
    /// `host[:port]` as configured: the `Host` header.
    authority: String,
    /// The configured path without its trailing slash: `""` or `/beckon`.
    base_path: String,
}

impl Endpoint {
    /// Reads a server URL such as `https://api.shop.example` or
    /// `http://127.0.0.1:8080/beckon/`. Says why when it cannot be used.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            format!("{e} (a host name that is not ASCII must be given in its xn-- form)")
        })?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err("the scheme must be http or https".into()),
        };
        let Some(authority) = uri.authority() else {
            return Err("it has no host".into());
        };
        if authority.as_str().contains('@') {
            return Err("it must not hold a user name or password".into());
        }
        let bracketed = authority.host();
        let host = bracketed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(bracketed);
        if host.is_empty() {
            return Err("it has no host".into());
        }
        // After the host: nothing, or `:` and a port (empty meaning the default one).
        let port = match &authority.as_str()[bracketed.len()..] {
            "" | ":" => None,
            port => match port[1..].parse::<u16>() {
                Ok(port) if port > 0 => Some(port),
                _ => return Err(format!("{port:?} is not a port")),
            },
        };
        if uri.query().is_some() || url.contains('#') {
            return Err("it must not have a query or fragment".into());
        }
        if https && ServerName::try_from(host).is_err() {
            return Err(format!("{host:?} is not a host name or IP address"));
        }
        Ok(Endpoint {
            https,
            host: host.to_owned(),
            port: port.unwrap_or(if https { 443 } else { 80 }),
            authority: match port {
                Some(port) => format!("{bracketed}:{port}"),
                None => bracketed.to_owned(),
            },
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The path of an API endpoint under the configured base: `/beckon` + `/v1/sync`.
    pub fn path(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.base_path)
    }

    /// The whole URL of an API endpoint, for people.
    pub fn url(&self, endpoint: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path(endpoint))
    }
}

/// `application/x-www-form-urlencoded` text of one query parameter value, as a form
/// (and the server's query parser) reads it.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

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
pub struct HttpClient {
    endpoint: Endpoint,
    host_header: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
    /// The connection kept open after a complete answer, for the next request.
    idle: Mutex<Option<Sender>>,
}

impl HttpClient {
    /// A client trusting the Mozilla root certificates (`webpki-roots`), whatever the
    /// platform holds.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<HttpClient, String> {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        HttpClient::with_roots(endpoint, timeout, roots)
    }

    /// A client trusting `roots` only (tests use a certificate authority of their own).
    pub(crate) fn with_roots(
        endpoint: Endpoint,
        timeout: Duration,
        roots: RootCertStore,
    ) -> Result<HttpClient, String> {
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
        Ok(HttpClient {
            endpoint,
            host_header,
            tls,
            timeout,
            idle: Mutex::new(None),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
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
    client: &'a HttpClient,
    status: u16,
    headers: HeaderMap,
    body: Incoming,
    /// Given back to the client once the body is read to the end.
    sender: Option<Sender>,
    deadline: Instant,
}

impl<'a> Response<'a> {
    fn new(
        client: &'a HttpClient,
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

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests;
