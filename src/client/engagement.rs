//! The engagement thread: after each stored event it updates segment memberships and
//! decides whether an in-app message fires, off the caller's thread so `track` stays
//! a single commit. Like Glean's dispatcher, it runs the tasks it is given in order;
//! a call that must see every earlier event (`segments()`) waits for its turn.
//!
//! What it decides is pure (`segments::DeviceSegments`, `messages::DeviceMessages`);
//! this file only feeds them, persists what they report and calls the listeners.

use std::collections::BTreeSet;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::listeners::{InAppMessage, InAppMessageListener, SegmentChange, SegmentListener};
use super::mailbox::{Burst, Look, Mail, Mailbox, Piece, Wake};
use super::recorder::{Keep, Recorder};
use super::ClientError;
use crate::common::background;
use crate::events::Event;
use crate::messages::{
    BehaviourFold, DeviceMessages, EventRef, FiredTrigger, Folded, RenderContext, SelectionPolicy,
};
use crate::protocol::{WireEvent, WireKind, SEGMENT_ENTERED, SEGMENT_EXITED, SEGMENT_ID_PROPERTY};
use crate::segments::{is_device_report, DeviceSegments, MembershipChange, SummarySnapshot};
use crate::store::{HistoryLimits, SETTLE_PIECE};
use crate::sync::SyncedDefinitions;

/// How often time-based rules (inactivity, windows) are re-evaluated with no event.
pub(crate) const CLOCK_TICK: Duration = Duration::from_secs(60);
/// How often the stored history is trimmed to its limits.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// A message waiting for the app to poll is dropped after this long: it belonged to a
/// moment that has passed.
const PENDING_FOR: TimeDelta = TimeDelta::minutes(5);

/// The aggregates are saved once this many events went by (when the events of a burst
/// are taken, `mailbox::Burst`), at each tick and at stop, so a start after a crash
/// folds a few thousand rows at most.
const SAVE_EVERY: usize = 1_000;

type Task = Box<dyn FnOnce(&mut Engagement) + Send>;

/// Whether the thread goes on after what it handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    GoOn,
    Stop,
}

enum Command {
    Definitions(Box<SyncedDefinitions>),
    Run(Task),
    Stop,
}

/// The handle the client keeps.
pub(crate) struct EngagementThread {
    mailbox: Arc<Mailbox<Command>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the thread is started with: the mailbox, where what was posted before the
/// thread started waits.
pub(crate) struct Inbox(Arc<Mailbox<Command>>);

impl EngagementThread {
    /// The handle, usable at once (what is posted waits), and the inbox to start it with.
    pub(crate) fn new() -> (EngagementThread, Inbox) {
        let mailbox = Arc::new(Mailbox::default());
        let handle = EngagementThread {
            mailbox: mailbox.clone(),
            thread: Mutex::new(None),
        };
        (handle, Inbox(mailbox))
    }

    /// Starts the thread; it loads the history and settles memberships first, so the
    /// constructor does not wait for that.
    pub(crate) fn start(
        &self,
        inbox: Inbox,
        recorder: Arc<Recorder>,
        definitions: SyncedDefinitions,
        queue_watermark: i64,
        limits: HistoryLimits,
    ) -> Result<(), ClientError> {
        let thread = std::thread::Builder::new()
            .name("beckon-engagement".into())
            .spawn(move || {
                background::lower_this_thread();
                // However the thread ends (a listener's panic included), later calls hear
                // that it is gone rather than waiting for an answer.
                let _closing = CloseOnExit(&inbox.0);
                let mut engagement =
                    Engagement::load(recorder, definitions, queue_watermark, limits);
                engagement.run(&inbox.0);
            })
            .map_err(|e| {
                ClientError::InvalidConfig(format!("cannot start the engagement thread: {e}"))
            })?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        Ok(())
    }

    /// Hands over the stored payload of an event the app tracked.
    pub(crate) fn recorded(&self, payload: &[u8]) {
        self.mailbox.post_event(payload);
    }

    /// A sender for the sync worker to hand over new definitions.
    pub(crate) fn definitions_sink(&self) -> impl Fn(SyncedDefinitions) + Send + 'static {
        let mailbox = self.mailbox.clone();
        move |definitions| {
            let _ = mailbox.post(Command::Definitions(Box::new(definitions)));
        }
    }

    /// Runs `task` on the engagement thread after everything sent before it, and
    /// returns its answer.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        timeout: Duration,
        task: impl FnOnce(&mut Engagement) -> T + Send + 'static,
    ) -> Result<T, ClientError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let task: Task = Box::new(move |engagement| {
            let _ = reply.send(task(engagement));
        });
        self.mailbox
            .post(Command::Run(task))
            .map_err(|_| ClientError::ShutDown)?;
        answer.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => ClientError::Busy(timeout),
            RecvTimeoutError::Disconnected => ClientError::ShutDown,
        })
    }

    /// Runs `task` on the engagement thread without waiting for it.
    pub(crate) fn post(&self, task: impl FnOnce(&mut Engagement) + Send + 'static) {
        let _ = self.mailbox.post(Command::Run(Box::new(task)));
    }

    /// Finishes the queued work and stops the thread.
    pub(crate) fn stop(&self) {
        let _ = self.mailbox.post(Command::Stop);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            // A listener calling shutdown from the engagement thread cannot join itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// Closes the mailbox when dropped.
struct CloseOnExit<'a>(&'a Mailbox<Command>);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Drop for EngagementThread {
    /// A thread started by a constructor that failed later ends too.
    fn drop(&mut self) {
        let _ = self.mailbox.post(Command::Stop);
    }
}

pub(crate) struct Engagement {
    recorder: Arc<Recorder>,
    segments: DeviceSegments,
    messages: DeviceMessages,
    locale: String,
    segment_listener: Option<Arc<dyn SegmentListener>>,
    message_listener: Option<Arc<dyn InAppMessageListener>>,
    /// A message fired while no listener was set, kept for the app to poll.
    pending: Option<(FiredTrigger, DateTime<Utc>)>,
    /// What templates read of the user's events, kept up to date per event.
    behaviour: BehaviourFold,
    /// An event older than one already folded arrived: fold again before reading.
    behaviour_stale: bool,
    /// Events folded since the aggregates were last saved.
    unsaved: usize,
    limits: HistoryLimits,
    last_pruned: Option<Instant>,
}

impl Engagement {
    /// Restores the saved aggregates and folds in the history rows written after them,
    /// first completing the history from the queue: events queued (up to
    /// `queue_watermark`, the last one before this instance started) whose history row
    /// the previous process did not live to write. The whole history is read only when
    /// nothing was saved or the definitions read something the saved state lacks.
    fn load(
        recorder: Arc<Recorder>,
        definitions: SyncedDefinitions,
        queue_watermark: i64,
        limits: HistoryLimits,
    ) -> Engagement {
        let now = Utc::now();
        let anonymous_id = recorder.store().identity().anonymous_id.clone();
        let missing = missing_from_history(&recorder, queue_watermark);
        if !missing.is_empty() {
            let rows = missing
                .iter()
                .map(|(e, p)| (e.timestamp.timestamp_millis(), p.as_slice()));
            let _ = recorder.store().append_history(rows);
        }
        let (saved, tail, memberships, impressions) = {
            let mut store = recorder.store();
            let saved = store.engagement_state().ok().flatten();
            let tail = match &saved {
                Some((seq, _)) => store.history_after(*seq).unwrap_or_default(),
                None => Vec::new(),
            };
            (
                saved,
                tail,
                store.memberships().unwrap_or_default(),
                store
                    .impressions(now.timestamp_millis())
                    .unwrap_or_default(),
            )
        };
        // Read off the store's lock. The aggregates belong to the current user: those
        // of a previous one (a logout the process did not live to finish) are left out.
        let saved = saved
            .and_then(|(_, blob)| SavedEngagement::decode(&blob))
            .filter(|saved| saved.anonymous_id == anonymous_id);
        let tail = match saved {
            Some(_) => parse_all(tail, &anonymous_id),
            None => Vec::new(),
        };
        let read_history = || read_history(&recorder, &anonymous_id);
        let policy = policy(&definitions);
        let memberships = memberships.into_keys().collect();
        let (mut segments, changes, mut behaviour) = match saved {
            Some(saved) => {
                let (segments, changes) = DeviceSegments::load(
                    definitions.segments,
                    Some(saved.segments),
                    &tail,
                    read_history,
                    memberships,
                    now,
                );
                (segments, changes, saved.behaviour)
            }
            None => {
                let history = read_history();
                let behaviour = BehaviourFold::from_wire_events(&history);
                let (segments, changes) = DeviceSegments::load(
                    definitions.segments,
                    None,
                    &[],
                    move || history,
                    memberships,
                    now,
                );
                (segments, changes, behaviour)
            }
        };
        let mut behaviour_stale = false;
        for event in tail.iter().filter_map(EventRef::from_wire) {
            behaviour_stale |= behaviour.apply(event) == Folded::OutOfOrder;
        }
        let traits = recorder.store().identity().traits.clone();
        let mut traits_changes = Vec::new();
        if !traits.is_empty() {
            traits_changes = segments.record(&identify(traits), now);
        }
        traits_changes.extend(segments.set_permissions(&recorder.consent.channel_states(), now));
        let impressions = impressions
            .into_iter()
            .filter_map(|(campaign, at)| Some((campaign, DateTime::from_timestamp_millis(at)?)));
        let mut engagement = Engagement {
            recorder,
            segments,
            messages: DeviceMessages::new(definitions.campaigns, policy, impressions),
            behaviour,
            behaviour_stale,
            unsaved: tail.len(),
            limits,
            locale: String::new(),
            segment_listener: None,
            message_listener: None,
            pending: None,
            // Trimming reads the history: not at start, at the first tick.
            last_pruned: None,
        };
        // Entries that happened while the app was closed are reported, but fire no
        // message: the moment they belong to has passed.
        engagement.persist_changes(&[changes, traits_changes].concat(), now);
        engagement
    }

    /// Saves the aggregates, so the next start folds only the rows written after now.
    fn save(&mut self) {
        let saved = SavedEngagement {
            anonymous_id: self.recorder.store().identity().anonymous_id.clone(),
            segments: self.segments.snapshot(),
            behaviour: self.behaviour.clone(),
        };
        let Some(blob) = saved.encode() else { return };
        let mut store = self.recorder.store();
        if let Ok(seq) = store.last_history_seq() {
            if store.save_engagement_state(seq, &blob).is_ok() {
                self.unsaved = 0;
            }
        }
    }

    fn run(&mut self, mailbox: &Mailbox<Command>) {
        let mut burst: Option<Burst> = None;
        let mut mail = Mail::default();
        loop {
            let found = match burst {
                Some(_) => mailbox.wait(Burst::PAUSE, Wake::OnCommand),
                None => mailbox.wait(CLOCK_TICK, Wake::OnAnything),
            };
            let now = Instant::now();
            let take = match burst {
                _ if found.commands > 0 => true,
                None if found.events > 0 => {
                    burst = Some(Burst::start(now, found.events));
                    false
                }
                None => {
                    self.on_tick(Utc::now());
                    false
                }
                Some(waiting) => match waiting.look(found.events, now) {
                    Look::Take => true,
                    Look::Wait(next) => {
                        burst = Some(next);
                        false
                    }
                },
            };
            if take {
                burst = None;
                mailbox.take(&mut mail);
                if self.handle(&mut mail) == Handled::Stop {
                    return;
                }
            }
        }
    }

    /// Handles what was taken from the mailbox, in order: the events before a command
    /// are folded before it runs.
    fn handle(&mut self, mail: &mut Mail<Command>) -> Handled {
        let mut events = Vec::new();
        let mut handled = Handled::GoOn;
        for piece in mail.drain() {
            match piece {
                Piece::Event(payload) => events.push(payload),
                Piece::Command(command) => {
                    self.settle(&events);
                    events.clear();
                    match command {
                        Command::Definitions(definitions) => self.on_definitions(*definitions),
                        Command::Run(task) => task(self),
                        Command::Stop => {
                            if self.unsaved > 0 {
                                self.save();
                            }
                            handled = Handled::Stop;
                            break;
                        }
                    }
                }
            }
        }
        self.settle(&events);
        drop(events);
        mail.clear();
        handled
    }

    /// Folds the events that arrived, writes their history rows in one commit, and
    /// saves the aggregates when enough events went by since the last save.
    fn settle(&mut self, payloads: &[&[u8]]) {
        if payloads.is_empty() {
            return;
        }
        // An event stamped for a user forgotten since (a logout or a deletion that ran
        // while it was on its way here) is not this user's history.
        let anonymous_id = self.recorder.store().identity().anonymous_id.clone();
        let mut rows = Vec::with_capacity(payloads.len());
        for &payload in payloads {
            let Ok(event) = serde_json::from_slice::<WireEvent>(payload) else {
                continue;
            };
            if event.anonymous_id != anonymous_id {
                continue;
            }
            // Judged at the moment it happened, so a change is stamped with the time of
            // the event that caused it, however long the event waited.
            let at = event.timestamp;
            self.on_recorded(&event, at);
            if belongs_in_history(&event) {
                rows.push((at.timestamp_millis(), payload));
            }
        }
        // The burst's events move from the append log into the queue's table, and
        // their history rows are written, a piece per hold of the store's lock: an app
        // still tracking waits for one piece at most, not for the whole burst.
        let _ = self.recorder.settle_in_pieces();
        // On failure the rows are rebuilt from the queue at the next start.
        for chunk in rows.chunks(SETTLE_PIECE) {
            let _ = self.recorder.store().append_history(chunk.iter().copied());
        }
        if self.unsaved >= SAVE_EVERY {
            self.save();
        }
    }

    fn on_recorded(&mut self, event: &WireEvent, now: DateTime<Utc>) {
        let changes = self.segments.record(event, now);
        if let Some(event) = EventRef::from_wire(event) {
            self.behaviour_stale |= self.behaviour.apply(event) == Folded::OutOfOrder;
        }
        self.unsaved += 1;
        let entered = self.report(&changes, now);
        if let Some(fired) = FiredTrigger::from_wire(event) {
            self.fire(fired, now);
        }
        for segment_id in entered {
            self.fire(FiredTrigger::SegmentEntered { segment_id }, now);
        }
    }

    pub(crate) fn on_tick(&mut self, now: DateTime<Utc>) {
        // A permission change reaches the segment rules here, within a tick.
        let states = self.recorder.consent.channel_states();
        let mut changes = self.segments.set_permissions(&states, now);
        changes.extend(self.segments.tick(now));
        if self
            .last_pruned
            .is_none_or(|at| at.elapsed() >= PRUNE_EVERY)
        {
            self.last_pruned = Some(Instant::now());
            // The aggregates already folded what goes: rules and templates are not
            // affected, only rules added later, which see what is left.
            let _ = self
                .recorder
                .store()
                .prune_history(now.timestamp_millis(), self.limits);
        }
        if self.unsaved > 0 {
            self.save();
        }
        for segment_id in self.report(&changes, now) {
            self.fire(FiredTrigger::SegmentEntered { segment_id }, now);
        }
    }

    fn on_definitions(&mut self, definitions: SyncedDefinitions) {
        let now = Utc::now();
        let policy = policy(&definitions);
        self.messages
            .replace_campaigns(definitions.campaigns, policy);
        let anonymous_id = self.recorder.store().identity().anonymous_id.clone();
        let recorder = self.recorder.clone();
        let changes = self.segments.replace_set(
            definitions.segments,
            || read_history(&recorder, &anonymous_id),
            now,
        );
        self.report(&changes, now);
        self.save();
    }

    /// The user logged out: the history and memberships were the previous user's.
    /// Cleared here, in order with the history rows this thread writes, so no row of
    /// an event tracked before the logout can land after the clearing.
    pub(crate) fn on_reset(&mut self) {
        let _ = self.recorder.store().clear_history();
        self.forget_events();
        self.pending = None;
    }

    fn forget_events(&mut self) {
        self.segments.clear();
        self.behaviour = BehaviourFold::default();
        self.behaviour_stale = false;
        self.unsaved = 0;
    }

    /// The local data was deleted: forget, in memory too, what was derived from it.
    pub(crate) fn on_local_data_deleted(&mut self) {
        self.forget_events();
        self.messages.forget_user();
        self.pending = None;
    }

    /// Persists and reports membership changes; returns the segments entered.
    fn report(&mut self, changes: &[MembershipChange], now: DateTime<Utc>) -> Vec<String> {
        if changes.is_empty() {
            return Vec::new();
        }
        self.persist_changes(changes, now);
        changes
            .iter()
            .filter(|c| c.entered)
            .map(|c| c.segment.clone())
            .collect()
    }

    fn persist_changes(&mut self, changes: &[MembershipChange], now: DateTime<Utc>) {
        if changes.is_empty() {
            return;
        }
        let pairs: Vec<(String, bool)> = changes
            .iter()
            .map(|c| (c.segment.clone(), c.entered))
            .collect();
        let reports: Vec<WireEvent> = changes
            .iter()
            .map(|c| {
                let name = if c.entered {
                    SEGMENT_ENTERED
                } else {
                    SEGMENT_EXITED
                };
                let mut properties = Map::new();
                properties.insert(SEGMENT_ID_PROPERTY.into(), Value::String(c.segment.clone()));
                self.recorder
                    .stamp(WireKind::Track, Some(name.into()), properties, now)
            })
            .collect();
        // The in-memory memberships are already updated; a failed write is reported
        // again on the next start, when the stored ones are reconciled.
        let _ = self.recorder.record_memberships(&pairs, &reports, now);
        if let Some(listener) = &self.segment_listener {
            listener.on_segments_changed(
                changes
                    .iter()
                    .map(|c| SegmentChange {
                        segment_id: c.segment.clone(),
                        entered: c.entered,
                    })
                    .collect(),
            );
        }
    }

    /// Offers the message `fired` selects, if any: to the listener, or keeps it for a poll.
    /// Nothing while the user does not allow in-app messages.
    fn fire(&mut self, fired: FiredTrigger, now: DateTime<Utc>) {
        if !self.recorder.consent.may_show_in_app() {
            return;
        }
        let Some(listener) = self.message_listener.clone() else {
            if self.message_for(&fired, now).is_some() {
                self.pending = Some((fired, now));
            }
            return;
        };
        if let Some(message) = self.message_for(&fired, now) {
            if listener.on_message(message.clone()) {
                self.shown(&message, now);
            }
        }
    }

    fn message_for(&mut self, fired: &FiredTrigger, now: DateTime<Utc>) -> Option<InAppMessage> {
        if self.behaviour_stale {
            // An event arrived dated before others (a clock set back): fold again, in order.
            let anonymous_id = self.recorder.store().identity().anonymous_id.clone();
            self.behaviour =
                BehaviourFold::from_wire_events(&read_history(&self.recorder, &anonymous_id));
            self.behaviour_stale = false;
        }
        let summary = self.segments.summary();
        // The app's setting wins; a `locale` trait from identify is the fallback.
        let locale = match summary.traits.get("locale") {
            Some(Value::String(trait_locale)) if self.locale.is_empty() => trait_locale.as_str(),
            _ => self.locale.as_str(),
        };
        let (recorder, behaviour) = (&self.recorder, &self.behaviour);
        let rendered = self
            .messages
            .message_for(fired, self.segments.memberships(), locale, now, || {
                let behaviour = behaviour.snapshot();
                RenderContext {
                    traits: summary.traits.clone(),
                    promo_code: super::push::featured_promo_code(recorder, &behaviour.cart, now),
                    behaviour,
                    ..RenderContext::default()
                }
            })
            .ok()?;
        Some(InAppMessage::new(
            rendered,
            uuid::Uuid::now_v7().to_string(),
        ))
    }

    fn shown(&mut self, message: &InAppMessage, now: DateTime<Utc>) {
        let at = self
            .messages
            .note_shown(&message.message_id, &message.campaign_id, now);
        let event = Event::InAppMessageShown {
            message_id: message.message_id.clone(),
            campaign_id: message.campaign_id.clone(),
            properties: Default::default(),
        };
        if let Ok(wire) = self.stamp_event(&event, at) {
            let _ = self.recorder.record_impression(&message.campaign_id, &wire);
            self.segments.record(&wire, now);
        }
    }

    fn stamp_event(&self, event: &Event, at: DateTime<Utc>) -> Result<WireEvent, ClientError> {
        let encoded = event.encode().map_err(ClientError::InvalidEvent)?;
        Ok(self
            .recorder
            .stamp(encoded.kind, Some(encoded.name), encoded.properties, at))
    }

    /// The message kept for polling, if it may still be shown; it counts as shown.
    pub(crate) fn take_pending(&mut self, now: DateTime<Utc>) -> Option<InAppMessage> {
        let (fired, at) = self.pending.take()?;
        if now - at > PENDING_FOR || !self.recorder.consent.may_show_in_app() {
            return None;
        }
        // Decided again: a sync, the gap or a cap may have changed the answer.
        let message = self.message_for(&fired, now)?;
        self.shown(&message, now);
        Some(message)
    }

    /// Records a click or dismissal of a message this device showed.
    pub(crate) fn answered(
        &mut self,
        message_id: &str,
        button_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), ClientError> {
        let campaign_id = self
            .messages
            .campaign_of(message_id)
            .ok_or_else(|| {
                ClientError::InvalidArgument(crate::common::FieldError::new(
                    "message_id",
                    format!(
                        "{} is not a message shown by this instance",
                        crate::text::quote(message_id)
                    ),
                ))
            })?
            .to_owned();
        let event = match button_id {
            Some(button_id) => Event::InAppMessageClicked {
                message_id: message_id.to_owned(),
                campaign_id,
                button_id: Some(button_id),
                properties: Default::default(),
            },
            None => Event::InAppMessageDismissed {
                message_id: message_id.to_owned(),
                campaign_id,
                properties: Default::default(),
            },
        };
        let wire = self.stamp_event(&event, now)?;
        if self.recorder.record(&wire, Keep::InHistory)?.is_some() {
            self.on_recorded(&wire, now);
        }
        Ok(())
    }

    pub(crate) fn memberships(&self) -> BTreeSet<String> {
        self.segments.memberships().clone()
    }

    pub(crate) fn set_locale(&mut self, locale: String) {
        self.locale = locale;
    }

    pub(crate) fn set_segment_listener(&mut self, listener: Option<Arc<dyn SegmentListener>>) {
        self.segment_listener = listener;
    }

    pub(crate) fn set_message_listener(&mut self, listener: Option<Arc<dyn InAppMessageListener>>) {
        self.message_listener = listener;
    }
}

/// What the engagement thread saves: the aggregates segment rules and templates read.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedEngagement {
    /// Whose events these are.
    anonymous_id: String,
    segments: SummarySnapshot,
    behaviour: BehaviourFold,
}

impl SavedEngagement {
    fn encode(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(self).ok()
    }

    /// `None` for a state this version cannot read: it is rebuilt from the history.
    fn decode(blob: &[u8]) -> Option<Self> {
        serde_json::from_slice(blob).ok()
    }
}

fn policy(definitions: &SyncedDefinitions) -> SelectionPolicy {
    SelectionPolicy {
        min_gap: Duration::from_secs(definitions.settings.in_app_min_gap_seconds.into()),
    }
}

/// The stored traits as the identify event the history reads them from.
fn identify(traits: Map<String, Value>) -> WireEvent {
    WireEvent {
        id: String::new(),
        kind: WireKind::Identify,
        name: None,
        properties: Map::new(),
        traits,
        anonymous_id: String::new(),
        user_id: None,
        timestamp: Utc::now(),
        context: Map::new(),
    }
}

/// Parses stored payloads of the current user; a row that no longer parses (written
/// by a future version) is skipped, not fatal.
fn parse_all(payloads: Vec<Vec<u8>>, anonymous_id: &str) -> Vec<WireEvent> {
    payloads
        .iter()
        .filter_map(|payload| serde_json::from_slice::<WireEvent>(payload).ok())
        .filter(|e| e.anonymous_id == anonymous_id)
        .collect()
}

/// Every stored event of the current user, oldest first.
fn read_history(recorder: &Recorder, anonymous_id: &str) -> Vec<WireEvent> {
    let rows = recorder.store().history().unwrap_or_default();
    parse_all(rows, anonymous_id)
}

/// What the app did (tracks and screens), not what the SDK reports about it.
fn belongs_in_history(event: &WireEvent) -> bool {
    match (event.kind, event.name.as_deref()) {
        (WireKind::Track, Some(name)) => !is_device_report(name),
        (WireKind::Screen, _) => true,
        _ => false,
    }
}

/// Queued events newer than the history's newest row that the history lacks.
fn missing_from_history(recorder: &Recorder, queue_watermark: i64) -> Vec<(WireEvent, Vec<u8>)> {
    let anonymous_id = recorder.store().identity().anonymous_id.clone();
    let (newest, rows) = recorder.store().newest_history().unwrap_or_default();
    let newest_rows = parse_all(rows, &anonymous_id);
    let known: std::collections::HashSet<&str> =
        newest_rows.iter().map(|e| e.id.as_str()).collect();
    let queued = recorder
        .store()
        .queued_since(newest.unwrap_or(i64::MIN), queue_watermark)
        .unwrap_or_default();
    queued
        .into_iter()
        .filter_map(|(_, payload)| {
            let event: WireEvent = serde_json::from_slice(&payload).ok()?;
            (belongs_in_history(&event)
                && event.anonymous_id == anonymous_id
                && !known.contains(event.id.as_str()))
            .then_some((event, payload))
        })
        .collect()
}
