//! The client against small servers on loopback: plain and TLS (a certificate
//! authority made for the test), kept and dropped connections, timeouts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// How the test server treats a connection after answering.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Waits for the next request on it.
    Keep,
    /// Closes it without saying so in the answer (as a server whose idle timeout
    /// passed between two requests).
    Close,
    /// Never answers.
    Stall,
}

struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
}

/// Serves on loopback, answering every request `200` with `hello` (plus the number of
/// the connection), over TLS with `tls`.
async fn serve(tls: Option<TlsAcceptor>, after: After) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(socket).await {
                            answer(stream, number, after).await;
                        }
                    }
                    None => answer(socket, number, after).await,
                }
            });
        }
    });
    Server { url, connections }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, number: usize, after: After) {
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        if after == After::Stall {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let text = format!("hello {number} {}", head.lines().next().unwrap_or_default());
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        if after == After::Close {
            return;
        }
    }
}

async fn send(
    client: &BuiltinClient,
    method: HttpMethod,
    path: &str,
    body: &[u8],
) -> Result<(u16, String), HttpClientError> {
    let request = HttpRequest {
        method,
        url: format!("{}{path}", client.endpoint.url("")),
        headers: Vec::new(),
        body: body.to_vec(),
        timeout_ms: 0,
        max_response_bytes: 1024,
    };
    let response = client.exchange(request).await?;
    Ok((response.status, String::from_utf8(response.body).unwrap()))
}

async fn get(client: &BuiltinClient, path: &str) -> Result<(u16, String), HttpClientError> {
    send(client, HttpMethod::Get, path, b"").await
}

fn client(url: &str, timeout: Duration) -> BuiltinClient {
    BuiltinClient::new(Endpoint::parse(url).unwrap(), timeout).unwrap()
}

#[tokio::test]
async fn keeps_the_connection_between_requests() {
    let server = serve(None, After::Keep).await;
    let client = client(&server.url, SECOND);
    assert_eq!(
        get(&client, "/a").await.unwrap(),
        (200, "hello 1 get /a http/1.1".into())
    );
    assert_eq!(
        get(&client, "/b?x=1").await.unwrap(),
        (200, "hello 1 get /b?x=1 http/1.1".into())
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced() {
    let server = serve(None, After::Close).await;
    let client = client(&server.url, SECOND);
    for expected in ["hello 1 get /a http/1.1", "hello 2 get /a http/1.1"] {
        let (status, body) = get(&client, "/a").await.unwrap();
        assert_eq!((status, body.as_str()), (200, expected));
    }
    let posted = send(&client, HttpMethod::Post, "/p", b"{}").await.unwrap();
    assert_eq!(posted, (200, "hello 3 post /p http/1.1".to_owned()));
}

#[tokio::test]
async fn one_timeout_bounds_the_whole_request() {
    let server = serve(None, After::Stall).await;
    let client = client(&server.url, Duration::from_millis(300));
    let started = Instant::now();
    let error = get(&client, "/").await.unwrap_err();
    assert!(error.to_string().starts_with("timed out: "), "{error}");
    assert!(started.elapsed() < SECOND * 2);
}

#[tokio::test]
async fn a_closed_port_cannot_be_connected_to() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client(&format!("http://127.0.0.1:{port}"), SECOND);
    let error = get(&client, "/").await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("could not connect: 127.0.0.1:"),
        "{error}"
    );
}

/// A certificate authority and a server certificate it signed for 127.0.0.1.
fn authority() -> (RootCertStore, TlsAcceptor) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    (roots, TlsAcceptor::from(Arc::new(config)))
}

#[tokio::test]
async fn speaks_tls_to_a_server_it_trusts() {
    let (roots, acceptor) = authority();
    let server = serve(Some(acceptor), After::Keep).await;
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let client = BuiltinClient::with_roots(endpoint, SECOND, roots).unwrap();
    for _ in 0..2 {
        let (status, body) = get(&client, "/v1/sync").await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (200, "hello 1 get /v1/sync http/1.1")
        );
    }
}

#[tokio::test]
async fn refuses_a_certificate_the_mozilla_roots_do_not_vouch_for() {
    let (_, acceptor) = authority();
    let server = serve(Some(acceptor), After::Keep).await;
    let error = get(&client(&server.url, SECOND), "/").await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("could not connect: TLS with 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("UnknownIssuer"), "{text}");
}

#[test]
fn decompression_stops_at_the_limit() {
    let document = vec![b'x'; 10_000];
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &document).unwrap();
    let compressed = encoder.finish().unwrap();
    assert_eq!(gunzip_at_most(&compressed, 10_000).unwrap(), document);
    assert_eq!(
        gunzip_at_most(&compressed, 9_999),
        Err(HttpClientError::TooLarge { limit: 9_999 })
    );
    assert!(matches!(
        gunzip_at_most(b"not gzip at all", 100),
        Err(HttpClientError::Decode { .. })
    ));
}
