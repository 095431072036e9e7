//! A real server on loopback with a temporary SQLite file, and a real HTTP client.
#![allow(dead_code)] // each test binary uses a different part

pub mod process;

use std::io::Write;

use beckon::protocol::{APP_KEY_HEADER, BATCH_PATH, EVENTS_PATH, NEXT_CURSOR_HEADER};
use beckon_server::{start, RunningServer, ServerConfig};
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const APP_KEY: &str = "app-key-test-1";
pub const ADMIN_TOKEN: &str = "admin-token-test";
const DB_FILE: &str = "beckon-server.db";

pub struct TestServer {
    server: Option<RunningServer>,
    pub url: String,
    dir: TempDir,
    pub http: reqwest::Client,
    builtins: bool,
    configure: fn(&mut ServerConfig),
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_seeded(false).await
    }

    /// A server that seeds the built-in segments, as the command line does.
    pub async fn start_with_builtins() -> Self {
        Self::start_seeded(true).await
    }

    async fn start_seeded(builtins: bool) -> Self {
        Self::start_configured(builtins, |_| {}).await
    }

    /// A server whose configuration `configure` adjusts first, and again at restarts.
    pub async fn start_configured(builtins: bool, configure: fn(&mut ServerConfig)) -> Self {
        Self::launch(builtins, configure, configure).await
    }

    async fn launch(
        builtins: bool,
        configure: impl FnOnce(&mut ServerConfig),
        at_restart: fn(&mut ServerConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = config(&dir, builtins);
        configure(&mut settings);
        let server = start(settings).await.expect("server starts");
        Self {
            url: server.url(),
            server: Some(server),
            dir,
            http: reqwest::Client::new(),
            builtins,
            configure: at_restart,
        }
    }

    /// A server whose configuration `configure` adjusts once (limits, rates): a restart
    /// starts with the defaults.
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::launch(false, configure, |_| {}).await
    }

    /// The bound address, for raw sockets.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().addr
    }

    /// The value of one series of `GET /metrics` (`name{labels}` as written there), 0
    /// when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        // From an address of its own, so that reading metrics spends none of the
        // tokens a rate-limit test counts on.
        let scraper = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 254]))
            .build()
            .unwrap();
        let response = scraper
            .get(self.endpoint("/metrics"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let (status, text) = (response.status(), response.text().await.unwrap());
        assert_eq!(status, StatusCode::OK, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.parse().unwrap())
    }

    /// Stops the server (unless stopped) and starts a new one on the same database
    /// file.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut settings = config(&self.dir, self.builtins);
        (self.configure)(&mut settings);
        let server = start(settings).await.expect("server restarts");
        self.url = server.url();
        self.server = Some(server);
    }

    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops the server, keeping its database file.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// The server's database file, for opening a second store on it (as another
    /// server instance would).
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join(DB_FILE)
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Posts a raw body with the right app key; `encoding` is the Content-Encoding.
    pub async fn post_raw(&self, body: Vec<u8>, encoding: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.endpoint(BATCH_PATH))
            .header(APP_KEY_HEADER, APP_KEY)
            .header("content-type", "application/json")
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.send().await.unwrap()
    }

    /// Posts a batch gzipped, as the SDK does, and returns the status and JSON answer.
    pub async fn send(&self, batch: &Value) -> (StatusCode, Value) {
        let body = gzip(&serde_json::to_vec(batch).unwrap());
        json_answer(self.post_raw(body, Some("gzip")).await).await
    }

    pub async fn export(&self, query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}?{query}", self.endpoint(EVENTS_PATH)))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// One successful export page: its lines and the next cursor.
    pub async fn page(&self, query: &str) -> (Vec<Value>, String) {
        let response = self.export(query).await;
        assert_eq!(response.status(), StatusCode::OK, "export {query}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/x-ndjson");
        let cursor = response.headers()[NEXT_CURSOR_HEADER]
            .to_str()
            .unwrap()
            .to_string();
        let text = response.text().await.unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "lines end with newline"
        );
        let lines = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect();
        (lines, cursor)
    }

    /// Every stored event, following the cursor to the end.
    pub async fn export_all(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let (lines, next) = self.page(&format!("cursor={cursor}&limit=1000")).await;
            if lines.is_empty() {
                assert_eq!(next, cursor, "an empty page keeps the cursor");
                return all;
            }
            all.extend(lines);
            cursor = next;
        }
    }
}

impl TestServer {
    /// An admin API request with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.endpoint(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        json_answer(self.admin(reqwest::Method::GET, path).send().await.unwrap()).await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.admin(reqwest::Method::POST, path).json(body);
        json_answer(request.send().await.unwrap()).await
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.admin(reqwest::Method::PUT, path).json(body);
        json_answer(request.send().await.unwrap()).await
    }

    /// Creates a segment or campaign and insists it worked.
    pub async fn create(&self, collection: &str, definition: &Value) -> Value {
        let (status, record) = self.admin_post(collection, definition).await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        record
    }

    /// `GET /v1/sync` with the app key, conditional when `etag` is given.
    pub async fn sync(&self, etag: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .get(self.endpoint(beckon::protocol::SYNC_PATH))
            .header(APP_KEY_HEADER, APP_KEY);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send().await.unwrap()
    }
}

/// The message of an error answer, after checking its status and code.
pub fn error_message(answer: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    let (actual, body) = answer;
    assert_eq!(*actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string()
}

pub const SEGMENTS: &str = "/v1/admin/segments";
pub const CAMPAIGNS: &str = "/v1/admin/campaigns";

/// A valid segment: users who ordered at least `orders` times.
pub fn buyer_segment(id: &str, orders: u32) -> Value {
    json!({
        "schema": 1,
        "id": id,
        "name": "Buyers",
        "rule": {"count": {"event": "Order Completed"}, "at_least": orders}
    })
}

/// A valid campaign shown to `audience` when the user enters `trigger_segment`.
pub fn campaign(id: &str, audience: &[&str], trigger_segment: &str) -> Value {
    json!({
        "schema_version": 1,
        "id": id,
        "name": "Free shipping nudge",
        "status": "active",
        "trigger": {"segment_entered": trigger_segment},
        "audience": {"segments": audience},
        "default_locale": "en",
        "variants": {"en": {
            "title": "Hi {{first_name | there}}!",
            "body": "Add {{free_shipping_remaining}} more for free shipping."
        }}
    })
}

fn config(dir: &TempDir, builtins: bool) -> ServerConfig {
    let config = ServerConfig::loopback(
        dir.path().join(DB_FILE),
        vec!["other-app-key".into(), APP_KEY.into()],
        ADMIN_TOKEN,
    );
    if builtins {
        config.with_builtin_segments()
    } else {
        config
    }
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A valid track event stamped `timestamp` by the device clock.
pub fn event_at(name: &str, timestamp: DateTime<Utc>) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "track",
        "name": name,
        "properties": {"product_id": "p-1", "price": 19.99},
        "anonymous_id": "anon-1",
        "user_id": "user-1",
        "timestamp": rfc3339(timestamp),
        "context": {"app": {"version": "1.2.3"}}
    })
}

pub fn event(name: &str) -> Value {
    event_at(name, Utc::now())
}

pub fn batch_sent_at(sent_at: DateTime<Utc>, events: Vec<Value>) -> Value {
    json!({"sent_at": rfc3339(sent_at), "batch": events})
}

pub fn batch(events: Vec<Value>) -> Value {
    batch_sent_at(Utc::now(), events)
}

pub fn events(n: usize) -> Vec<Value> {
    (0..n).map(|i| event(&format!("Event {i}"))).collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub async fn json_answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("answer with status {status} is not JSON ({err}): {text:?}"));
    (status, value)
}

/// Asserts the uniform error shape and returns the message.
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    let (actual, body) = json_answer(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    assert!(!message.is_empty());
    message
}

pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}
