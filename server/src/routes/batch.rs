//! `POST /v1/batch`: the device upload.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::HeaderMap;
use axum::Json;
use beckon::protocol::{
    BatchResponse, ConsentReport, EventRejection, ExportedEvent, WireEvent, MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::app::AppState;
use crate::error::ApiError;
use crate::skew::corrected_timestamp;

/// Largest request body after decompression: a full batch of events plus room for the
/// envelope. Checked on the decompressed stream so a small gzip bomb cannot get past it.
pub const MAX_BODY_BYTES: usize = MAX_BATCH_BYTES + 16 * 1024;

/// The batch as first parsed: events stay raw so that one bad event is reported on its
/// own instead of failing the whole [`beckon::protocol::Batch`], and so that each event's
/// size as sent can be checked.
#[derive(Deserialize)]
struct Envelope<'a> {
    sent_at: DateTime<Utc>,
    #[serde(borrow)]
    batch: Vec<&'a RawValue>,
}

pub async fn upload(
    State(state): State<AppState>,
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
    let bytes = read_body(body).await?;
    let envelope: Envelope = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not a valid batch: {err}")))?;
    if envelope.batch.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::bad_request(format!(
            "the batch has {} events, over the limit of {MAX_BATCH_EVENTS}",
            envelope.batch.len()
        )));
    }

    let mut accepted = Vec::with_capacity(envelope.batch.len());
    let mut rejected = Vec::new();
    for (index, raw) in envelope.batch.iter().enumerate() {
        match admit(raw, envelope.sent_at, received_at) {
            Ok(event) => accepted.push(event),
            Err((id, error)) => rejected.push(EventRejection { index, id, error }),
        }
    }
    let outcome = state
        .store()
        .insert(accepted)
        .await
        .map_err(|err| ApiError::internal(&err))?;
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

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(too_large()),
        Err(err) => Err(ApiError::bad_request(format!(
            "could not read the request body: {err}"
        ))),
    }
}

fn too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "the batch is over {MAX_BODY_BYTES} bytes (after decompression)"
    ))
}

/// Turns one raw event into what is stored, or says why not (with its id when readable).
fn admit(
    raw: &RawValue,
    sent_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
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
    event.timestamp =
        corrected_timestamp(original_timestamp, sent_at, received_at).ok_or_else(|| {
            (
                Some(event.id.clone()),
                "timestamp: is out of range once corrected for the device clock".to_string(),
            )
        })?;
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
        )
        .unwrap();
        assert_eq!(stored.event.id, "6f1c1a2e-8d47-4a53-9a51-2b1f0b7c7f10");
        assert_eq!(stored.event.timestamp, at("2024-05-01T10:59:00Z"));
        assert_eq!(stored.original_timestamp, at("2024-05-01T09:59:00Z"));
    }

    #[test]
    fn reports_the_id_when_it_can_be_read() {
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
