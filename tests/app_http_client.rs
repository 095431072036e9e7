//! The device's requests made by an HTTP client the app gives, as the Kotlin and Swift
//! packages give the platform's: against a real server on loopback, through a client
//! written here over std's TCP (HTTP/1.1, one connection per request), then clients
//! that fail in the ways an app's code can (an error, a panic, no answer at all).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use beckon::client::Client;
use beckon::events::{Event, JsonValue, Properties};
use beckon::net::{HttpClient, HttpClientError, HttpHeader, HttpMethod, HttpRequest, HttpResponse};
use beckon::upload::FlushOutcome;

mod common;
use common::{sdk_config, TestServer, APP_KEY};

/// HTTP/1.1 over a plain loopback connection, closed after each answer.
struct PlainHttp {
    requests: Mutex<Vec<HttpRequest>>,
}

impl PlainHttp {
    fn new() -> Arc<PlainHttp> {
        Arc::new(PlainHttp {
            requests: Mutex::new(Vec::new()),
        })
    }

    fn exchange(request: &HttpRequest) -> std::io::Result<HttpResponse> {
        let rest = request.url.strip_prefix("http://").expect("a loopback URL");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = TcpStream::connect(authority)?;
        stream.set_read_timeout(Some(Duration::from_millis(request.timeout_ms)))?;
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
            request.method.as_str(),
            request.body.len()
        );
        for header in &request.headers {
            head.push_str(&format!("{}: {}\r\n", header.name, header.value));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&request.body)?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not a status line: {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push(HttpHeader::new(name.trim(), value.trim()));
        }
        let chunked = headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            reader
                .take(request.max_response_bytes + 1)
                .read_to_end(&mut body)?;
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl HttpClient for PlainHttp {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        self.requests.lock().unwrap().push(request.clone());
        PlainHttp::exchange(&request).map_err(|e| HttpClientError::network(e.to_string()))
    }
}

fn viewed(n: usize) -> Event {
    Event::Custom {
        name: "Viewed".into(),
        properties: Properties::from([("n".to_string(), JsonValue::Integer { value: n as i64 })]),
    }
}

#[test]
fn the_apps_client_makes_every_request_and_the_events_arrive() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let http = PlainHttp::new();
    let client =
        Client::with_http(sdk_config(dir.path(), &server.url), Some(http.clone())).unwrap();
    for n in 0..3 {
        client.track(&viewed(n)).unwrap();
    }
    let report = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (report.outcome, report.uploaded),
        (FlushOutcome::Delivered, 3)
    );
    client.shutdown();
    assert_eq!(server.export().len(), 3);

    let requests = http.requests.lock().unwrap();
    let batches: Vec<&HttpRequest> = requests
        .iter()
        .filter(|r| r.method == HttpMethod::Post)
        .collect();
    assert_eq!(batches.len(), 1, "{requests:?}");
    let batch = batches[0];
    assert_eq!(batch.url, format!("{}/v1/batch", server.url));
    let header = |name: &str| {
        batch
            .headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.as_str())
    };
    assert_eq!(header("content-encoding"), Some("gzip"));
    assert_eq!(header("x-beckon-app-key"), Some(APP_KEY));
    assert!(header("user-agent").unwrap().starts_with("beckon-sdk/"));
    assert_eq!(&batch.body[..2], &[0x1f, 0x8b], "a gzip stream");
    assert_eq!(batch.timeout_ms, 2_000, "the configured request timeout");
    assert!(batch.max_response_bytes > 0);
    assert!(
        requests
            .iter()
            .any(|r| r.method == HttpMethod::Get && r.url == format!("{}/v1/sync", server.url)),
        "the definitions sync goes through the app's client too: {requests:?}"
    );
}

/// Answers each request with what `answer` gives, counting the calls.
struct Scripted<F>(F, Mutex<usize>);

impl<F> HttpClient for Scripted<F>
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, HttpClientError> + Send + Sync,
{
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        *self.1.lock().unwrap() += 1;
        (self.0)(&request)
    }
}

/// A failing client keeps the events queued; the next instance on the same data
/// directory, with a working client, uploads all of them.
fn nothing_is_lost_when(failing: Arc<dyn HttpClient>, expected_error: &str) {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = sdk_config(dir.path(), &server.url);
    let client = Client::with_http(config.clone(), Some(failing)).unwrap();
    for n in 0..5 {
        client.track(&viewed(n)).unwrap();
    }
    let report = client.flush(Duration::from_secs(5)).unwrap();
    assert_ne!(report.outcome, FlushOutcome::Delivered, "{report:?}");
    let stats = client.stats().unwrap();
    assert_eq!(stats.queued_events, 5);
    let error = stats.last_error.unwrap_or_default();
    assert!(error.contains(expected_error), "{error}");
    client.shutdown();
    assert!(server.export().is_empty());

    let client = Client::with_http(config, Some(PlainHttp::new())).unwrap();
    let report = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (report.outcome, report.uploaded),
        (FlushOutcome::Delivered, 5)
    );
    assert_eq!(server.export().len(), 5);
}

#[test]
fn a_client_that_fails_keeps_the_events_for_later() {
    nothing_is_lost_when(
        Arc::new(Scripted(
            |_: &HttpRequest| Err(HttpClientError::network("the radio is off")),
            Mutex::new(0),
        )),
        "the radio is off",
    );
}

#[test]
fn a_client_that_panics_keeps_the_events_for_later() {
    nothing_is_lost_when(
        Arc::new(Scripted(
            |_: &HttpRequest| -> Result<HttpResponse, HttpClientError> { panic!("a bug") },
            Mutex::new(0),
        )),
        "the app's HTTP client failed",
    );
}

#[test]
fn a_client_answering_nonsense_keeps_the_events_for_later() {
    nothing_is_lost_when(
        Arc::new(Scripted(
            |_: &HttpRequest| {
                Ok(HttpResponse {
                    status: 42,
                    headers: Vec::new(),
                    body: Vec::new(),
                })
            },
            Mutex::new(0),
        )),
        "status 42, which is not an HTTP status",
    );
}

/// Never answers until the test lets it go.
struct Hangs(Mutex<mpsc::Receiver<()>>, mpsc::Sender<()>);

impl HttpClient for Hangs {
    fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        let _ = self.1.send(());
        let _ = self.0.lock().unwrap().recv();
        Err(HttpClientError::network("let go"))
    }
}

#[test]
fn shutdown_does_not_wait_for_a_client_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (release, held) = mpsc::channel();
    let (called, calls) = mpsc::channel();
    let config = sdk_config(dir.path(), "http://127.0.0.1:1");
    let client = Client::with_http(
        config.clone(),
        Some(Arc::new(Hangs(Mutex::new(held), called))),
    )
    .unwrap();
    client.track(&viewed(1)).unwrap();
    // The sync at start is under way, and stuck.
    calls.recv_timeout(Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    client.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(client);
    // The data directory is free again and the event still queued.
    let again = Client::with_http(config, Some(PlainHttp::new())).unwrap();
    assert_eq!(again.stats().unwrap().queued_events, 1);
    again.shutdown();
    release.send(()).unwrap();
}
