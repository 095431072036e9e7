//! The server's batch ingest (`POST /v1/batch`): the body as the route reads it (the
//! envelope, then each event admitted or refused on its own), with verified identities
//! off and required.
//!
//! Checked: every event of an envelope gets an answer, in order; a refusal carries a
//! reason (and the event's id when it could be read); what is stored validates,
//! round-trips through JSON, carries a canonical id, reads as a consent report when it
//! is one, and is never dated more than the allowed skew after its receipt; requiring
//! identities only ever refuses more.

use std::sync::{Arc, OnceLock};

use beckon::protocol::{ConsentReport, WireEvent};
use beckon_server::fuzzing::read_batch;
use beckon_server::metrics::Metrics;
use chrono::TimeDelta;

use crate::gen;

fn metrics() -> &'static Arc<Metrics> {
    static METRICS: OnceLock<Arc<Metrics>> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

pub fn run(data: &[u8]) {
    let received_at = gen::now();
    let off = read_batch(data, received_at, false, metrics());
    let required = read_batch(data, received_at, true, metrics());
    let (off, required) = match (off, required) {
        (Ok(off), Ok(required)) => (off, required),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(!a.is_empty());
            return;
        }
        (a, b) => panic!("the envelope is read differently: {a:?} / {b:?}"),
    };
    assert_eq!(off.events.len(), required.events.len());
    for (index, (open, strict)) in off.events.iter().zip(&required.events).enumerate() {
        match open {
            Ok(stored) => {
                let event = &stored.event;
                let text = serde_json::to_string(event).expect("an event serializes");
                event
                    .validate(text.len())
                    .unwrap_or_else(|e| panic!("[{index}] stored but invalid: {e}"));
                let again: WireEvent = serde_json::from_str(&text).expect("reads back");
                assert_eq!(&again, event);
                if let Ok(id) = uuid::Uuid::parse_str(&event.id) {
                    assert_eq!(
                        id.hyphenated().to_string(),
                        event.id,
                        "[{index}] id not canonical"
                    );
                }
                ConsentReport::read(event)
                    .unwrap_or_else(|e| panic!("[{index}] stored consent event unreadable: {e}"));
                assert!(
                    event.timestamp <= received_at + TimeDelta::minutes(5),
                    "[{index}] stored in the future: {}",
                    event.timestamp
                );
                assert_eq!(stored.received_at, received_at);
                assert_eq!(stored.sent_at, off.sent_at);
                if let Ok(strictly) = strict {
                    assert_eq!(strictly, stored);
                }
            }
            Err((_, reason)) => {
                assert!(!reason.is_empty());
                assert!(
                    strict.is_err(),
                    "[{index}] refused only when identities are off"
                );
            }
        }
    }
}
