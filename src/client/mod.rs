//! The SDK's inner type: it owns the store and the upload worker and implements every
//! public call. The `ffi` facade wraps it without adding logic.

mod api;
mod config;
mod consent;
mod consent_state;
mod engagement;
mod error;
mod identity;
mod instance_lock;
mod lifecycle;
mod listeners;
mod mailbox;
mod push;
mod recorder;
mod stats;
mod sync;

pub use config::{BeckonConfig, FlushPolicy};
pub use consent::PushToken;
pub use error::ClientError;
pub use listeners::{
    IdentityTokenListener, InAppButton, InAppMessage, InAppMessageListener, SegmentChange,
    SegmentListener,
};
pub use push::{LinkAction, PushAction, PENDING_LINK_MAX_AGE};
pub use stats::{DroppedEvents, Stats};

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Map;

use crate::common::FieldError;
use crate::events::{check_traits, Event, Properties};
use crate::net::HttpClient;
use crate::protocol::{check_id, WireKind, LOCALE_CONTEXT, MAX_EVENT_BYTES};
use crate::store::{Counter, Identity, OpenReport, Store};
use crate::sync::{load_last_good, SyncedDefinitions};
use crate::upload::{FlushReport, Uploader};
use consent_state::ConsentState;
use engagement::EngagementThread;
use identity::check_token;
use instance_lock::InstanceLock;
use lifecycle::Lifecycle;
use recorder::{Keep, Recorder};

/// How long a call that needs the engagement thread's answer waits for it.
const ENGAGEMENT_ANSWER: Duration = Duration::from_secs(5);

/// The SDK's inner type, one per data directory: every public call of the SDK is a
/// method of it (the list is in `api.rs`), and the `ffi` facade wraps it without
/// adding logic. Its working parts (`Core`) are reachable only while it runs.
pub struct Client {
    core: Lifecycle<Core>,
}

/// What a running instance works with. Only [`Client`] reaches it, through the
/// lifecycle's check.
pub(crate) struct Core {
    recorder: Arc<Recorder>,
    uploader: Arc<Uploader>,
    engagement: EngagementThread,
    open_report: OpenReport,
    backgrounded: std::sync::atomic::AtomicBool,
    push: push::PushState,
}

impl Client {
    /// Opens the store in the configured data directory and starts the upload worker,
    /// whose requests the library's own HTTP client makes (builds with `builtin-http`).
    pub fn new(config: BeckonConfig) -> Result<Client, ClientError> {
        Client::with_http(config, None)
    }

    /// Like [`Client::new`], the requests made by `http` (`None`: the library's own
    /// client, in the builds that have one).
    pub fn with_http(
        config: BeckonConfig,
        http: Option<Arc<dyn HttpClient>>,
    ) -> Result<Client, ClientError> {
        let mut settings = config.validate()?;
        settings.upload.http = http;
        let lock = InstanceLock::acquire(&settings.data_dir)?;
        let (mut store, open_report) = Store::open(&settings.data_dir, config.queue_limits)?;
        store.expire(Utc::now().timestamp_millis())?;
        let profile = store.device_profile()?;
        // Until the first sync, the last good copy; on a first run, the built-ins.
        let definitions = load_last_good(&mut store).unwrap_or_else(SyncedDefinitions::builtin);
        // Events tracked from here on reach the engagement thread as commands; only
        // older ones may be missing from the history after a crash.
        let queue_watermark = store.last_seq()?.unwrap_or(0);
        let store = crate::store::shared(store);
        let consent = Arc::new(ConsentState::load(store.clone())?);
        let (engagement, inbox) = EngagementThread::new();
        let uploader = Arc::new(
            Uploader::start_with_consent(
                store.clone(),
                settings.upload,
                Box::new(engagement.definitions_sink()),
                consent.clone(),
            )
            .map_err(|e| ClientError::InvalidConfig(e.to_string()))?,
        );
        let recorder = Arc::new(Recorder::new(
            store,
            uploader.clone(),
            config.flush_policy.flush_at as u64,
            consent,
        ));
        engagement.start(
            inbox,
            recorder.clone(),
            definitions,
            queue_watermark,
            settings.history,
        )?;
        let core = Core {
            recorder,
            uploader,
            engagement,
            open_report,
            backgrounded: Default::default(),
            push: Default::default(),
        };
        core.apply_profile(&profile);
        Ok(Client {
            core: Lifecycle::start(core, lock),
        })
    }

    /// Stops the workers, closes the database and releases the data directory.
    /// Queued events stay on disk for the next instance. Later calls fail with
    /// [`ClientError::ShutDown`].
    pub fn shutdown(&self) {
        self.core.stop(Core::stop);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Core {
    /// Validates and stores one event. Returns once it survives the process being killed
    /// (in the queue's append log, `store/append_log.rs`).
    pub fn track(&self, event: &Event) -> Result<(), ClientError> {
        let result = event
            .encode()
            .map_err(ClientError::InvalidEvent)
            .and_then(|e| self.enqueue(e.kind, Some(e.name), e.properties));
        if let Err(ClientError::InvalidEvent(_)) = result {
            // Best effort: the caller gets the validation error either way.
            let _ = self.recorder.store().bump(Counter::RejectedAtTrack, 1);
        }
        result
    }

    /// Stores the event if it is valid and the SDK is running; returns `false` without
    /// storing or counting anything otherwise, so a caller can then use [`Client::track`]
    /// to learn why.
    pub fn track_if_valid(&self, event: &Event) -> Result<bool, ClientError> {
        let Ok(encoded) = event.encode() else {
            return Ok(false);
        };
        match self.enqueue(encoded.kind, Some(encoded.name), encoded.properties) {
            Ok(()) => Ok(true),
            Err(ClientError::InvalidEvent(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn screen(&self, name: String, properties: Properties) -> Result<(), ClientError> {
        self.track(&Event::Screen { name, properties })
    }

    /// Attaches a user id (and traits) to this device's events from now on, with the
    /// identity token the app's backend signed for the user, if it gave one (kept for
    /// the user's events, including those queued before a later logout).
    ///
    /// Every refusal is [`ClientError::InvalidArgument`] naming the argument
    /// (`user_id`, `identity_token`, `traits.<key>`, or `traits` when they are too
    /// large together), and nothing is stored: the traits are arguments of this call,
    /// like the user id, rather than an event the app built, so they are not
    /// `InvalidEvent` and not counted in `stats().rejected_at_track`.
    pub fn identify(
        &self,
        user_id: &str,
        traits: &Properties,
        identity_token: Option<&str>,
    ) -> Result<(), ClientError> {
        check_id("user_id", user_id).map_err(ClientError::InvalidArgument)?;
        if let Some(token) = identity_token {
            check_token(token)?;
        }
        let traits = check_traits(traits).map_err(ClientError::InvalidArgument)?;
        // One hold of the store's lock: no event lands between the new identity and the
        // device's state reported for it.
        let mut store = self.recorder.store();
        let next = store.identity().identified(user_id, &traits);
        let mut event =
            self.recorder
                .stamp_as(&next, WireKind::Identify, None, Map::new(), Utc::now());
        event.traits = traits;
        // Checked before anything is stored: a refused identify changes nothing. Each
        // trait fits (`check_traits`), so only all of them together can be too large.
        let payload = recorder::serialize(&event).map_err(|bytes| {
            ClientError::InvalidArgument(FieldError::new(
                "traits",
                format!(
                    "make an identify event of {bytes} bytes, over the {MAX_EVENT_BYTES}-byte limit of an event{}",
                    recorder::largest_hint(&event)
                ),
            ))
        })?;
        if let Some(token) = identity_token {
            // Before the identify event is queued, so that the batch taking it has it.
            self.store_identity_token(&mut store, user_id, token)?;
        }
        let previous = store.set_identity(next)?;
        let at = event.timestamp.timestamp_millis();
        let stored = self
            .recorder
            .commit(&mut store, at, &payload, Keep::QueueOnly)?;
        if previous.user_id.as_deref() != Some(user_id) {
            // An anonymous user's choices become the identified user's.
            self.user_changed(&mut store, &previous, previous.user_id.is_none())?;
        }
        drop(store);
        if stored {
            self.engagement.recorded(&payload);
        }
        Ok(())
    }

    /// Forgets the user: a new anonymous id, no user id, no traits, no history or
    /// segment memberships (on logout).
    pub fn reset(&self) -> Result<(), ClientError> {
        let mut store = self.recorder.store();
        let previous = store.set_identity(Identity::fresh())?;
        self.user_changed(&mut store, &previous, false)?;
        drop(store);
        self.engagement.post(|e| e.on_reset());
        Ok(())
    }

    pub fn anonymous_id(&self) -> String {
        self.recorder.store().identity().anonymous_id.clone()
    }

    pub fn user_id(&self) -> Option<String> {
        self.recorder.store().identity().user_id.clone()
    }

    fn enqueue(
        &self,
        kind: WireKind,
        name: Option<String>,
        properties: Map<String, serde_json::Value>,
    ) -> Result<(), ClientError> {
        if let Some(payload) = self.recorder.record_now(kind, name, properties)? {
            self.engagement.recorded(&payload);
        }
        Ok(())
    }

    /// Uploads everything queued, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport, ClientError> {
        Ok(self.uploader.flush(timeout))
    }

    pub fn stats(&self) -> Result<Stats, ClientError> {
        let mut store = self.recorder.store();
        let counters = store.counters()?;
        Ok(
            Stats::new(store.totals()?, &counters, store.upload_error()?)
                .with_sync(store.document_status(crate::sync::SYNC_DOCUMENT)?),
        )
    }

    /// What opening the database found (a reset after corruption, for instance).
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// The segments the user is in, after every event tracked before this call.
    pub fn segments(&self) -> Result<Vec<String>, ClientError> {
        self.engagement
            .call(ENGAGEMENT_ANSWER, |e| e.memberships())
            .map(|set| set.into_iter().collect())
    }

    /// Calls `listener` on every segment entry and exit from now on (`None` stops).
    pub fn set_segment_listener(
        &self,
        listener: Option<Arc<dyn SegmentListener>>,
    ) -> Result<(), ClientError> {
        self.engagement.post(|e| e.set_segment_listener(listener));
        Ok(())
    }

    /// Hands in-app messages to `listener` as their triggers fire (`None`: keep the
    /// latest for [`Client::take_in_app_message`] instead).
    pub fn set_in_app_listener(
        &self,
        listener: Option<Arc<dyn InAppMessageListener>>,
    ) -> Result<(), ClientError> {
        self.engagement.post(|e| e.set_message_listener(listener));
        Ok(())
    }

    /// The in-app message that fired most recently while no listener was set, if it
    /// may still be shown. Taking it counts it as shown.
    pub fn take_in_app_message(&self) -> Result<Option<InAppMessage>, ClientError> {
        self.engagement
            .call(ENGAGEMENT_ANSWER, |e| e.take_pending(Utc::now()))
    }

    /// The user tapped a button of a shown message.
    pub fn in_app_message_clicked(
        &self,
        message_id: String,
        button_id: String,
    ) -> Result<(), ClientError> {
        check_id("button_id", &button_id).map_err(ClientError::InvalidArgument)?;
        self.answer_message(message_id, Some(button_id))
    }

    /// The user closed a shown message.
    pub fn in_app_message_dismissed(&self, message_id: String) -> Result<(), ClientError> {
        self.answer_message(message_id, None)
    }

    fn answer_message(
        &self,
        message_id: String,
        button_id: Option<String>,
    ) -> Result<(), ClientError> {
        check_id("message_id", &message_id).map_err(ClientError::InvalidArgument)?;
        self.engagement.call(ENGAGEMENT_ANSWER, move |e| {
            e.answered(&message_id, button_id, Utc::now())
        })?
    }

    /// The user's language for in-app messages, as a BCP 47 tag (`pt-BR`); the
    /// `locale` trait is used while none is set.
    pub fn set_locale(&self, locale: String) -> Result<(), ClientError> {
        if !locale.is_empty() {
            check_id("locale", &locale).map_err(ClientError::InvalidArgument)?;
            if !locale
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ClientError::InvalidArgument(FieldError::new(
                    "locale",
                    format!(
                        "{} is not a language tag such as en or pt-BR",
                        crate::text::quote(&locale)
                    ),
                )));
            }
        }
        self.recorder.set_context(
            LOCALE_CONTEXT,
            (!locale.is_empty()).then_some(locale.as_str()),
        );
        self.engagement.post(move |e| e.set_locale(locale));
        Ok(())
    }

    /// Re-evaluates time-based segments now rather than at the next clock tick (the
    /// app came back after a long pause, or a test).
    pub fn refresh_segments(&self) -> Result<(), ClientError> {
        self.engagement.post(|e| e.on_tick(Utc::now()));
        Ok(())
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
        })?;
        self.uploader.sync_in_background();
        self.engagement.post(|e| e.on_tick(Utc::now()));
        Ok(())
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

    /// Stops the workers, then closes the database: neither worker may be
    /// mid-transaction when the file closes.
    fn stop(&self) {
        self.engagement.stop();
        self.uploader.shutdown();
        // Every commit is already durable; a failing close can lose nothing.
        let _ = self.recorder.store().close();
    }
}
