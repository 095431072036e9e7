//! A stand-in for APNs: HTTP/2 over TLS, token (ES256 JWT) authentication, and the
//! header and payload checks Apple makes.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use ring::signature::ECDSA_P256_SHA256_FIXED;
use serde_json::{json, Value};

use crate::jwt::verify;
use crate::keys::ApnsTestKey;
use crate::record::Rejections;
use crate::script::{Reply, Script};
use crate::serve::Running;
use crate::tls::{loopback_identity, serve_h2};
use crate::MAX_PUSH_BYTES;

/// The bundle id the mock expects in `apns-topic`.
pub const APNS_TEST_TOPIC: &str = "dev.beckon.demo";

const PUSH_TYPES: [&str; 9] = [
    "alert",
    "background",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "location",
    "liveactivity",
    "pushtotalk",
];

/// A push the mock accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedApns {
    pub device_token: String,
    /// `HTTP/2.0` for every accepted push.
    pub http_version: String,
    /// The `apns-*` headers, by lower-case name.
    pub headers: BTreeMap<String, String>,
    /// The provider token (JWT) it came with.
    pub provider_token: String,
    pub payload: Value,
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApnsCounters {
    pub requests: u64,
    pub delivered: u64,
    pub scripted: u64,
    pub rejected: u64,
    /// Distinct provider tokens that verified: APNs wants them reused for 20 to 60
    /// minutes, so one per test run is what a well-behaved provider shows.
    pub provider_tokens: u64,
    /// Requests that came over anything but HTTP/2.
    pub not_http2: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    delivered: AtomicU64,
    scripted: AtomicU64,
    rejected: AtomicU64,
    not_http2: AtomicU64,
}

struct ApnsState {
    key: ApnsTestKey,
    topic: String,
    provider_tokens: Mutex<HashSet<String>>,
    script: Script,
    received: Mutex<Vec<ReceivedApns>>,
    rejections: Rejections,
    counters: Counters,
}

pub struct MockApns {
    running: Running,
    ca_pem: String,
    state: Arc<ApnsState>,
}

impl MockApns {
    /// A mock with a new signing key and [`APNS_TEST_TOPIC`].
    pub async fn start() -> MockApns {
        Self::start_with(ApnsTestKey::generate(), APNS_TEST_TOPIC).await
    }

    /// A mock trusting provider tokens signed by `key` for pushes to `topic`.
    pub async fn start_with(key: ApnsTestKey, topic: &str) -> MockApns {
        let identity = loopback_identity();
        let state = Arc::new(ApnsState {
            key,
            topic: topic.to_string(),
            provider_tokens: Mutex::new(HashSet::new()),
            script: Script::default(),
            received: Mutex::new(Vec::new()),
            rejections: Rejections::default(),
            counters: Counters::default(),
        });
        let router = Router::new()
            .route("/3/device/{token}", post(push))
            .fallback(|| async { reason(StatusCode::NOT_FOUND, "BadPath") })
            .with_state(state.clone());
        let running = serve_h2(router, identity.config).await;
        MockApns {
            running,
            ca_pem: identity.ca_pem,
            state,
        }
    }

    /// `https://127.0.0.1:PORT`: the APNs base URL to configure.
    pub fn url(&self) -> String {
        format!("https://{}", self.running.addr)
    }

    /// The root certificate the client must trust to reach the mock.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn key(&self) -> &ApnsTestKey {
        &self.state.key
    }

    pub fn topic(&self) -> &str {
        &self.state.topic
    }

    pub fn received(&self) -> Vec<ReceivedApns> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn rejections(&self) -> Vec<String> {
        self.state.rejections.all()
    }

    pub fn counters(&self) -> ApnsCounters {
        let c = &self.state.counters;
        ApnsCounters {
            requests: c.requests.load(Ordering::SeqCst),
            delivered: c.delivered.load(Ordering::SeqCst),
            scripted: c.scripted.load(Ordering::SeqCst),
            rejected: c.rejected.load(Ordering::SeqCst),
            provider_tokens: self.state.provider_tokens.lock().unwrap().len() as u64,
            not_http2: c.not_http2.load(Ordering::SeqCst),
        }
    }

    /// The next valid pushes get these answers, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.push_sequence(replies);
    }

    /// Every valid push to `device_token` gets this answer.
    pub fn reply_for_token(&self, device_token: &str, reply: Reply) {
        self.state.script.set_for(device_token, reply);
    }
}

fn reason(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({"reason": reason}))).into_response()
}

fn reject(state: &ApnsState, status: StatusCode, why: &str, detail: String) -> Response {
    state.counters.rejected.fetch_add(1, Ordering::Relaxed);
    state.rejections.add(format!("{status} {why}: {detail}"));
    reason(status, why)
}

fn with_retry_after(mut response: Response, retry_after: &Option<String>) -> Response {
    if let Some(value) = retry_after
        .as_ref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn scripted(reply: &Reply) -> Response {
    match reply {
        Reply::Unregistered => (
            StatusCode::GONE,
            Json(json!({"reason": "Unregistered", "timestamp": Utc::now().timestamp_millis()})),
        )
            .into_response(),
        Reply::BadToken => reason(StatusCode::BAD_REQUEST, "BadDeviceToken"),
        Reply::TooManyRequests { retry_after } => with_retry_after(
            reason(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
            retry_after,
        ),
        Reply::Unavailable { retry_after } => with_retry_after(
            reason(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            retry_after,
        ),
        Reply::InternalError => reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        Reply::StaleCredentials => reason(StatusCode::FORBIDDEN, "ExpiredProviderToken"),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the provider token; the APNs reason and why, when it fails.
fn check_provider_token(state: &ApnsState, token: &str) -> Result<(), (&'static str, String)> {
    let jwt = verify(token, &ECDSA_P256_SHA256_FIXED, &state.key.public_key)
        .map_err(|why| ("InvalidProviderToken", why))?;
    if jwt.header["alg"] != "ES256" {
        return Err((
            "InvalidProviderToken",
            format!("alg is {}", jwt.header["alg"]),
        ));
    }
    if jwt.header["kid"] != state.key.key_id.as_str() {
        return Err((
            "InvalidProviderToken",
            format!(
                "kid is {}, expected {}",
                jwt.header["kid"], state.key.key_id
            ),
        ));
    }
    if jwt.claims["iss"] != state.key.team_id.as_str() {
        return Err((
            "InvalidProviderToken",
            format!(
                "iss is {}, expected {}",
                jwt.claims["iss"], state.key.team_id
            ),
        ));
    }
    let Some(iat) = jwt.claims["iat"].as_i64() else {
        return Err(("InvalidProviderToken", "iat is not an integer".into()));
    };
    let now = Utc::now().timestamp();
    if iat > now + 60 {
        return Err((
            "InvalidProviderToken",
            format!("iat {iat} is in the future"),
        ));
    }
    if now - iat > 3600 {
        return Err((
            "ExpiredProviderToken",
            format!("iat {iat} is more than an hour old"),
        ));
    }
    Ok(())
}

async fn push(
    State(state): State<Arc<ApnsState>>,
    Path(device_token): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    if version != Version::HTTP_2 {
        state.counters.not_http2.fetch_add(1, Ordering::Relaxed);
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("{version:?} instead of HTTP/2"),
        );
    }
    let Some(provider_token) =
        header(&headers, "authorization").and_then(|v| v.strip_prefix("bearer "))
    else {
        return reject(
            &state,
            StatusCode::FORBIDDEN,
            "MissingProviderToken",
            "no `authorization: bearer …`".into(),
        );
    };
    if let Err((why, detail)) = check_provider_token(&state, provider_token) {
        return reject(&state, StatusCode::FORBIDDEN, why, detail);
    }
    state
        .provider_tokens
        .lock()
        .unwrap()
        .insert(provider_token.to_string());
    if device_token.len() < 64
        || device_token.len() % 2 != 0
        || !device_token.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadDeviceToken",
            format!("{device_token:?} is not a hex device token"),
        );
    }
    match header(&headers, "apns-topic") {
        None => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "MissingTopic",
                "no apns-topic".into(),
            )
        }
        Some(topic) if topic != state.topic => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "TopicDisallowed",
                format!("topic {topic}, expected {}", state.topic),
            )
        }
        Some(_) => {}
    }
    let push_type = header(&headers, "apns-push-type").unwrap_or_default();
    if !PUSH_TYPES.contains(&push_type) {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "InvalidPushType",
            format!("apns-push-type {push_type:?}"),
        );
    }
    // Apple defaults these; Beckon always sends them, so the mock insists.
    if !matches!(header(&headers, "apns-priority"), Some("10" | "5" | "1")) {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadPriority",
            format!("apns-priority {:?}", header(&headers, "apns-priority")),
        );
    }
    if header(&headers, "apns-expiration").is_none_or(|v| v.parse::<u64>().is_err()) {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadExpirationDate",
            format!("apns-expiration {:?}", header(&headers, "apns-expiration")),
        );
    }
    if let Some(collapse) = header(&headers, "apns-collapse-id") {
        if collapse.len() > 64 {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "BadCollapseId",
                format!("{} bytes", collapse.len()),
            );
        }
    }
    if body.len() > MAX_PUSH_BYTES {
        return reject(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("{} bytes", body.len()),
        );
    }
    if body.is_empty() {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "PayloadEmpty",
            "empty body".into(),
        );
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload @ Value::Object(_)) => payload,
        _ => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "BadPayload",
                "not a JSON object".into(),
            )
        }
    };
    let Some(aps) = payload.get("aps").and_then(Value::as_object) else {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadPayload",
            "no `aps` object".into(),
        );
    };
    if push_type == "alert" && !aps.contains_key("alert") {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadPayload",
            "an alert push without aps.alert".into(),
        );
    }
    if let Some(reply) = state.script.next(&device_token) {
        state.counters.scripted.fetch_add(1, Ordering::Relaxed);
        return scripted(&reply);
    }
    state.counters.delivered.fetch_add(1, Ordering::Relaxed);
    let apns_headers = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("apns-"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    state.received.lock().unwrap().push(ReceivedApns {
        device_token,
        http_version: format!("{version:?}"),
        headers: apns_headers,
        provider_token: provider_token.to_string(),
        payload,
        bytes: body.len(),
    });
    let apns_id = header(&headers, "apns-id")
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase());
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&apns_id) {
        response.headers_mut().insert("apns-id", value);
    }
    response
}
