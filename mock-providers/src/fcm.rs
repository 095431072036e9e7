//! A stand-in for FCM: Google's OAuth token endpoint for service accounts, and the
//! HTTP v1 `messages:send` API.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use ring::signature::RSA_PKCS1_2048_8192_SHA256;
use serde_json::{json, Map, Value};

use crate::jwt::verify;
use crate::keys::{service_account_key, TEST_SERVICE_ACCOUNT_JSON};
use crate::record::Rejections;
use crate::script::{Reply, Script};
use crate::serve::{bind, serve_http, Running};
use crate::MAX_PUSH_BYTES;

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Clock skew allowed on an assertion's `iat`, as Google does.
const SKEW: TimeDelta = TimeDelta::seconds(60);

/// Not an FCM route: lists the accepted messages as JSON (`token`, `title`, `body`,
/// `data`), for a test or demo running in another process than the mock.
pub const RECEIVED_PATH: &str = "/mock/received";

#[derive(Debug, Clone)]
pub struct MockFcmOptions {
    /// `expires_in` of the access tokens handed out.
    pub token_lifetime_secs: u64,
    /// The service account whose key signs assertions (the committed test one unless
    /// given).
    pub service_account_json: String,
}

impl Default for MockFcmOptions {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 3599,
            service_account_json: TEST_SERVICE_ACCOUNT_JSON.to_string(),
        }
    }
}

/// A message `messages:send` accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedFcm {
    pub token: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub data: BTreeMap<String, String>,
    pub android: Option<Value>,
    /// The bearer token it came with.
    pub access_token: String,
    /// Size of the request body.
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FcmCounters {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub send_requests: u64,
    pub delivered: u64,
    /// Answered with a scripted failure.
    pub scripted: u64,
    /// Refused because the request was wrong (see `rejections()`).
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    token_requests: AtomicU64,
    tokens_issued: AtomicU64,
    send_requests: AtomicU64,
    delivered: AtomicU64,
    scripted: AtomicU64,
    rejected: AtomicU64,
}

struct FcmState {
    client_email: String,
    project_id: String,
    public_key: Vec<u8>,
    token_uri: String,
    token_lifetime_secs: u64,
    /// Access token → when it ends.
    issued: Mutex<HashMap<String, DateTime<Utc>>>,
    script: Script,
    received: Mutex<Vec<ReceivedFcm>>,
    rejections: Rejections,
    counters: Counters,
}

pub struct MockFcm {
    running: Running,
    service_account_json: String,
    state: Arc<FcmState>,
}

impl MockFcm {
    pub async fn start() -> MockFcm {
        Self::start_with(MockFcmOptions::default()).await
    }

    pub async fn start_with(options: MockFcmOptions) -> MockFcm {
        let key = service_account_key(&options.service_account_json);
        // Assertions are addressed to the token endpoint's URL, known once bound.
        let (listener, addr) = bind().await;
        let token_uri = format!("http://{addr}/token");
        let state = Arc::new(FcmState {
            client_email: key.client_email,
            project_id: key.project_id,
            public_key: key.public_key,
            token_uri: token_uri.clone(),
            token_lifetime_secs: options.token_lifetime_secs,
            issued: Mutex::new(HashMap::new()),
            script: Script::default(),
            received: Mutex::new(Vec::new()),
            rejections: Rejections::default(),
            counters: Counters::default(),
        });
        let router = Router::new()
            .route("/token", post(token))
            .route("/v1/projects/{project}/{action}", post(send))
            .route(RECEIVED_PATH, get(received))
            .with_state(state.clone());
        let running = serve_http(listener, addr, router);
        let mut doc: Value =
            serde_json::from_str(&options.service_account_json).expect("service account JSON");
        doc["token_uri"] = json!(token_uri);
        MockFcm {
            running,
            service_account_json: serde_json::to_string_pretty(&doc).expect("JSON"),
            state,
        }
    }

    /// `http://127.0.0.1:PORT`: the FCM base URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    pub fn token_uri(&self) -> &str {
        &self.state.token_uri
    }

    pub fn project_id(&self) -> &str {
        &self.state.project_id
    }

    /// The service account to configure the server with, its `token_uri` pointing here.
    pub fn service_account_json(&self) -> &str {
        &self.service_account_json
    }

    pub fn received(&self) -> Vec<ReceivedFcm> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn rejections(&self) -> Vec<String> {
        self.state.rejections.all()
    }

    pub fn counters(&self) -> FcmCounters {
        let c = &self.state.counters;
        FcmCounters {
            token_requests: c.token_requests.load(Ordering::SeqCst),
            tokens_issued: c.tokens_issued.load(Ordering::SeqCst),
            send_requests: c.send_requests.load(Ordering::SeqCst),
            delivered: c.delivered.load(Ordering::SeqCst),
            scripted: c.scripted.load(Ordering::SeqCst),
            rejected: c.rejected.load(Ordering::SeqCst),
        }
    }

    /// The next valid sends get these answers, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.push_sequence(replies);
    }

    /// Every valid send to `token` gets this answer.
    pub fn reply_for_token(&self, token: &str, reply: Reply) {
        self.state.script.set_for(token, reply);
    }

    /// Makes every access token handed out so far invalid, as a revoked key would.
    pub fn revoke_access_tokens(&self) {
        self.state.issued.lock().unwrap().clear();
    }
}

fn oauth_error(state: &FcmState, description: String) -> Response {
    state.counters.rejected.fetch_add(1, Ordering::Relaxed);
    state.rejections.add(format!("token: {description}"));
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

async fn token(
    State(state): State<Arc<FcmState>>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    state
        .counters
        .token_requests
        .fetch_add(1, Ordering::Relaxed);
    let Ok(Form(form)) = form else {
        return oauth_error(&state, "the body is not a form".into());
    };
    if form.get("grant_type").map(String::as_str) != Some(GRANT_TYPE) {
        return oauth_error(&state, format!("grant_type must be {GRANT_TYPE}"));
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(&state, "no assertion".into());
    };
    if let Err(reason) = check_assertion(&state, assertion, Utc::now()) {
        return oauth_error(&state, reason);
    }
    let access_token = format!(
        "ya29.mock-{}-{}",
        state.counters.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1,
        uuid::Uuid::new_v4().simple()
    );
    let expires_at = Utc::now() + TimeDelta::seconds(state.token_lifetime_secs as i64);
    state
        .issued
        .lock()
        .unwrap()
        .insert(access_token.clone(), expires_at);
    Json(json!({
        "access_token": access_token,
        "expires_in": state.token_lifetime_secs,
        "token_type": "Bearer",
    }))
    .into_response()
}

fn check_assertion(state: &FcmState, assertion: &str, now: DateTime<Utc>) -> Result<(), String> {
    let jwt = verify(assertion, &RSA_PKCS1_2048_8192_SHA256, &state.public_key)?;
    if jwt.header["alg"] != "RS256" {
        return Err(format!("alg is {}, expected RS256", jwt.header["alg"]));
    }
    let claims = &jwt.claims;
    if claims["iss"] != state.client_email.as_str() {
        return Err(format!(
            "iss is {}, expected {}",
            claims["iss"], state.client_email
        ));
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return Err(format!("scope {scopes:?} lacks {SCOPE}"));
    }
    if claims["aud"] != state.token_uri.as_str() {
        return Err(format!(
            "aud is {}, expected {}",
            claims["aud"], state.token_uri
        ));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err("iat and exp must be integers".into());
    };
    let now = now.timestamp();
    if iat > now + SKEW.num_seconds() {
        return Err(format!("iat {iat} is in the future"));
    }
    if exp <= now {
        return Err(format!("the assertion expired at {exp}"));
    }
    if exp <= iat || exp - iat > 3600 {
        return Err(format!("exp - iat is {}s; 1 to 3600 allowed", exp - iat));
    }
    Ok(())
}

fn google_error(code: StatusCode, status: &str, message: &str, details: Value) -> Response {
    (
        code,
        Json(json!({"error": {
            "code": code.as_u16(),
            "message": message,
            "status": status,
            "details": details,
        }})),
    )
        .into_response()
}

fn reject(state: &FcmState, code: StatusCode, status: &str, message: String) -> Response {
    state.counters.rejected.fetch_add(1, Ordering::Relaxed);
    state
        .rejections
        .add(format!("send: {code} {status}: {message}"));
    google_error(code, status, &message, json!([]))
}

fn fcm_error(code: &str) -> Value {
    json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}])
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
        Reply::Unregistered => google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
            fcm_error("UNREGISTERED"),
        ),
        Reply::BadToken => google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            json!([
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest",
                 "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}]}
            ]),
        ),
        Reply::TooManyRequests { retry_after } => with_retry_after(
            google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for sending messages.",
                fcm_error("QUOTA_EXCEEDED"),
            ),
            retry_after,
        ),
        Reply::Unavailable { retry_after } => with_retry_after(
            google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                fcm_error("UNAVAILABLE"),
            ),
            retry_after,
        ),
        Reply::InternalError => google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error encountered.",
            fcm_error("INTERNAL"),
        ),
        Reply::StaleCredentials => google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
            json!([]),
        ),
    }
}

async fn send(
    State(state): State<Arc<FcmState>>,
    Path((project, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.counters.send_requests.fetch_add(1, Ordering::Relaxed);
    if action != "messages:send" {
        return reject(
            &state,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("unknown method {action}"),
        );
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let valid = state
        .issued
        .lock()
        .unwrap()
        .get(&bearer)
        .is_some_and(|ends| *ends > Utc::now());
    if !valid {
        return reject(
            &state,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.".into(),
        );
    }
    if project != state.project_id {
        return reject(
            &state,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!("project {project} is not {}", state.project_id),
        );
    }
    let json_content = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_content {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "content-type must be application/json".into(),
        );
    }
    if body.len() > MAX_PUSH_BYTES {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            format!(
                "Message is too big: {} bytes, limit {MAX_PUSH_BYTES}",
                body.len()
            ),
        );
    }
    let message = match parse_message(&body) {
        Ok(message) => message,
        Err(reason) => return reject(&state, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", reason),
    };
    if let Some(reply) = state.script.next(&message.token) {
        state.counters.scripted.fetch_add(1, Ordering::Relaxed);
        return scripted(&reply);
    }
    let id = state.counters.delivered.fetch_add(1, Ordering::Relaxed) + 1;
    state.received.lock().unwrap().push(ReceivedFcm {
        access_token: bearer,
        bytes: body.len(),
        ..message
    });
    Json(json!({"name": format!("projects/{}/messages/0:{id}", state.project_id)})).into_response()
}

fn string_field(
    object: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, String> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{at}.{key} must be a string, not {other}")),
    }
}

fn only_keys(object: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\" at '{at}'"
        )),
        None => Ok(()),
    }
}

/// The checks FCM makes on a v1 message, as far as Beckon uses it.
fn parse_message(body: &[u8]) -> Result<ReceivedFcm, String> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|err| format!("Invalid JSON payload received: {err}"))?;
    let root = root.as_object().ok_or("the body must be a JSON object")?;
    only_keys(root, &["message", "validate_only"], "")?;
    let message = root
        .get("message")
        .and_then(Value::as_object)
        .ok_or("message must be an object")?;
    only_keys(
        message,
        &[
            "token",
            "notification",
            "data",
            "android",
            "apns",
            "webpush",
            "fcm_options",
        ],
        "message",
    )?;
    let token = string_field(message, "token", "message")?
        .filter(|t| !t.is_empty())
        .ok_or("message.token is required")?;
    let (mut title, mut text) = (None, None);
    if let Some(notification) = message.get("notification") {
        let notification = notification
            .as_object()
            .ok_or("message.notification must be an object")?;
        only_keys(
            notification,
            &["title", "body", "image"],
            "message.notification",
        )?;
        title = string_field(notification, "title", "message.notification")?;
        text = string_field(notification, "body", "message.notification")?;
    }
    let mut data = BTreeMap::new();
    if let Some(values) = message.get("data") {
        let values = values.as_object().ok_or("message.data must be an object")?;
        for (key, value) in values {
            let Value::String(value) = value else {
                return Err(format!(
                    "message.data.{key}: data values must be strings, not {value}"
                ));
            };
            if matches!(key.as_str(), "from" | "notification" | "message_type")
                || key.starts_with("google")
                || key.starts_with("gcm")
            {
                return Err(format!("message.data.{key}: reserved key"));
            }
            data.insert(key.clone(), value.clone());
        }
    }
    let android = message.get("android").cloned();
    if let Some(android) = &android {
        let object = android
            .as_object()
            .ok_or("message.android must be an object")?;
        only_keys(
            object,
            &[
                "priority",
                "ttl",
                "collapse_key",
                "restricted_package_name",
                "data",
                "notification",
                "direct_boot_ok",
            ],
            "message.android",
        )?;
        if let Some(priority) = string_field(object, "priority", "message.android")? {
            if !matches!(priority.as_str(), "high" | "normal" | "HIGH" | "NORMAL") {
                return Err(format!(
                    "message.android.priority {priority:?} is not high or normal"
                ));
            }
        }
        if let Some(ttl) = string_field(object, "ttl", "message.android")? {
            let seconds = ttl.strip_suffix('s').and_then(|s| s.parse::<f64>().ok());
            if !seconds.is_some_and(|s| (0.0..=2_419_200.0).contains(&s)) {
                return Err(format!(
                    "message.android.ttl {ttl:?} is not a duration of at most 28 days"
                ));
            }
        }
        string_field(object, "collapse_key", "message.android")?;
    }
    Ok(ReceivedFcm {
        token,
        title,
        body: text,
        data,
        android,
        access_token: String::new(),
        bytes: body.len(),
    })
}

async fn received(State(state): State<Arc<FcmState>>) -> Json<Value> {
    let received = state.received.lock().unwrap_or_else(|p| p.into_inner());
    Json(Value::Array(
        received
            .iter()
            .map(|m| json!({"token": m.token, "title": m.title, "body": m.body, "data": m.data}))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_valid_message_and_refuses_what_fcm_refuses() {
        let ok = json!({"message": {"token": "t", "notification": {"title": "a", "body": "b"},
            "data": {"k": "v"}, "android": {"priority": "high", "ttl": "60s", "collapse_key": "c"}}});
        let parsed = parse_message(ok.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.token, "t");
        assert_eq!(parsed.data["k"], "v");
        for (bad, says) in [
            (json!({"message": {"notification": {}}}), "token"),
            (
                json!({"message": {"token": "t", "data": {"n": 1}}}),
                "strings",
            ),
            (
                json!({"message": {"token": "t", "extra": 1}}),
                "Unknown name",
            ),
            (
                json!({"message": {"token": "t", "android": {"priority": "urgent"}}}),
                "priority",
            ),
            (
                json!({"message": {"token": "t", "android": {"ttl": "60"}}}),
                "ttl",
            ),
            (
                json!({"message": {"token": "t", "data": {"google.x": "v"}}}),
                "reserved",
            ),
            (json!({"msg": {}}), "Unknown name"),
            (json!([1]), "object"),
        ] {
            let err = parse_message(bad.to_string().as_bytes()).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
