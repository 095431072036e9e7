//! Turns an encoded event into a stored wire event: stamps the identity, id and time,
//! checks the size, and commits it to the queue (and the history) before returning.
//! Shared by the app's calls and the engagement thread's own events.

use std::cell::RefCell;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::consent_state::ConsentState;
use super::ClientError;
use crate::common::FieldError;
use crate::events::largest_value;
use crate::protocol::{WireEvent, WireKind, MAX_EVENT_BYTES};
use crate::store::{Counter, Identity, Store, StoreError, StoreGuard, StoreLock};
use crate::text::clip;
use crate::upload::Uploader;

pub(crate) struct Recorder {
    store: Arc<StoreLock>,
    /// Sent with every event: the library, and the device's profile as reported.
    context: RwLock<Map<String, Value>>,
    uploader: Arc<Uploader>,
    flush_at: u64,
    /// Whether the user opted out (nothing is stored) and may see in-app messages.
    pub(crate) consent: Arc<ConsentState>,
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
        store: Arc<StoreLock>,
        uploader: Arc<Uploader>,
        flush_at: u64,
        consent: Arc<ConsentState>,
    ) -> Recorder {
        let mut context = Map::new();
        context.insert(
            "library".into(),
            serde_json::json!({"name": "beckon", "version": env!("CARGO_PKG_VERSION")}),
        );
        Recorder {
            store,
            context: RwLock::new(context),
            uploader,
            flush_at,
            consent,
        }
    }

    /// Sets (or with `None` removes) one key of the context sent with every event.
    pub(crate) fn set_context(&self, key: &str, value: Option<&str>) {
        let mut context = self.context.write().unwrap_or_else(|p| p.into_inner());
        match value {
            Some(value) => context.insert(key.to_owned(), Value::String(value.to_owned())),
            None => context.remove(key),
        };
    }

    pub(crate) fn uploader(&self) -> &Uploader {
        &self.uploader
    }

    /// Moves the events waiting in the store's append log into SQLite, a piece per
    /// hold of its lock (`store::settle_in_pieces`).
    pub(crate) fn settle_in_pieces(&self) -> Result<(), StoreError> {
        crate::store::settle_in_pieces(&self.store)
    }

    pub(crate) fn store(&self) -> StoreGuard<'_> {
        // Every change to SQLite is a transaction, so a panic elsewhere cannot have left
        // it half-written; keep going rather than poisoning the SDK for the app's life.
        self.store.lock()
    }

    /// The wire event for the current identity, stamped `now`.
    pub(crate) fn stamp(
        &self,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> WireEvent {
        self.stamp_as(self.store().identity(), kind, name, properties, now)
    }

    /// The wire event for `identity`, stamped `now`.
    pub(crate) fn stamp_as(
        &self,
        identity: &Identity,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> WireEvent {
        wire_event(identity, kind, name, properties, now, self.context())
    }

    /// The context sent with every event, as it is now.
    fn context(&self) -> Map<String, Value> {
        self.context
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Commits the event; when this returns it survives the process being killed.
    /// Returns the stored payload, or `None` when the user opted out and the event was
    /// only counted.
    pub(crate) fn record(
        &self,
        event: &WireEvent,
        keep: Keep,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let payload = encode(event)?;
        let at = event.timestamp.timestamp_millis();
        let stored = self.commit(&mut self.store(), at, &payload, keep)?;
        Ok(stored.then_some(payload))
    }

    /// Stamps an event for the current identity and commits it, under one hold of the
    /// store's lock: an `identify` or `reset` lands wholly before or after it. Returns
    /// its stored payload, or `None` when the user opted out and the event was only
    /// counted.
    pub(crate) fn record_now(
        &self,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, Value>,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        // Read before the store's lock, which `track` holds no longer than it must.
        let context = self.context();
        let mut store = self.store();
        let event = wire_event(
            store.identity(),
            kind,
            name,
            properties,
            Utc::now(),
            context,
        );
        let payload = encode(&event)?;
        let at = event.timestamp.timestamp_millis();
        let stored = self.commit(&mut store, at, &payload, Keep::QueueOnly)?;
        drop(store);
        Ok(stored.then_some(payload))
    }

    /// Commits `payload` through the locked `store`; `false` when the user opted out
    /// and it was only counted.
    pub(crate) fn commit(
        &self,
        store: &mut Store,
        at: i64,
        payload: &[u8],
        keep: Keep,
    ) -> Result<bool, ClientError> {
        if !self.collects(store, 1)? {
            return Ok(false);
        }
        match keep {
            Keep::QueueOnly => store.enqueue(at, payload)?,
            Keep::InHistory => store.enqueue_with_history(at, payload)?,
        };
        // Uncounted (just after start), the worker counts them when it looks.
        if store
            .counted_totals()
            .is_none_or(|t| t.events.is_multiple_of(self.flush_at))
        {
            self.uploader.nudge();
        }
        Ok(true)
    }

    /// Whether `events` about to be written through `store` (the locked store) may be
    /// collected; when the user opted out they are counted as dropped instead. Read
    /// under the store's lock, which opting out holds while it empties the queue: no
    /// event can land after the queue was emptied.
    pub(crate) fn collects(&self, store: &mut Store, events: u64) -> Result<bool, StoreError> {
        if self.consent.is_opted_out() {
            store.bump(Counter::DroppedOptedOut, events)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Commits a change of device state with the events reporting it through the
    /// locked `store`, which the caller read the state from (`write` gets their
    /// payloads, none while the user is opted out, when they are only counted).
    pub(crate) fn record_reported(
        &self,
        store: &mut Store,
        events: &[WireEvent],
        now: DateTime<Utc>,
        write: impl FnOnce(&mut Store, i64, &[&[u8]]) -> Result<(), StoreError>,
    ) -> Result<(), ClientError> {
        let payloads = events.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let opted_out = self.consent.is_opted_out();
        let payloads: Vec<&[u8]> = if opted_out {
            Vec::new()
        } else {
            payloads.iter().map(Vec::as_slice).collect()
        };
        write(store, now.timestamp_millis(), &payloads)?;
        if opted_out {
            store.bump(Counter::DroppedOptedOut, events.len() as u64)?;
        }
        if !payloads.is_empty() {
            self.uploader.nudge();
        }
        Ok(())
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
        let mut store = self.store();
        if !self.collects(&mut store, payloads.len() as u64)? {
            return Ok(());
        }
        store.apply_membership_changes(now.timestamp_millis(), changes, &payloads)?;
        drop(store);
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
        let mut store = self.store();
        if !self.collects(&mut store, 1)? {
            return Ok(());
        }
        store.enqueue_impression(campaign_id, event.timestamp.timestamp_millis(), &payload)?;
        drop(store);
        self.uploader.nudge();
        Ok(())
    }
}

fn wire_event(
    identity: &Identity,
    kind: WireKind,
    name: Option<String>,
    properties: Map<String, Value>,
    now: DateTime<Utc>,
    context: Map<String, Value>,
) -> WireEvent {
    WireEvent {
        id: event_id(now),
        kind,
        name,
        properties,
        traits: Map::new(),
        anonymous_id: identity.anonymous_id.clone(),
        user_id: identity.user_id.clone(),
        timestamp: now,
        context,
    }
}

/// How many event ids' random bits one read from the OS's generator makes.
const IDS_PER_READ: usize = 64;

/// A new event id: a UUID made of the event's time and 74 random bits.
///
/// Time-ordered (v7): consecutive events land next to each other in the server's dedup
/// index instead of on a random page each. The random bits come from the OS's
/// generator, as `uuid`'s own would, but read for 64 ids at a time: one system call
/// per event was a tenth of `track`'s time.
fn event_id(now: DateTime<Utc>) -> String {
    thread_local! {
        static RANDOM: RefCell<([u8; 10 * IDS_PER_READ], usize)> =
            const { RefCell::new(([0; 10 * IDS_PER_READ], 10 * IDS_PER_READ)) };
    }
    let random = RANDOM.with_borrow_mut(|(bytes, used)| {
        if *used == bytes.len() {
            // As `uuid` does when the OS has no randomness to give: no id is better
            // than one that may repeat.
            getrandom::fill(bytes).expect("the OS's random number generator failed");
            *used = 0;
        }
        let mut random = [0; 10];
        random.copy_from_slice(&bytes[*used..*used + 10]);
        *used += 10;
        random
    });
    let millis = now.timestamp_millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

/// Room for a typical event's stored form (a `Product Viewed` is about 400 bytes), so
/// that writing it does not grow the buffer step by step.
const TYPICAL_EVENT_BYTES: usize = 512;

/// The stored form of `event`, or its size in bytes when that is over
/// [`MAX_EVENT_BYTES`].
pub(crate) fn serialize(event: &WireEvent) -> Result<Vec<u8>, usize> {
    let mut payload = Vec::with_capacity(TYPICAL_EVENT_BYTES);
    serde_json::to_writer(&mut payload, event).expect("a JSON map always serializes");
    if payload.len() > MAX_EVENT_BYTES {
        return Err(payload.len());
    }
    Ok(payload)
}

/// "; the largest is properties.blob (40002 bytes)": where to make a too large event
/// smaller.
pub(crate) fn largest_hint(event: &WireEvent) -> String {
    [("properties", &event.properties), ("traits", &event.traits)]
        .into_iter()
        .filter_map(|(map, values)| Some((map, largest_value(values)?)))
        .max_by_key(|(_, (_, bytes))| *bytes)
        .map_or(String::new(), |(map, (key, bytes))| {
            format!("; the largest is {map}.{} ({bytes} bytes)", clip(key))
        })
}

fn encode(event: &WireEvent) -> Result<Vec<u8>, ClientError> {
    serialize(event).map_err(|bytes| {
        ClientError::InvalidEvent(FieldError::new(
            "event",
            format!(
                "is {bytes} bytes, over the {MAX_EVENT_BYTES}-byte limit{}",
                largest_hint(event)
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_distinct_v7_uuids_of_the_event_time() {
        let now = Utc::now();
        // Across refills of the random bytes.
        let ids: std::collections::HashSet<String> =
            (0..3 * IDS_PER_READ).map(|_| event_id(now)).collect();
        assert_eq!(ids.len(), 3 * IDS_PER_READ);
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
            let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
            assert_eq!(
                secs as i64 * 1000 + nanos as i64 / 1_000_000,
                now.timestamp_millis()
            );
        }
    }
}
