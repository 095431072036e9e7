//! No client can stall the server: idle sockets, headers or bodies sent a byte at a
//! time and connection floods are cut off by their timeouts or refused at the cap,
//! while normal uploads keep their usual latency. Real sockets, real HTTP.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{batch, events, gzip, TestServer, ADMIN_TOKEN, APP_KEY};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const IDLE_SOCKETS: usize = 3_000;
/// How much later than its timeout a connection may close on a loaded machine.
const SLACK: Duration = Duration::from_secs(5);
/// How much earlier: the server measures from the accept, the test from the connect.
const EARLY: Duration = Duration::from_millis(50);

/// A minimal HTTP/1.1 response: status, lowercased head, body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }
}

/// Reads one response (head, then a `content-length` body).
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Answer> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while bytes.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
    Ok(Answer { status, head, body })
}

async fn get(stream: &mut TcpStream, path: &str) -> Answer {
    let request = format!("GET {path} HTTP/1.1\r\nhost: beckon\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_answer(stream).await.unwrap()
}

/// Waits until the server closes `stream` (end of stream or reset) and returns when;
/// panics if it is still open at `deadline`.
async fn closed_by_server(stream: &mut (impl AsyncRead + Unpin), deadline: Instant) -> Instant {
    let mut sink = [0u8; 1024];
    loop {
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut sink)).await;
        match read.expect("the server closes the connection in time") {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => continue,
        }
    }
}

fn assert_closed_after(what: &str, opened: Instant, closed: Instant, timeout: Duration) {
    let lasted = closed - opened;
    assert!(
        lasted + EARLY >= timeout && lasted <= timeout + SLACK,
        "{what} closed after {lasted:?}, timeout {timeout:?}"
    );
}

/// Uploads a gzip batch as the SDK does and returns how long the answer took.
async fn upload(server: &TestServer, body: &[u8]) -> Duration {
    let started = Instant::now();
    let response = server.post_raw(body.to_vec(), Some("gzip")).await;
    assert_eq!(response.status(), StatusCode::OK);
    started.elapsed()
}

fn p95(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 95).div_ceil(100) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_and_a_slow_header_do_not_slow_uploads() {
    // Each socket is two descriptors in this process: the client's and the server's.
    rlimit::increase_nofile_limit(4 * IDLE_SOCKETS as u64).unwrap();
    let idle = Duration::from_secs(4);
    let header = Duration::from_secs(2);
    let server = TestServer::start_with(|config| {
        config.limits.idle_timeout = idle;
        config.limits.header_timeout = header;
    })
    .await;
    let addr = server.addr();
    let body = gzip(&serde_json::to_vec(&batch(events(20))).unwrap());

    let mut baseline = Vec::new();
    for _ in 0..30 {
        baseline.push(upload(&server, &body).await);
    }

    // The attack: idle sockets, then a header sent one byte every two seconds.
    let mut sockets = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS / 100 {
        let mut connecting = JoinSet::new();
        for _ in 0..100 {
            connecting
                .spawn(async move { (TcpStream::connect(addr).await.unwrap(), Instant::now()) });
        }
        sockets.extend(connecting.join_all().await);
    }
    let slow = tokio::spawn(slow_header(addr));
    let open = server.metric("beckon_http_connections_open").await;
    assert!(open >= IDLE_SOCKETS as f64, "{open} connections open");

    // Uploads go on through the attack, until every attacking socket is closed.
    let attack_over = AtomicBool::new(false);
    let uploads = async {
        let mut latencies = Vec::new();
        while !attack_over.load(Ordering::Relaxed) {
            latencies.push(upload(&server, &body).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies
    };
    let closures = async {
        let mut waiting = JoinSet::new();
        for (mut socket, opened) in sockets {
            waiting.spawn(async move {
                let closed = closed_by_server(&mut socket, opened + idle + SLACK).await;
                (opened, closed)
            });
        }
        for (opened, closed) in waiting.join_all().await {
            assert_closed_after("an idle socket", opened, closed, idle);
        }
        let (first_byte, closed) = slow.await.unwrap();
        assert_closed_after("the slow header", first_byte, closed, header);
        assert!(
            closed - first_byte < idle,
            "cut by the header timeout, not the idle one"
        );
        attack_over.store(true, Ordering::Relaxed);
    };
    let (during, ()) = tokio::join!(uploads, closures);

    let (before, under_attack) = (p95(baseline), p95(during.clone()));
    println!(
        "upload p95 {before:?} before, {under_attack:?} during the attack ({} uploads)",
        during.len()
    );
    let bound = (before * 5).max(Duration::from_millis(500));
    assert!(
        under_attack <= bound,
        "p95 {under_attack:?} during the attack, {before:?} before"
    );
    assert!(
        server
            .metric(r#"beckon_http_connections_timed_out_total{phase="idle"}"#)
            .await
            >= IDLE_SOCKETS as f64
    );
    assert_eq!(
        server
            .metric(r#"beckon_http_connections_timed_out_total{phase="header"}"#)
            .await,
        1.0
    );
}

/// Sends a request header one byte every two seconds until the server closes the
/// connection; returns when the first byte went out and when the connection closed.
async fn slow_header(addr: SocketAddr) -> (Instant, Instant) {
    let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
    let first_byte = Instant::now();
    let trickle = tokio::spawn(async move {
        let head =
            format!("POST /v1/batch HTTP/1.1\r\nhost: beckon\r\nx-beckon-app-key: {APP_KEY}\r\n");
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let closed = closed_by_server(&mut reader, first_byte + Duration::from_secs(30)).await;
    trickle.abort();
    (first_byte, closed)
}

#[tokio::test]
async fn a_silent_kept_alive_connection_closes_after_the_idle_timeout_a_busy_one_does_not() {
    let idle = Duration::from_secs(1);
    let server = TestServer::start_with(|config| config.limits.idle_timeout = idle).await;
    let addr = server.addr();

    let silent = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut stream, "/healthz").await.status, 200);
        let answered = Instant::now();
        let closed = closed_by_server(&mut stream, answered + idle + SLACK).await;
        assert_closed_after("a silent connection", answered, closed, idle);
    };
    let busy = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        // Requests 400 ms apart, over more than twice the idle timeout, on one socket.
        while started.elapsed() < idle * 5 / 2 {
            assert_eq!(get(&mut stream, "/healthz").await.status, 200);
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    };
    tokio::join!(silent, busy);
    assert!(
        server
            .metric(r#"beckon_http_connections_timed_out_total{phase="idle"}"#)
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn a_body_trickling_in_gets_408_and_the_connection_closes() {
    let body_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(|config| {
        config.limits.body_timeout = body_timeout;
        config.limits.request_timeout = Duration::from_secs(20);
    })
    .await;
    let addr = server.addr();
    let batch_head = format!(
        "POST /v1/batch HTTP/1.1\r\nhost: beckon\r\nx-beckon-app-key: {APP_KEY}\r\n\
         content-type: application/json\r\ncontent-length: 4000\r\n\r\n"
    );
    let admin_head = format!(
        "PUT /v1/admin/users/u-1/permissions/email HTTP/1.1\r\nhost: beckon\r\n\
         authorization: Bearer {ADMIN_TOKEN}\r\ncontent-type: application/json\r\n\
         content-length: 4000\r\n\r\n"
    );
    let (batch, admin) = tokio::join!(
        trickle_body(addr, batch_head),
        trickle_body(addr, admin_head)
    );
    for (answer, took) in [batch, admin] {
        assert_eq!(answer.status, 408, "{}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "request_timeout");
        assert!(answer.head.contains("connection: close"), "{}", answer.head);
        assert!(
            took + EARLY >= body_timeout && took <= body_timeout + SLACK,
            "answered after {took:?}"
        );
    }
    assert_eq!(
        server
            .metric(r#"beckon_http_connections_timed_out_total{phase="body"}"#)
            .await,
        2.0
    );
}

/// Sends `head`, then a body one byte every 200 ms; returns the answer, how long after
/// the head it came, and checks the server then closed the connection.
async fn trickle_body(addr: SocketAddr, head: String) -> (Answer, Duration) {
    let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let answer = read_answer(&mut reader).await.unwrap();
    let took = sent.elapsed();
    trickle.abort();
    closed_by_server(&mut reader, Instant::now() + SLACK).await;
    (answer, took)
}

#[tokio::test]
async fn past_the_cap_connections_are_refused_at_once_until_places_free_up() {
    const CAP: usize = 5;
    let idle = Duration::from_secs(2);
    let server = TestServer::start_with(|config| {
        config.limits.max_connections = CAP;
        config.limits.idle_timeout = idle;
    })
    .await;
    let addr = server.addr();
    // Each takes its place for sure: it is answered once, then stays silent.
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut stream, "/healthz").await.status, 200);
        held.push(stream);
    }
    let filled = Instant::now();
    // More silent ones than the server lingers on: refusing must not depend on them.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }

    let started = Instant::now();
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let refused = get(&mut extra, "/healthz").await;
    let took = started.elapsed();
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "overloaded");
    assert!(refused.head.contains("retry-after: 1"), "{}", refused.head);
    closed_by_server(&mut extra, Instant::now() + SLACK).await;
    println!("refused in {took:?}");
    assert!(took < Duration::from_millis(500), "refused after {took:?}");

    for mut stream in held {
        closed_by_server(&mut stream, filled + idle + SLACK).await;
    }
    // The slots free up as the server's tasks end, just after the sockets close.
    let mut served = None;
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let status = get(&mut stream, "/healthz").await.status;
        if status == 200 {
            served = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        served.is_some(),
        "served again once idle connections closed"
    );
    assert!(server.metric("beckon_http_connections_refused_total").await >= 101.0);
    drop(silent);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(get(&mut idle, "/healthz").await.status, 200);

    let body = serde_json::to_vec(&batch(events(3))).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nhost: beckon\r\nx-beckon-app-key: {APP_KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    closed_by_server(&mut idle, started + SLACK).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connection once stopping"
    );
    in_flight.write_all(rest).await.unwrap();
    let answer = read_answer(&mut in_flight).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["accepted"], 3);
    closed_by_server(&mut in_flight, Instant::now() + SLACK).await;
    tokio::time::timeout(SLACK, stopping)
        .await
        .expect("shutdown ends once the request is answered")
        .unwrap();
}
