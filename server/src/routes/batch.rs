//! `POST /v1/batch`: the device upload.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use beckon::protocol::{
    BatchResponse, ConsentReport, EventRejection, ExportedEvent, WireEvent, MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::request::read_limited;
use super::verify::{check_random_id, verify_users};
use crate::app::AppState;
use crate::auth::AppKey;
use crate::error::ApiError;
use crate::identity::Enforcement;
use crate::metrics::Metrics;
use crate::skew::{clamp_to_receipt, corrected_timestamp};
use crate::store::InsertRules;

/// Largest request body after decompression: a full batch of events plus room for the
/// envelope. Checked on the decompressed stream so a small gzip bomb cannot get past it.
pub const MAX_BODY_BYTES: usize = MAX_BATCH_BYTES + 16 * 1024;

/// The batch as first parsed: events stay raw so that one bad event is reported on its
/// own instead of failing the whole [`beckon::protocol::Batch`], and so that each event's
/// size as sent can be checked.
#[derive(Deserialize)]
pub(crate) struct Envelope<'a> {
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub identity_tokens: BTreeMap<String, String>,
    #[serde(borrow)]
    pub batch: Vec<&'a RawValue>,
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(AppKey(app_key)): Extension<AppKey>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, ApiError> {
    // When the request arrived, not when its body finished uploading: `sent_at` is
    // stamped as the request leaves, so this is the closest server-side match.
    let received_at = Utc::now();
    // Only an uncompressed body still has its Content-Length here (the decompression
    // layer drops it); when it is already too long, refuse before reading a byte.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = read_limited(&state, body, MAX_BODY_BYTES, too_large).await?;
    let envelope = read_envelope(&bytes)?;

    let metrics = state.metrics();
    let enforcement = state.identities().enforcement(&app_key);
    let mut accepted = Vec::with_capacity(envelope.batch.len());
    // Positions in the batch of the accepted events, for refusals the store makes.
    let mut positions = Vec::with_capacity(envelope.batch.len());
    let mut rejected = Vec::new();
    for (index, raw) in envelope.batch.iter().enumerate() {
        let admitted = admit(raw, envelope.sent_at, received_at, metrics).and_then(|event| {
            check_anonymous_id(&event.event, enforcement)?;
            Ok(event)
        });
        match admitted {
            Ok(event) => {
                accepted.push(event);
                positions.push(index);
            }
            Err((id, error)) => rejected.push(EventRejection { index, id, error }),
        }
    }
    // Off (the default) checks nothing: the batch's users are not even counted.
    if enforcement != Enforcement::Off {
        verify_identities(
            &state,
            &app_key,
            &envelope.identity_tokens,
            &accepted,
            received_at,
        )?;
    }

    let rules = InsertRules {
        separate_identities: enforcement == Enforcement::Required,
    };
    let outcome = state.store().insert_with(accepted, rules).await?;
    for refused in &outcome.refused {
        let index = positions[refused.index];
        let id = readable_id(envelope.batch[index].get());
        rejected.push(EventRejection {
            index,
            id,
            error: refused.reason.clone(),
        });
    }
    rejected.sort_by_key(|r| r.index);
    metrics.events_accepted.inc_by(u64::from(outcome.accepted));
    metrics
        .events_duplicate
        .inc_by(u64::from(outcome.duplicates));
    metrics.events_rejected.inc_by(rejected.len() as u64);
    tracing::debug!(
        accepted = outcome.accepted,
        duplicates = outcome.duplicates,
        rejected = rejected.len(),
        "batch stored"
    );
    Ok(Json(BatchResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected,
    }))
}

/// Refuses the whole batch (401) when its app key requires verified identities and a
/// user among its events has no valid token. The device keeps the batch and asks the
/// app for a new token, so nothing is lost.
fn verify_identities(
    state: &AppState,
    app_key: &str,
    tokens: &BTreeMap<String, String>,
    events: &[ExportedEvent],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut users: BTreeMap<&str, u64> = BTreeMap::new();
    for user_id in events.iter().filter_map(|e| e.event.user_id.as_deref()) {
        *users.entry(user_id).or_default() += 1;
    }
    verify_users(
        state,
        app_key,
        &users,
        |user| tokens.get(user).map(String::as_str),
        now,
    )
}

/// The envelope of a batch body, its events still raw; refused when it is not one or
/// holds more than [`MAX_BATCH_EVENTS`] events.
pub(crate) fn read_envelope(bytes: &[u8]) -> Result<Envelope<'_>, ApiError> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not a valid batch: {err}")))?;
    if envelope.batch.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::bad_request(format!(
            "the batch has {} events, over the limit of {MAX_BATCH_EVENTS}",
            envelope.batch.len()
        )));
    }
    Ok(envelope)
}

/// With identities required, the event's anonymous id must be a random one.
pub(crate) fn check_anonymous_id(
    event: &WireEvent,
    enforcement: Enforcement,
) -> Result<(), (Option<String>, String)> {
    if enforcement != Enforcement::Required {
        return Ok(());
    }
    check_random_id(&event.anonymous_id).map_err(|error| (Some(event.id.clone()), error))
}

fn too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "the batch is over {MAX_BODY_BYTES} bytes (after decompression)"
    ))
}

/// Turns one raw event into what is stored, or says why not (with its id when readable).
pub(crate) fn admit(
    raw: &RawValue,
    sent_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<ExportedEvent, (Option<String>, String)> {
    let text = raw.get();
    let mut event: WireEvent = serde_json::from_str(text)
        .map_err(|err| (readable_id(text), format!("invalid event: {err}")))?;
    event
        .validate(text.len())
        .map_err(|err| (Some(event.id.clone()), err.to_string()))?;
    // A consent event the store could not apply is refused, not stored as a no-op.
    ConsentReport::read(&event).map_err(|err| (Some(event.id.clone()), err.to_string()))?;
    // Dedup compares ids as text, so one UUID must always be spelled one way.
    if let Ok(id) = uuid::Uuid::parse_str(&event.id) {
        event.id = id.hyphenated().to_string();
    }
    let original_timestamp = event.timestamp;
    let corrected =
        corrected_timestamp(original_timestamp, sent_at, received_at).ok_or_else(|| {
            (
                Some(event.id.clone()),
                "timestamp: is out of range once corrected for the device clock".to_string(),
            )
        })?;
    event.timestamp = clamp_to_receipt(corrected, received_at).unwrap_or_else(|clamped| {
        metrics.event_times_clamped.inc();
        clamped
    });
    Ok(ExportedEvent {
        event,
        original_timestamp,
        sent_at,
        received_at,
    })
}

fn readable_id(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Probe {
        id: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_str(text).ok()?;
    match probe.id? {
        serde_json::Value::String(id) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn admits_a_valid_event_with_corrected_time_and_canonical_id() {
        let event = raw(
            r#"{"id":"6F1C1A2E-8D47-4A53-9A51-2B1F0B7C7F10","type":"track",
            "name":"Cart Viewed","anonymous_id":"a","timestamp":"2024-05-01T09:59:00Z"}"#,
        );
        let stored = admit(
            &event,
            at("2024-05-01T10:00:00Z"),
            at("2024-05-01T11:00:00Z"),
            &Metrics::new(),
        )
        .unwrap();
        assert_eq!(stored.event.id, "6f1c1a2e-8d47-4a53-9a51-2b1f0b7c7f10");
        assert_eq!(stored.event.timestamp, at("2024-05-01T10:59:00Z"));
        assert_eq!(stored.original_timestamp, at("2024-05-01T09:59:00Z"));
    }

    #[test]
    fn a_time_far_ahead_of_the_server_is_stored_as_received_and_counted() {
        // The batch a forger sends to pin a consent change forever: an event in the
        // year 9000 with `sent_at` in 2020 would be corrected to the year 9006.
        let event = raw(
            r#"{"id":"6f1c1a2e-8d47-4a53-9a51-2b1f0b7c7f10","type":"track",
            "name":"Cart Viewed","anonymous_id":"a","timestamp":"9000-01-01T00:00:00Z"}"#,
        );
        let metrics = Metrics::new();
        let received = at("2026-12-07T10:00:00Z");
        let stored = admit(&event, at("2020-01-01T00:00:00Z"), received, &metrics).unwrap();
        assert_eq!(stored.event.timestamp, received);
        assert_eq!(stored.original_timestamp, at("9000-01-01T00:00:00Z"));
        assert_eq!(metrics.event_times_clamped.get(), 1);
    }

    #[test]
    fn reports_the_id_when_it_can_be_read() {
        let metrics = Metrics::new();
        let admit = |raw: &RawValue, a, b| admit(raw, a, b, &metrics);
        let now = Utc::now();
        let unparsable = raw(r#"{"id":"abc","type":"nope"}"#);
        let (id, error) = admit(&unparsable, now, now).unwrap_err();
        assert_eq!(id.as_deref(), Some("abc"));
        assert!(error.starts_with("invalid event"), "{error}");
        let invalid = raw(r#"{"id":"abc","type":"track","name":"X","anonymous_id":"a",
            "timestamp":"2024-05-01T09:59:00Z"}"#);
        let (id, error) = admit(&invalid, now, now).unwrap_err();
        assert_eq!(id.as_deref(), Some("abc"));
        assert!(error.starts_with("id:"), "{error}");
        let (id, _) = admit(&raw(r#"{"id":7}"#), now, now).unwrap_err();
        assert_eq!(id, None);
        let (id, _) = admit(&raw("[1,2]"), now, now).unwrap_err();
        assert_eq!(id, None);
    }
}
