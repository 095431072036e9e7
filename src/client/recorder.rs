//! Turns an encoded event into a stored wire event: stamps the identity, id and time,
//! checks the size, and commits it to the queue (and the history) before returning.
//! Shared by the app's calls and the engagement thread's own events.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::identity::Identity;
use super::ClientError;
use crate::protocol::{FieldError, WireEvent, WireKind, MAX_EVENT_BYTES};
use crate::store::Store;
use crate::upload::Uploader;

pub(crate) struct Recorder {
    store: Arc<Mutex<Store>>,
    pub(crate) identity: RwLock<Identity>,
    context: Map<String, Value>,
    uploader: Arc<Uploader>,
    flush_at: u64,
}

/// Where an event goes besides the upload queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Only the queue: identify, or an app event whose history row the engagement
    /// thread writes, batched, off the app's thread.
    QueueOnly,
    /// The queue and the history segment rules and templates read, in one commit.
    InHistory,
}

impl Recorder {
    pub(crate) fn new(
        store: Arc<Mutex<Store>>,
        identity: Identity,
        uploader: Arc<Uploader>,
        flush_at: u64,
    ) -> Recorder {
        let mut context = Map::new();
        context.insert(
            "library".into(),
            serde_json::json!({"name": "beckon", "version": env!("CARGO_PKG_VERSION")}),
        );
        Recorder {
            store,
            identity: RwLock::new(identity),
            context,
            uploader,
            flush_at,
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // Every change to SQLite is a transaction, so a panic elsewhere cannot have left
        // it half-written; keep going rather than poisoning the SDK for the app's life.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn identity(&self) -> std::sync::RwLockReadGuard<'_, Identity> {
        self.identity.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The wire event for the current identity, stamped now.
    pub(crate) fn stamp(
        &self,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, Value>,
        traits: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> WireEvent {
        let identity = self.identity();
        WireEvent {
            // Time-ordered (v7): consecutive events land next to each other in the
            // server's dedup index instead of on a random page each.
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            name,
            properties,
            traits,
            anonymous_id: identity.anonymous_id.clone(),
            user_id: identity.user_id.clone(),
            timestamp: now,
            context: self.context.clone(),
        }
    }

    /// Commits the event; when this returns it survives the process being killed.
    /// Returns the stored payload.
    pub(crate) fn record(&self, event: &WireEvent, keep: Keep) -> Result<Vec<u8>, ClientError> {
        let payload = encode(event)?;
        let at = event.timestamp.timestamp_millis();
        let queued = {
            let mut store = self.store();
            match keep {
                Keep::QueueOnly => store.enqueue(at, &payload)?,
                Keep::InHistory => store.enqueue_with_history(at, &payload)?,
            };
            store.totals().events
        };
        if queued % self.flush_at == 0 {
            self.uploader.nudge();
        }
        Ok(payload)
    }

    /// Records segment entries and exits with the events reporting them to the server,
    /// in one commit.
    pub(crate) fn record_memberships(
        &self,
        changes: &[(String, bool)],
        reports: &[WireEvent],
        now: DateTime<Utc>,
    ) -> Result<(), ClientError> {
        let payloads = reports.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        self.store()
            .apply_membership_changes(now.timestamp_millis(), changes, &payloads)?;
        self.uploader.nudge();
        Ok(())
    }

    /// Records an in-app impression with its `In-App Message Shown` event, in one commit.
    pub(crate) fn record_impression(
        &self,
        campaign_id: &str,
        event: &WireEvent,
    ) -> Result<(), ClientError> {
        let payload = encode(event)?;
        self.store().enqueue_impression(
            campaign_id,
            event.timestamp.timestamp_millis(),
            &payload,
        )?;
        self.uploader.nudge();
        Ok(())
    }
}

fn encode(event: &WireEvent) -> Result<Vec<u8>, ClientError> {
    let payload = serde_json::to_vec(event).expect("a JSON map always serializes");
    if payload.len() > MAX_EVENT_BYTES {
        return Err(ClientError::InvalidEvent(FieldError::new(
            "event",
            format!(
                "is {} bytes, over the {MAX_EVENT_BYTES}-byte limit",
                payload.len()
            ),
        )));
    }
    Ok(payload)
}
