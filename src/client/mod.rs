//! The SDK's inner type: it owns the store and the upload worker and implements every
//! public call. The `ffi` facade wraps it without adding logic.

mod config;
mod error;
mod identity;
mod instance_lock;
mod stats;

pub use config::{BeckonConfig, FlushPolicy};
pub use error::ClientError;
pub use stats::{DroppedEvents, Stats};

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value};

use crate::events::{check_traits, Event, Properties};
use crate::protocol::{check_id, FieldError, WireEvent, WireKind, MAX_EVENT_BYTES};
use crate::store::{Counter, OpenReport, StateKey, Store};
use crate::upload::{FlushReport, Uploader};
use identity::Identity;
use instance_lock::InstanceLock;

pub struct Client {
    store: Arc<Mutex<Store>>,
    identity: RwLock<Identity>,
    uploader: Uploader,
    flush_at: u64,
    context: Map<String, Value>,
    open_report: OpenReport,
    backgrounded: std::sync::atomic::AtomicBool,
    lock: Mutex<Option<InstanceLock>>,
}

impl Client {
    /// Opens the store in the configured data directory and starts the upload worker.
    pub fn new(config: BeckonConfig) -> Result<Client, ClientError> {
        let settings = config.validate()?;
        let lock = InstanceLock::acquire(&settings.data_dir)?;
        let (mut store, open_report) = Store::open(&settings.data_dir, config.queue_limits)?;
        store.expire(Utc::now().timestamp_millis())?;
        let identity = Identity::load_or_create(&mut store)?;
        let store = Arc::new(Mutex::new(store));
        let uploader = Uploader::start(store.clone(), settings.upload)
            .map_err(|e| ClientError::InvalidConfig(e.to_string()))?;
        let mut context = Map::new();
        context.insert(
            "library".into(),
            serde_json::json!({"name": "beckon", "version": env!("CARGO_PKG_VERSION")}),
        );
        Ok(Client {
            store,
            identity: RwLock::new(identity),
            uploader,
            flush_at: config.flush_policy.flush_at as u64,
            context,
            open_report,
            backgrounded: Default::default(),
            lock: Mutex::new(Some(lock)),
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Every change to SQLite is a transaction, so a panic elsewhere cannot have left
        // it half-written; keep going rather than poisoning the SDK for the app's life.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ensure_running(&self) -> Result<(), ClientError> {
        match self.lock.lock() {
            Ok(lock) if lock.is_some() => Ok(()),
            _ => Err(ClientError::ShutDown),
        }
    }

    /// Validates and stores one event. Returns once it is committed to the database.
    pub fn track(&self, event: &Event) -> Result<(), ClientError> {
        self.ensure_running()?;
        let result = event
            .encode()
            .map_err(ClientError::InvalidEvent)
            .and_then(|e| self.enqueue(e.kind, Some(e.name), e.properties, Map::new()));
        if let Err(ClientError::InvalidEvent(_)) = result {
            // Best effort: the caller gets the validation error either way.
            let _ = self.store().bump(Counter::RejectedAtTrack, 1);
        }
        result
    }

    /// Stores the event if it is valid and the SDK is running; returns `false` without
    /// storing or counting anything otherwise, so a caller can then use [`Client::track`]
    /// to learn why.
    pub fn track_if_valid(&self, event: &Event) -> Result<bool, ClientError> {
        if self.ensure_running().is_err() {
            return Ok(false);
        }
        let Ok(encoded) = event.encode() else {
            return Ok(false);
        };
        match self.enqueue(
            encoded.kind,
            Some(encoded.name),
            encoded.properties,
            Map::new(),
        ) {
            Ok(()) => Ok(true),
            Err(ClientError::InvalidEvent(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn screen(&self, name: String, properties: Properties) -> Result<(), ClientError> {
        self.track(&Event::Screen { name, properties })
    }

    /// Attaches a user id (and traits) to this device's events from now on.
    pub fn identify(&self, user_id: &str, traits: &Properties) -> Result<(), ClientError> {
        self.ensure_running()?;
        check_id("user_id", user_id).map_err(ClientError::InvalidArgument)?;
        let traits = check_traits(traits).map_err(ClientError::InvalidArgument)?;
        let mut identity = self.identity.write().unwrap_or_else(|p| p.into_inner());
        let next = identity.identified(user_id, &traits);
        next.save(&mut self.store())?;
        *identity = next;
        drop(identity);
        self.enqueue(WireKind::Identify, None, Map::new(), traits)
    }

    /// Forgets the user: a new anonymous id, no user id, no traits (on logout).
    pub fn reset(&self) -> Result<(), ClientError> {
        self.ensure_running()?;
        let mut identity = self.identity.write().unwrap_or_else(|p| p.into_inner());
        let next = Identity::fresh();
        next.save(&mut self.store())?;
        *identity = next;
        Ok(())
    }

    pub fn anonymous_id(&self) -> String {
        self.identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .anonymous_id
            .clone()
    }

    pub fn user_id(&self) -> Option<String> {
        self.identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .user_id
            .clone()
    }

    fn enqueue(
        &self,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, Value>,
        traits: Map<String, Value>,
    ) -> Result<(), ClientError> {
        let now = Utc::now();
        let event = {
            let identity = self.identity.read().unwrap_or_else(|p| p.into_inner());
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
        };
        let payload = serde_json::to_vec(&event).expect("a JSON map always serializes");
        if payload.len() > MAX_EVENT_BYTES {
            return Err(ClientError::InvalidEvent(FieldError::new(
                "event",
                format!(
                    "is {} bytes, over the {MAX_EVENT_BYTES}-byte limit",
                    payload.len()
                ),
            )));
        }
        let queued = {
            let mut store = self.store();
            store.enqueue(now.timestamp_millis(), &payload)?;
            store.totals().events
        };
        if queued % self.flush_at == 0 {
            self.uploader.nudge();
        }
        Ok(())
    }

    /// Uploads everything queued, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport, ClientError> {
        self.ensure_running()?;
        Ok(self.uploader.flush(timeout))
    }

    pub fn stats(&self) -> Result<Stats, ClientError> {
        self.ensure_running()?;
        let store = self.store();
        let counters = store.counters()?;
        let last_error = store.get_state(StateKey::LastUploadError)?;
        Ok(Stats::new(store.totals(), &counters, last_error))
    }

    /// What opening the database found (a reset after corruption, for instance).
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// The app came to the foreground.
    pub fn on_foreground(&self) -> Result<(), ClientError> {
        let from_background = self
            .backgrounded
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        self.track(&Event::ApplicationOpened {
            from_background,
            url: None,
            properties: Properties::new(),
        })
    }

    /// The app went to the background: record it and upload now, while the OS still
    /// lets the process run.
    pub fn on_background(&self) -> Result<(), ClientError> {
        self.backgrounded
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.track(&Event::ApplicationBackgrounded {
            properties: Properties::new(),
        })?;
        self.uploader.flush_in_background();
        Ok(())
    }

    /// Stops the upload worker, closes the database and releases the data directory.
    /// Queued events stay on disk for the next instance. Later calls fail with
    /// [`ClientError::ShutDown`].
    pub fn shutdown(&self) {
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        if lock.is_some() {
            // The worker goes first: it must not be mid-transaction when the file closes.
            self.uploader.shutdown();
            // Every commit is already durable; a failing close can lose nothing.
            let _ = self.store().close();
        }
        drop(lock);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}
