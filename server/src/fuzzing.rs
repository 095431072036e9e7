//! Entry points for the fuzz targets in `fuzz/` (see FUZZING.md): the request reading
//! of routes whose handlers need a running server and a database, callable on plain
//! bytes and plain values. Each runs the very functions the route runs; nothing here
//! is an API.

use std::collections::BTreeMap;

use beckon::protocol::ExportedEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::{campaigns, segments};
use crate::error::ApiError;
use crate::identity::Enforcement;
use crate::metrics::Metrics;
use crate::routes::batch::{admit, check_anonymous_id, read_envelope};
use crate::store::{Catalog, Kind};

/// A batch body as `POST /v1/batch` reads it before verifying identities and storing.
#[derive(Debug)]
pub struct ReadBatch {
    pub sent_at: DateTime<Utc>,
    pub identity_tokens: BTreeMap<String, String>,
    /// One entry per event of the batch, in order: what would be stored, or the id
    /// (when readable) and the reason it is refused.
    pub events: Vec<Result<ExportedEvent, (Option<String>, String)>>,
}

/// Reads a batch body received at `received_at`, with identities `required` or not.
/// `Err` is the 400 answer's message.
pub fn read_batch(
    body: &[u8],
    received_at: DateTime<Utc>,
    required: bool,
    metrics: &Metrics,
) -> Result<ReadBatch, String> {
    let envelope = read_envelope(body).map_err(|err| err.message)?;
    let enforcement = if required {
        Enforcement::Required
    } else {
        Enforcement::Off
    };
    let events = envelope
        .batch
        .iter()
        .map(|raw| {
            let event = admit(raw, envelope.sent_at, received_at, metrics)?;
            check_anonymous_id(&event.event, enforcement)?;
            Ok(event)
        })
        .collect();
    Ok(ReadBatch {
        sent_at: envelope.sent_at,
        identity_tokens: envelope.identity_tokens,
        events,
    })
}

/// A change the admin API makes to a segment or campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `POST /v1/admin/{segments,campaigns}` with a body.
    Create,
    /// `PUT /v1/admin/{segments,campaigns}/{id}` with a body (the path id is the body's).
    Update,
    /// `POST /v1/admin/{segments,campaigns}/{id}/archive`.
    Archive,
}

/// Applies one admin change to `catalog` as the route does (the JSON body read, the
/// definition parsed and checked, the change checked against the catalog), returning
/// the catalog once the change is stored, or the error answer's message.
pub fn admin_change(
    catalog: &Catalog,
    kind: Kind,
    change: Change,
    body: &[u8],
    archive_id: &str,
) -> Result<Catalog, String> {
    let read = |body: &[u8]| -> Result<Value, String> {
        serde_json::from_slice(body).map_err(|err| format!("the body is not valid JSON: {err}"))
    };
    let (id, draft) = match (kind, change) {
        (Kind::Segment, Change::Archive) => (
            archive_id.to_owned(),
            segments::archive(catalog, archive_id),
        ),
        (Kind::Campaign, Change::Archive) => (
            archive_id.to_owned(),
            campaigns::archive(catalog, archive_id),
        ),
        (Kind::Segment, change) => {
            let parsed = segments::parse(&read(body)?).map_err(|err| err.message)?;
            let draft = match change {
                Change::Create => segments::create(catalog, &parsed),
                _ => segments::update(catalog, &parsed),
            };
            (parsed.id.clone(), draft)
        }
        (Kind::Campaign, change) => {
            let parsed = campaigns::parse(&read(body)?).map_err(|err| err.message)?;
            let draft = match change {
                Change::Create => campaigns::create(catalog, &parsed),
                _ => campaigns::update(catalog, &parsed),
            };
            (parsed.id().to_owned(), draft)
        }
    };
    let draft = draft.map_err(|err| err.message)?;
    Ok(catalog.with(kind, &id, &draft))
}

/// The sync document devices download for `catalog` (`GET /v1/sync`'s body).
pub fn sync_body(catalog: &Catalog) -> Vec<u8> {
    crate::sync_document::render(catalog).body
}

/// The push provider whose answer [`provider_answer`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Fcm,
    Apns,
    /// The messaging webhook (email, SMS, WhatsApp).
    Webhook,
}

/// What a provider's answer comes to: an outcome, or our credentials refused as stale
/// (the client then fetches new ones and tries once more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Done(crate::delivery::Outcome),
    StaleCredentials(String),
}

/// The webhook id a webhook answer is classified against (what we would have sent).
pub const WEBHOOK_MESSAGE_ID: &str = "msg_fuzz";

/// Classifies a provider's answer as its client does: `status`, the headers (those
/// HTTP cannot carry are left out, as they could never arrive) and the body as read
/// off the wire (at most 64 KiB, lossily decoded).
pub fn provider_answer(
    provider: Provider,
    status: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
    now: DateTime<Utc>,
) -> Answer {
    use crate::delivery::http::Verdict;

    let reply = reply(status, headers, body);
    let verdict = match provider {
        Provider::Fcm => crate::delivery::fcm::response::classify(&reply, now),
        Provider::Apns => crate::delivery::apns::response::classify(&reply, now),
        Provider::Webhook => Verdict::Done(crate::delivery::webhook::response::classify(
            &reply,
            WEBHOOK_MESSAGE_ID,
            now,
        )),
    };
    match verdict {
        Verdict::Done(outcome) => Answer::Done(outcome),
        Verdict::StaleCredentials(detail) => Answer::StaleCredentials(detail),
    }
}

/// What the server takes from an FCM service account file: project id, client email
/// and token URI (the key is read too), or the start-up error's message.
pub fn fcm_service_account(json: &str) -> Result<(String, String, String), String> {
    crate::delivery::fcm::service_account::parse_service_account(json)
        .map(|account| (account.project_id, account.client_email, account.token_uri))
        .map_err(|err| err.to_string())
}

/// Reads an APNs signing key (`.p8`, PKCS#8 P-256) as the APNs client does; `Err` is
/// the start-up error's message.
pub fn apns_key(pem: &str) -> Result<(), String> {
    crate::delivery::jwt::p256_key_from_pem(pem)
        .map(drop)
        .map_err(|reason| {
            crate::delivery::DeliveryConfigError::invalid("APNs key", reason).to_string()
        })
}

/// `GET /v1/events`'s `cursor` and `limit`, read as the route reads them: the position
/// the page starts after, and its size.
pub fn export_query(cursor: Option<&str>, limit: Option<&str>) -> Result<(u64, usize), ApiError> {
    use crate::paging::{parse_limit, Cursor};
    let cursor = match cursor {
        None => Cursor::default(),
        Some(text) => Cursor::parse(text).map_err(ApiError::bad_request)?,
    };
    let limit = parse_limit(limit).map_err(ApiError::bad_request)?;
    Ok((cursor.0, limit))
}

/// The cursor the events export and the deliveries pages write for a position.
pub fn write_cursor(position: u64) -> String {
    crate::paging::Cursor(position).to_string()
}

/// `GET /v1/admin/sends/{id}/deliveries`'s `cursor`, `limit` and `status`: the id the
/// page starts after, its size and the status kept (its name).
pub fn deliveries_query(
    cursor: Option<&str>,
    limit: Option<&str>,
    status: Option<&str>,
) -> Result<(u64, usize, Option<&'static str>), ApiError> {
    crate::routes::sends::deliveries_query(cursor, limit, status)
        .map(|(after, limit, status)| (after, limit, status.map(|s| s.as_str())))
}

/// The `at` instant of the segment size, members and explain routes.
pub fn evaluation_instant(at: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    crate::routes::request::evaluation_instant(at)
}

/// The `source` of `GET /v1/admin/segments/{id}/members` (its name).
pub fn member_source(source: Option<&str>) -> Result<&'static str, ApiError> {
    crate::routes::segment_members::member_source(source).map(|s| s.as_str())
}

/// `PUT /v1/admin/users/{user_key}/permissions/{channel}` read as the route reads it
/// (path, then the body within its size limit, then the change), stamped `now`.
pub fn permission_change(
    user_key: &str,
    channel: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<beckon::consent::Permission, ApiError> {
    use crate::routes::users::{permission_change, permission_path, MAX_BODY_BYTES};
    let channel = permission_path(user_key, channel)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(format!(
            "the body is over {MAX_BODY_BYTES} bytes"
        )));
    }
    let body = crate::routes::request::json_from(body)?;
    permission_change(channel, body, now)
}

/// An error answer as the server sends it.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    pub status: u16,
    /// Names (lowercase) and values.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// The answer the server sends for `error`.
pub fn error_response(error: ApiError) -> ErrorResponse {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use std::sync::OnceLock;

    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime to read bodies with")
    });
    let response = error.into_response();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let body = runtime
        .block_on(response.into_body().collect())
        .expect("an error body is in memory")
        .to_bytes()
        .to_vec();
    ErrorResponse {
        status,
        headers,
        body,
    }
}

/// Reads the FCM OAuth token endpoint's answer as the FCM client does: the access
/// token's length and when it is to be replaced, or the outcome of the send that
/// needed it.
pub fn fcm_token_answer(
    status: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(usize, DateTime<Utc>), crate::delivery::Outcome> {
    let reply = reply(status, headers, body);
    crate::delivery::fcm::oauth::token_from_reply(&reply, now)
        .map(|token| (token.value.len(), token.refresh_at))
}

/// A provider's answer as its client reads it off the wire: headers HTTP cannot carry
/// left out (they could never arrive), the body cut at 64 KiB and lossily decoded.
fn reply(status: u16, headers: &[(&[u8], &[u8])], body: &[u8]) -> crate::delivery::http::Reply {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    crate::delivery::http::Reply {
        status,
        headers: map,
        body: String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned(),
    }
}
