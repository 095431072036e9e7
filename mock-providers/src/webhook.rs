//! A receiver of Standard Webhooks: checks the signature and the timestamp, then the
//! message Beckon sends for email, SMS and WhatsApp.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use ring::hmac;
use serde_json::{json, Value};

use crate::keys::webhook_secret;
use crate::record::Rejections;
use crate::script::{Reply, Script};
use crate::serve::{bind, serve_http, Running};

/// How far a message's timestamp may be from now (Standard Webhooks' default).
const TOLERANCE_SECS: i64 = 5 * 60;

/// A message the receiver accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedWebhook {
    pub webhook_id: String,
    pub timestamp: i64,
    /// The JSON body: `channel`, `user_key`, `address`, `subject`, `body`, `data`.
    pub message: Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookCounters {
    pub requests: u64,
    pub delivered: u64,
    pub scripted: u64,
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    delivered: AtomicU64,
    scripted: AtomicU64,
    rejected: AtomicU64,
}

struct WebhookState {
    key: hmac::Key,
    script: Script,
    received: Mutex<Vec<ReceivedWebhook>>,
    rejections: Rejections,
    counters: Counters,
}

pub struct MockWebhook {
    running: Running,
    secret: String,
    state: Arc<WebhookState>,
}

impl MockWebhook {
    /// A receiver with a new random secret.
    pub async fn start() -> MockWebhook {
        Self::start_with_secret(&webhook_secret()).await
    }

    /// A receiver verifying with `secret` (`whsec_<base64>`).
    pub async fn start_with_secret(secret: &str) -> MockWebhook {
        let encoded = secret.strip_prefix("whsec_").expect("a whsec_ secret");
        let key = STANDARD.decode(encoded).expect("base64 secret");
        let state = Arc::new(WebhookState {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            script: Script::default(),
            received: Mutex::new(Vec::new()),
            rejections: Rejections::default(),
            counters: Counters::default(),
        });
        let router = Router::new()
            .route("/", post(receive))
            .route("/{*path}", post(receive))
            .with_state(state.clone());
        let (listener, addr) = bind().await;
        MockWebhook {
            running: serve_http(listener, addr, router),
            secret: secret.to_string(),
            state,
        }
    }

    /// `http://127.0.0.1:PORT/messages`: the webhook URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/messages", self.running.addr)
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn rejections(&self) -> Vec<String> {
        self.state.rejections.all()
    }

    pub fn counters(&self) -> WebhookCounters {
        let c = &self.state.counters;
        WebhookCounters {
            requests: c.requests.load(Ordering::SeqCst),
            delivered: c.delivered.load(Ordering::SeqCst),
            scripted: c.scripted.load(Ordering::SeqCst),
            rejected: c.rejected.load(Ordering::SeqCst),
        }
    }

    /// The next valid messages get these answers, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.push_sequence(replies);
    }

    /// Every valid message to `address` gets this answer.
    pub fn reply_for_address(&self, address: &str, reply: Reply) {
        self.state.script.set_for(address, reply);
    }
}

fn reject(state: &WebhookState, status: StatusCode, why: String) -> Response {
    state.counters.rejected.fetch_add(1, Ordering::Relaxed);
    state.rejections.add(format!("{status}: {why}"));
    (status, Json(json!({"error": why}))).into_response()
}

fn scripted(reply: &Reply) -> Response {
    let (status, retry_after) = match reply {
        Reply::Unregistered => (StatusCode::GONE, None),
        Reply::BadToken => (StatusCode::BAD_REQUEST, None),
        Reply::TooManyRequests { retry_after } => {
            (StatusCode::TOO_MANY_REQUESTS, retry_after.as_ref())
        }
        Reply::Unavailable { retry_after } => {
            (StatusCode::SERVICE_UNAVAILABLE, retry_after.as_ref())
        }
        Reply::InternalError => (StatusCode::INTERNAL_SERVER_ERROR, None),
        Reply::StaleCredentials => (StatusCode::UNAUTHORIZED, None),
    };
    let mut response = (status, Json(json!({"error": format!("{reply:?}")}))).into_response();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the Standard Webhooks headers; the id and timestamp once they verify.
fn check_signature(
    key: &hmac::Key,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, i64), String> {
    let id = header(headers, "webhook-id")
        .filter(|v| !v.is_empty())
        .ok_or("no webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or("no integer webhook-timestamp")?;
    if (Utc::now().timestamp() - timestamp).abs() > TOLERANCE_SECS {
        return Err(format!(
            "webhook-timestamp {timestamp} is outside the tolerance"
        ));
    }
    let signatures = header(headers, "webhook-signature").ok_or("no webhook-signature")?;
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let verified = signatures.split(' ').any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .and_then(|sig| STANDARD.decode(sig).ok())
            .is_some_and(|sig| hmac::verify(key, &signed, &sig).is_ok())
    });
    if !verified {
        return Err("no v1 signature matches the secret".into());
    }
    Ok((id.to_string(), timestamp))
}

fn check_message(body: &[u8]) -> Result<Value, String> {
    let message: Value = serde_json::from_slice(body).map_err(|err| format!("not JSON: {err}"))?;
    if !matches!(
        message["channel"].as_str(),
        Some("email" | "sms" | "whatsapp")
    ) {
        return Err(format!(
            "channel {} is not email, sms or whatsapp",
            message["channel"]
        ));
    }
    for field in ["user_key", "address", "body"] {
        if message[field].as_str().is_none_or(str::is_empty) {
            return Err(format!("{field} must be a non-empty string"));
        }
    }
    if !(message["subject"].is_null() || message["subject"].is_string()) {
        return Err("subject must be a string or null".into());
    }
    if message.get("data").is_none() {
        return Err("data is missing".into());
    }
    Ok(message)
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let (webhook_id, timestamp) = match check_signature(&state.key, &headers, &body) {
        Ok(verified) => verified,
        Err(why) => return reject(&state, StatusCode::UNAUTHORIZED, why),
    };
    let message = match check_message(&body) {
        Ok(message) => message,
        Err(why) => return reject(&state, StatusCode::BAD_REQUEST, why),
    };
    let address = message["address"].as_str().unwrap_or_default();
    if let Some(reply) = state.script.next(address) {
        state.counters.scripted.fetch_add(1, Ordering::Relaxed);
        return scripted(&reply);
    }
    let n = state.counters.delivered.fetch_add(1, Ordering::Relaxed) + 1;
    state.received.lock().unwrap().push(ReceivedWebhook {
        webhook_id,
        timestamp,
        message,
    });
    Json(json!({"id": format!("mock-{n}")})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_headers(key: &hmac::Key, id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let mut signed = format!("{id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        let signature = STANDARD.encode(hmac::sign(key, &signed).as_ref());
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        headers.insert(
            "webhook-signature",
            format!("v1,bm9wZQ== v1,{signature}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn verifies_signatures_and_timestamps() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef");
        let now = Utc::now().timestamp();
        let body = br#"{"a":1}"#;
        let headers = signed_headers(&key, "msg_1", now, body);
        assert_eq!(
            check_signature(&key, &headers, body).unwrap(),
            ("msg_1".into(), now)
        );
        assert!(check_signature(&key, &headers, br#"{"a":2}"#).is_err());
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another secret, another signature");
        assert!(check_signature(&other, &headers, body).is_err());
        let stale = signed_headers(&key, "msg_1", now - 600, body);
        assert!(check_signature(&key, &stale, body)
            .unwrap_err()
            .contains("tolerance"));
        assert!(check_signature(&key, &HeaderMap::new(), body).is_err());
    }
}
