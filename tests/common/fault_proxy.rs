//! An HTTP/1.1 proxy in front of the real server that misbehaves on cue: it answers
//! errors itself, or forwards the request and then loses, delays or cuts the answer.
//! It speaks raw TCP so it can drop a connection halfway through a response, as a
//! flaky mobile network does. Started closed, it holds every request until the test
//! opens it, so a test can act while the SDK's worker is known to be waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward and relay the server's answer.
    Pass,
    /// Answer this status without forwarding.
    Reply(u16),
    /// Answer 429 with `Retry-After: <seconds>` without forwarding.
    Throttle(u64),
    /// Forward (the server stores the batch), then answer 500.
    StoreThenFail,
    /// Forward, then send half of the server's answer and close the connection.
    StoreThenCut,
    /// Forward, then say nothing for this long (past the client's timeout).
    StoreThenStall(Duration),
}

/// What the proxy saw: when each request came and what it did with it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub fault: Fault,
    pub upstream_status: Option<u16>,
}

pub struct FaultProxy {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    gate: watch::Sender<bool>,
    held: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Serves on loopback, applying `script[i]` to the i-th request and `Pass` after it.
    pub async fn start(upstream: String, script: Vec<Fault>) -> FaultProxy {
        Self::start_gated(upstream, script, true).await
    }

    /// Like [`FaultProxy::start`], but every connection (syncs included) waits until
    /// [`FaultProxy::open`] is called.
    pub async fn start_closed(upstream: String, script: Vec<Fault>) -> FaultProxy {
        Self::start_gated(upstream, script, false).await
    }

    async fn start_gated(upstream: String, script: Vec<Fault>, open: bool) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let log = seen.clone();
        let (gate, gate_open) = watch::channel(open);
        let held = Arc::new(AtomicUsize::new(0));
        let held_count = held.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, log, script) = (upstream.clone(), log.clone(), script.clone());
                let (mut gate_open, held) = (gate_open.clone(), held_count.clone());
                tokio::spawn(async move {
                    if !*gate_open.borrow() {
                        held.fetch_add(1, Ordering::SeqCst);
                        if gate_open.wait_for(|open| *open).await.is_err() {
                            return;
                        }
                    }
                    let _ = handle(socket, &script, &upstream, &log).await;
                });
            }
        });
        FaultProxy {
            url,
            seen,
            gate,
            held,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Lets held connections and every later one through.
    pub fn open(&self) {
        self.gate.send_replace(true);
    }

    /// Connections that came while the proxy was closed.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let header_end = loop {
        let mut chunk = [0u8; 8192];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or("GET").to_owned();
    let path = request_line.next().unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

async fn forward(upstream: &str, request: &Request) -> (u16, Vec<u8>) {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut outgoing = client
        .request(method, format!("{upstream}{}", request.path))
        .body(request.body.clone());
    for (name, value) in &request.headers {
        if matches!(
            name.as_str(),
            "content-type" | "content-encoding" | "x-beckon-app-key" | "if-none-match"
        ) {
            outgoing = outgoing.header(name, value);
        }
    }
    let response = outgoing.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

fn response(status: u16, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn handle(
    mut socket: TcpStream,
    script: &Mutex<std::vec::IntoIter<Fault>>,
    upstream: &str,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut socket).await? else {
        return Ok(());
    };
    // The SDK also syncs definitions (a GET); faults are injected into uploads only, so
    // a sync passes straight through without using a step of the script or showing
    // in `seen`.
    if request.method != "POST" {
        let (status, body) = forward(upstream, &request).await;
        socket.write_all(&response(status, "", &body)).await?;
        return socket.flush().await;
    }
    let fault = script.lock().unwrap().next().unwrap_or(Fault::Pass);
    let at = Instant::now();
    let error_body =
        br#"{"error":{"code":"injected","message":"fault injected by the test proxy"}}"#;
    let mut upstream_status = None;
    let bytes = match fault {
        Fault::Reply(code) => response(code, "", error_body),
        Fault::Throttle(seconds) => {
            response(429, &format!("retry-after: {seconds}\r\n"), error_body)
        }
        Fault::Pass | Fault::StoreThenFail | Fault::StoreThenCut | Fault::StoreThenStall(_) => {
            let (status, body) = forward(upstream, &request).await;
            upstream_status = Some(status);
            match fault {
                Fault::StoreThenFail => response(500, "", error_body),
                Fault::StoreThenCut => {
                    let full = response(status, "", &body);
                    full[..full.len() - body.len() / 2 - 1].to_vec()
                }
                Fault::StoreThenStall(pause) => {
                    tokio::time::sleep(pause).await;
                    response(status, "", &body)
                }
                _ => response(status, "", &body),
            }
        }
    };
    log.lock().unwrap().push(Seen {
        at,
        fault,
        upstream_status,
    });
    socket.write_all(&bytes).await?;
    socket.flush().await?;
    // Dropping the socket closes it; for a cut answer that is mid-body.
    Ok(())
}
