//! Building the request body of `POST /v1/batch` from stored events.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use flate2::{write::GzEncoder, Compression};

use crate::store::QueuedEvent;

/// The batch JSON, `{"sent_at": …, "identity_tokens": {…}, "batch": [ … ]}`, spliced
/// from the stored payloads: they were serialized at `track` time, so they are not
/// parsed again here. `identity_tokens` (user id → token) is left out when empty.
pub fn assemble_batch(
    sent_at: DateTime<Utc>,
    identity_tokens: &BTreeMap<String, String>,
    events: &[QueuedEvent],
) -> Vec<u8> {
    let payload_bytes: usize = events.iter().map(|e| e.payload.len() + 1).sum();
    let mut body = Vec::with_capacity(payload_bytes + 64);
    body.extend_from_slice(b"{\"sent_at\":\"");
    body.extend_from_slice(
        sent_at
            .to_rfc3339_opts(SecondsFormat::Millis, true)
            .as_bytes(),
    );
    body.extend_from_slice(b"\",");
    if !identity_tokens.is_empty() {
        body.extend_from_slice(b"\"identity_tokens\":");
        serde_json::to_writer(&mut body, identity_tokens).expect("a map of strings serializes");
        body.push(b',');
    }
    body.extend_from_slice(b"\"batch\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.payload);
    }
    body.extend_from_slice(b"]}");
    body
}

/// Gzip at a fast level: batches are small and mostly repeated keys, so a high level
/// buys little and costs battery.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::fast(),
    );
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Batch;
    use std::io::Read;

    #[test]
    fn the_spliced_body_parses_as_a_batch() {
        let event = |id: &str| {
            QueuedEvent {
            seq: 1,
            payload: format!(
                r#"{{"id":"{id}","type":"track","name":"Cart Viewed","anonymous_id":"a","timestamp":"2026-11-23T10:00:00Z"}}"#
            )
            .into_bytes(),
        }
        };
        let ids = [
            "7b0e1c55-8a4b-4b7e-9a55-2f2d3c1e0a01",
            "7b0e1c55-8a4b-4b7e-9a55-2f2d3c1e0a02",
        ];
        let sent_at = Utc::now();
        let body = assemble_batch(sent_at, &BTreeMap::new(), &[event(ids[0]), event(ids[1])]);
        let batch: Batch = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            batch
                .batch
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ids
        );
        assert_eq!(batch.sent_at.timestamp_millis(), sent_at.timestamp_millis());
        let empty: Batch =
            serde_json::from_slice(&assemble_batch(sent_at, &BTreeMap::new(), &[])).unwrap();
        assert!(empty.batch.is_empty());
        assert!(empty.identity_tokens.is_empty());
        assert!(!String::from_utf8(body).unwrap().contains("identity_tokens"));
    }

    #[test]
    fn the_tokens_of_the_batch_users_travel_in_the_envelope() {
        let event = QueuedEvent {
            seq: 1,
            payload: br#"{"id":"7b0e1c55-8a4b-4b7e-9a55-2f2d3c1e0a01","type":"track","name":"Cart Viewed","anonymous_id":"a","user_id":"al\"ice","timestamp":"2026-11-23T10:00:00Z"}"#.to_vec(),
        };
        let tokens = BTreeMap::from([
            ("al\"ice".to_string(), "a".repeat(64)),
            ("bob".to_string(), "eyJ0.eyJz.c2ln".to_string()),
        ]);
        let body = assemble_batch(Utc::now(), &tokens, std::slice::from_ref(&event));
        let batch: Batch = serde_json::from_slice(&body).unwrap();
        assert_eq!(batch.identity_tokens, tokens);
        assert_eq!(batch.batch[0].user_id.as_deref(), Some("al\"ice"));
    }

    #[test]
    fn gzip_round_trips() {
        let text = b"{\"batch\":[]}".repeat(100);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&text)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }
}
