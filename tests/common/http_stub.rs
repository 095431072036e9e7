//! A scripted HTTP/1.1 server on loopback: it answers each request with the next reply
//! of its script and records what it was asked, so a test can check the headers the
//! SDK sent and control exactly what comes back (status, ETag, encoding, size).
//!
//! Requests without the expected app key are answered 401 without using a step of the
//! script. Every answer closes its connection.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use beckon::protocol::APP_KEY_HEADER;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send no `content-length`: the body ends when the connection closes.
    pub without_length: bool,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Vec::new(),
            without_length: false,
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            body: body.into(),
            ..Reply::status(status)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn without_length(mut self) -> Reply {
        self.without_length = true;
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct HttpStub {
    pub url: String,
    address: std::net::SocketAddr,
    script: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stopped: Arc<AtomicBool>,
}

impl HttpStub {
    /// Serves on loopback, expecting `app_key` on every request. Once the script is
    /// used up, every request gets a 503 saying so, which the test will notice.
    pub fn start(app_key: &str, script: Vec<Reply>) -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stub = HttpStub {
            url: format!("http://{address}"),
            address,
            script: Arc::new(Mutex::new(script.into())),
            requests: Arc::new(Mutex::new(Vec::new())),
            stopped: Arc::new(AtomicBool::new(false)),
        };
        let (script, requests, stopped) = (
            stub.script.clone(),
            stub.requests.clone(),
            stub.stopped.clone(),
        );
        let app_key = app_key.to_owned();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(socket) = socket else { continue };
                let (script, requests, app_key) =
                    (script.clone(), requests.clone(), app_key.clone());
                std::thread::spawn(move || {
                    let _ = answer(socket, &script, &requests, &app_key);
                });
            }
        });
        stub
    }

    /// Adds replies to the end of the script.
    pub fn then(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

fn answer(
    mut socket: TcpStream,
    script: &Mutex<VecDeque<Reply>>,
    requests: &Mutex<Vec<Recorded>>,
    app_key: &str,
) -> std::io::Result<()> {
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let Some(request) = read_request(&mut socket)? else {
        return Ok(());
    };
    let authorized = request.header(APP_KEY_HEADER) == Some(app_key);
    requests.lock().unwrap().push(request);
    let reply =
        if authorized {
            script.lock().unwrap().pop_front().unwrap_or_else(|| {
                Reply::json(503, r#"{"error":"the test stub's script is used up"}"#)
            })
        } else {
            Reply::json(401, r#"{"error":"wrong or missing app key"}"#)
        };
    let mut head = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", reply.status);
    if !reply.without_length {
        head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes())?;
    // The client may hang up early on purpose (an answer over its limit).
    socket.write_all(&reply.body)?;
    socket.flush()
}

fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Recorded>> {
    let mut buf = Vec::new();
    let header_end = loop {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk)?;
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
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // Drain a body, if any, so closing the socket does not reset the connection
    // before the client has read the answer.
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = buf.len() - header_end;
    while body < length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body += n;
    }
    Ok(Some(Recorded {
        at: Instant::now(),
        method,
        path,
        headers,
    }))
}
