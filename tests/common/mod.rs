//! What the integration tests share: a real `beckon-server` on loopback with its own
//! SQLite file, read back through its export API, and SDK configs pointing at it.

#![allow(dead_code)]

pub mod fault_proxy;
pub mod process;
pub mod samples;

use std::path::Path;
use std::time::{Duration, Instant};

use beckon::client::{BeckonConfig, FlushPolicy};
use beckon::protocol::NEXT_CURSOR_HEADER;
use beckon_server::{RunningServer, ServerConfig};
use serde_json::Value;

pub const APP_KEY: &str = "test-app-key";
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A reference server running on its own tokio runtime, for tests that are otherwise
/// synchronous (the SDK's API is).
pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// A server whose configuration `configure` adjusts first (rate limits, timeouts,
    /// verified identities).
    pub fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::loopback(
            dir.path().join("server.db"),
            vec![APP_KEY.into()],
            ADMIN_TOKEN,
        )
        .with_builtin_segments();
        configure(&mut config);
        let server = runtime.block_on(beckon_server::start(config)).unwrap();
        TestServer {
            url: server.url(),
            server: Some(server),
            runtime,
            _dir: dir,
        }
    }

    /// Every stored event, in store order, following the export cursor to the end.
    pub fn export(&self) -> Vec<Value> {
        self.runtime.block_on(async {
            let client = reqwest::Client::new();
            let mut cursor = String::new();
            let mut events = Vec::new();
            loop {
                let query = if cursor.is_empty() {
                    String::new()
                } else {
                    format!("&cursor={cursor}")
                };
                let response = client
                    .get(format!("{}/v1/events?limit=1000{query}", self.url))
                    .bearer_auth(ADMIN_TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let next = response.headers()[NEXT_CURSOR_HEADER]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = response.text().await.unwrap();
                let page: Vec<Value> = body
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                events.extend(page.iter().cloned());
                if page.is_empty() || next == cursor {
                    return events;
                }
                cursor = next;
            }
        })
    }
}

impl TestServer {
    /// Sends `body` to an admin route; returns the status and the JSON answer.
    pub fn admin_post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.admin_request(reqwest::Method::POST, path, Some(body))
    }

    /// Puts `body` on an admin route; returns the status and the JSON answer.
    pub fn admin_put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.admin_request(reqwest::Method::PUT, path, Some(body))
    }

    /// Reads an admin route; returns the status and the JSON answer.
    pub fn admin_get(&self, path: &str) -> (u16, Value) {
        self.admin_request(reqwest::Method::GET, path, None)
    }

    fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.runtime.block_on(async {
            let mut request = reqwest::Client::new()
                .request(method, format!("{}{path}", self.url))
                .bearer_auth(ADMIN_TOKEN);
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// An SDK config for tests: uploads only when asked, short timeouts and retries.
pub fn sdk_config(data_dir: &Path, server_url: &str) -> BeckonConfig {
    let mut config = BeckonConfig::new(data_dir.to_str().unwrap(), server_url, APP_KEY);
    config.flush_policy = FlushPolicy {
        flush_at: 500,
        flush_interval_ms: 3_600_000,
        request_timeout_ms: 2_000,
        retry_base_ms: 50,
        retry_max_ms: 400,
        ..Default::default()
    };
    config
}

/// Polls `done` until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// Runs the test `name` of this very test binary as a child process with `env` (the
/// test does its work only when it finds its variables), collects what follows
/// `acked ` on the lines it prints, and kills it with SIGKILL (no destructors, no
/// flushes) once it has printed `kill_after` of them. Returns every ack it managed to
/// print.
pub fn run_child_and_kill(name: &str, env: &[(&str, String)], kill_after: usize) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let mut child = process::this_test_binary()
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = line.strip_prefix("acked ") {
                if tx.send(ack.to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < kill_after {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(ack) => acked.push(ack),
            Err(e) => {
                let status = child.try_wait().ok().flatten();
                panic!(
                    "child stopped acknowledging after {}: {e} (child exit status: {status:?})",
                    acked.len()
                )
            }
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    reader.join().unwrap();
    acked.extend(rx.try_iter());
    acked
}
