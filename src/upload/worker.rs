//! The upload worker: a thread owning a single-threaded tokio runtime, woken by the
//! SDK (event count reached, app backgrounded, explicit flush) or by its own timers
//! (flush interval, retry backoff). The caller's thread never does network I/O; it
//! only sends the worker a message. The worker also runs the definitions sync
//! ([`Syncer`]) between uploads, and calls the app's [`IdentityTokenListener`] when
//! the server refuses a user's identity token.

use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use super::body::{assemble_batch, gzip};
use super::hold::HeldUsers;
use super::identity::{batch_tokens, batch_user_ids, user_of};
use super::trigger::should_flush;
use crate::common::background;
use crate::net::policy::{self, Decision, Outcome, RetryPolicy};
use crate::net::{
    describe_refusals, HttpClient, HttpTransport, IdentityTokenListener, ServerClock,
    TokenRequests, TransportError,
};
use crate::protocol::IdentityRefusal;
use crate::store::{
    Checkpointer, Counter, Counters, IntegrityCheck, QueuedEvent, Store, StoreError, StoreGuard,
    StoreLock,
};
use crate::sync::{ConsentLink, OnSynced, SyncOutcome, SyncReport, Syncer};

#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub server_url: String,
    pub app_key: String,
    pub flush_at: u64,
    pub flush_interval: Duration,
    pub request_timeout: Duration,
    pub max_batch_events: usize,
    pub max_batch_bytes: usize,
    pub retry: RetryPolicy,
    /// How often to sync definitions; `None`: only at start, on foreground and when asked.
    pub sync_interval: Option<Duration>,
    /// Who makes the requests; `None`: the library's own client.
    pub http: Option<Arc<dyn HttpClient>>,
}

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum FlushOutcome {
    /// Every event queued when the flush began has been uploaded (or refused by the server).
    Delivered,
    /// An attempt failed; the events stay queued and the worker retries after a delay.
    WillRetry,
    /// The timeout passed first; the upload goes on in the background.
    TimedOut,
    /// The SDK was shut down.
    ShutDown,
}

/// What a flush did, for the app to log or show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct FlushReport {
    pub outcome: FlushOutcome,
    /// Events the server accepted while the flush ran.
    pub uploaded: u64,
    /// Events the server refused while the flush ran (dropped, never retried).
    pub rejected: u64,
    /// Events still queued when the flush returned.
    pub queued: u64,
    /// When `WillRetry`: milliseconds until the next attempt.
    pub retry_in_ms: Option<u64>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

enum Command {
    /// The queue may have reached the flush threshold.
    Nudge,
    /// Upload everything queued at `mark`; answer on `reply` when done, if given.
    Flush {
        mark: FlushMark,
        reply: Option<std_mpsc::Sender<FlushReport>>,
    },
    /// Sync definitions now; answer on `reply` when done, if given (a foreground sync
    /// otherwise).
    Sync {
        reply: Option<std_mpsc::Sender<SyncReport>>,
    },
    /// The local data was deleted: what the worker remembers of it goes too.
    Forget,
    /// The app set a new identity token for this user: retry now.
    IdentityTokenSet { user_id: String },
    /// Who to ask for identity tokens the server refuses (`None`: nobody).
    IdentityListener(Option<Arc<dyn IdentityTokenListener>>),
}

/// Handle to the worker thread.
pub struct Uploader {
    commands: mpsc::UnboundedSender<Command>,
    stop: watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    store: Arc<StoreLock>,
}

impl Uploader {
    /// Starts the worker thread. It syncs definitions right away and hands every new
    /// valid set to `on_synced`, on its own thread.
    pub fn start(
        store: Arc<StoreLock>,
        config: UploadConfig,
        on_synced: OnSynced,
    ) -> Result<Uploader, TransportError> {
        Uploader::start_with(store, config, on_synced, None)
    }

    /// Like [`Uploader::start`], and also respects the user's opt-out (nothing is sent
    /// while it holds) and brings the user's permissions down with every sync.
    pub fn start_with_consent(
        store: Arc<StoreLock>,
        config: UploadConfig,
        on_synced: OnSynced,
        consent: Arc<dyn ConsentLink>,
    ) -> Result<Uploader, TransportError> {
        Uploader::start_with(store, config, on_synced, Some(consent))
    }

    fn start_with(
        store: Arc<StoreLock>,
        config: UploadConfig,
        on_synced: OnSynced,
        consent: Option<Arc<dyn ConsentLink>>,
    ) -> Result<Uploader, TransportError> {
        let transport = HttpTransport::new(
            &config.server_url,
            &config.app_key,
            config.request_timeout,
            config.http.clone(),
        )?
        .with_server_clock(ServerClock::new(store.clone()));
        let (commands, receiver) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let mut syncer = Syncer::new(config.sync_interval, config.retry, on_synced);
        if let Some(consent) = &consent {
            syncer = syncer.with_consent(consent.clone());
        }
        let mut worker = Worker::new(store.clone(), transport, config, syncer);
        worker.consent = consent;
        let (checkpointer, integrity) = {
            let store = store.lock();
            (store.checkpointer(), store.integrity_check())
        };
        let upkeep_store = store.clone();
        let thread = std::thread::Builder::new()
            .name("beckon-upload".into())
            .spawn(move || {
                background::lower_this_thread();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // The blocking pool's threads make the app's HTTP requests.
                    .on_thread_start(background::lower_this_thread)
                    .build()
                    .expect("a current-thread runtime needs no resources that can fail");
                runtime.block_on(async move {
                    // The store's upkeep runs on this thread too, between the worker's
                    // own steps, so that neither the app's start nor its commits wait
                    // for it.
                    let upkeep = tokio::spawn(store_upkeep(upkeep_store, checkpointer, integrity));
                    worker.run(receiver, stopped).await;
                    upkeep.abort();
                });
                // A request the app's HTTP client still makes is abandoned, not waited
                // for: its events stay queued.
                runtime.shutdown_background();
            })
            .map_err(|e| TransportError::Client(format!("cannot start the upload thread: {e}")))?;
        Ok(Uploader {
            commands,
            stop,
            thread: Mutex::new(Some(thread)),
            store,
        })
    }

    /// Tells the worker new events arrived; it decides whether that is enough to upload.
    pub fn nudge(&self) {
        let _ = self.commands.send(Command::Nudge);
    }

    /// Starts uploading everything now without waiting (the app went to the background).
    pub fn flush_in_background(&self) {
        let mark = self.mark();
        let _ = self.commands.send(Command::Flush { mark, reply: None });
    }

    /// Uploads everything queued now, waiting at most `timeout` for the outcome.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        // Marked here rather than when the worker gets to the command: the worker may
        // be busy uploading these very events (the queue reached `flush_at`, or a new
        // instance found a backlog), and what it accepts from now on is this flush's.
        let mark = self.mark();
        let (reply, answer) = std_mpsc::channel();
        if self
            .commands
            .send(Command::Flush {
                mark,
                reply: Some(reply),
            })
            .is_err()
        {
            return self.report_without_worker(FlushOutcome::ShutDown, mark);
        }
        match answer.recv_timeout(timeout) {
            Ok(report) => report,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                self.report_without_worker(FlushOutcome::TimedOut, mark)
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                self.report_without_worker(FlushOutcome::ShutDown, mark)
            }
        }
    }

    fn mark(&self) -> FlushMark {
        FlushMark::of(&self.store.lock())
    }

    /// Syncs definitions in the background (the app came to the foreground). Skipped
    /// when the last sync was less than a minute ago.
    pub fn sync_in_background(&self) {
        let _ = self.commands.send(Command::Sync { reply: None });
    }

    /// Forgets what the worker keeps of the deleted local data (the synced document's
    /// ETag, the identity tokens refused) and syncs again in the background.
    pub fn local_data_deleted(&self) {
        let _ = self.commands.send(Command::Forget);
    }

    /// A new identity token for `user_id` is stored: events waiting for it are retried
    /// now, without waiting out the backoff (a server's `Retry-After` still holds).
    pub fn identity_token_set(&self, user_id: &str) {
        let _ = self.commands.send(Command::IdentityTokenSet {
            user_id: user_id.to_owned(),
        });
    }

    /// Calls `listener` on the upload thread whenever the server refuses a user's
    /// identity token, once per user and token (`None`: stop). Refusals that came while
    /// no listener was set are told to the next one.
    pub fn set_identity_token_listener(&self, listener: Option<Arc<dyn IdentityTokenListener>>) {
        let _ = self.commands.send(Command::IdentityListener(listener));
    }

    /// Syncs definitions now, waiting at most `timeout` for the outcome.
    pub fn sync(&self, timeout: Duration) -> SyncReport {
        let (reply, answer) = std_mpsc::channel();
        if self
            .commands
            .send(Command::Sync { reply: Some(reply) })
            .is_err()
        {
            return SyncReport::new(SyncOutcome::ShutDown);
        }
        match answer.recv_timeout(timeout) {
            Ok(report) => report,
            Err(std_mpsc::RecvTimeoutError::Timeout) => SyncReport::new(SyncOutcome::TimedOut),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => SyncReport::new(SyncOutcome::ShutDown),
        }
    }

    /// What a flush the worker did not answer saw happen: uploads may have gone on
    /// meanwhile (a timed-out flush reports the part that was done).
    fn report_without_worker(&self, outcome: FlushOutcome, mark: FlushMark) -> FlushReport {
        let mut store = self.store.lock();
        let (uploaded, rejected) = mark.since(&store.counters().unwrap_or_default());
        FlushReport {
            outcome,
            uploaded,
            rejected,
            queued: store.totals().map_or(0, |t| t.events),
            retry_in_ms: None,
            error: None,
        }
    }

    /// Stops the worker. An upload in flight is abandoned; its events stay queued and
    /// go with the next session, so nothing is lost.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How long the checkpointer rests after a failure (a full disk, say) before trying
/// again; commits meanwhile fall back to checkpointing themselves past a larger size.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(1);

/// Checks the store's file once (`store::IntegrityCheck`: a damaged file is moved
/// aside at the next start), then checkpoints its WAL whenever it has grown
/// (`store::Checkpointer`). Never holds the store's lock across an await: the worker
/// takes it on this same thread.
async fn store_upkeep(
    store: Arc<StoreLock>,
    mut checkpointer: Checkpointer,
    integrity: IntegrityCheck,
) {
    // What it finds is noted for the next start; a failure to check is not damage.
    let _ = integrity.run();
    loop {
        match checkpointer.run(&store) {
            Ok(Some(wait)) => tokio::time::sleep(wait).await,
            Ok(None) => checkpointer.due().await,
            Err(_) => {
                tokio::time::sleep(CHECKPOINT_RETRY).await;
                checkpointer.due().await;
            }
        }
    }
}

/// Where the queue and the counters stood when a flush was asked for: the flush waits
/// for the events queued then, and reports what the server accepted and refused since.
#[derive(Debug, Clone, Copy)]
struct FlushMark {
    /// The newest event queued then.
    up_to: Option<i64>,
    uploaded: u64,
    rejected: u64,
}

impl FlushMark {
    fn of(store: &Store) -> FlushMark {
        // A store that cannot be read marks nothing: the flush then waits for nothing
        // and reports from zero, which the counters can only overstate, never fail on.
        let counters = store.counters().unwrap_or_default();
        FlushMark {
            up_to: store.last_seq().unwrap_or(None),
            uploaded: counters.get(Counter::Uploaded),
            rejected: counters.get(Counter::DroppedRejectedByServer),
        }
    }

    /// Events uploaded and refused since the mark.
    fn since(&self, counters: &Counters) -> (u64, u64) {
        (
            counters
                .get(Counter::Uploaded)
                .saturating_sub(self.uploaded),
            counters
                .get(Counter::DroppedRejectedByServer)
                .saturating_sub(self.rejected),
        )
    }
}

/// A flush waiting for its events to leave the queue.
struct Waiter {
    mark: FlushMark,
    reply: Option<std_mpsc::Sender<FlushReport>>,
}

struct Worker {
    store: Arc<StoreLock>,
    transport: HttpTransport,
    config: UploadConfig,
    /// Consecutive failed attempts; drives the backoff.
    failures: u32,
    /// No attempt before this, because of our own backoff.
    backoff_until: Option<Instant>,
    /// No attempt before this, because the server said so (`Retry-After`).
    hold_until: Option<Instant>,
    /// Start of the current flush interval: the last attempt, or the last time the
    /// worker found the queue empty.
    interval_start: Instant,
    waiters: Vec<Waiter>,
    last_error: Option<String>,
    sync: Syncer,
    consent: Option<Arc<dyn ConsentLink>>,
    /// Asks the app for tokens the server refused.
    identity: TokenRequests,
    /// Users whose events wait for a new token; the others' go on.
    held: HeldUsers,
}

impl Worker {
    fn new(
        store: Arc<StoreLock>,
        transport: HttpTransport,
        config: UploadConfig,
        sync: Syncer,
    ) -> Self {
        Self {
            store,
            transport,
            config,
            failures: 0,
            backoff_until: None,
            hold_until: None,
            interval_start: Instant::now(),
            waiters: Vec::new(),
            last_error: None,
            sync,
            consent: None,
            identity: TokenRequests::default(),
            held: HeldUsers::default(),
        }
    }

    fn store(&self) -> StoreGuard<'_> {
        // A panic while holding the lock cannot leave SQLite half-written (every change
        // is a transaction), so a poisoned lock is safe to keep using.
        self.store.lock()
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut stopped: watch::Receiver<bool>,
    ) {
        // Counted here rather than by the constructor: it reads every queued row.
        let counted = self.store().totals();
        if let Err(e) = counted {
            self.last_error = Some(e.to_string());
        }
        loop {
            let wake_at = match self.sync.next_due() {
                Some(sync_at) => sync_at.min(self.next_wake()),
                None => self.next_wake(),
            };
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                command = commands.recv() => match command {
                    Some(Command::Nudge) => {}
                    Some(Command::Flush { mark, reply }) => self.begin_flush(mark, reply),
                    Some(Command::Sync { reply }) => self.sync.request(reply),
                    Some(Command::Forget) => {
                        self.sync.forget_stored();
                        self.identity.forget();
                        self.held.forget();
                    }
                    Some(Command::IdentityTokenSet { user_id }) => {
                        self.identity.token_arrived(&user_id);
                        self.held.release(&user_id);
                        // Like a flush in the background: the user's waiting events
                        // go now, past our own backoff, never the server's Retry-After.
                        let mark = FlushMark::of(&self.store());
                        self.begin_flush(mark, None);
                    }
                    Some(Command::IdentityListener(listener)) => {
                        self.identity.set_listener(listener)
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(wake_at.into()) => {}
            }
            let expired = self.store().expire(Utc::now().timestamp_millis());
            if let Err(e) = expired {
                self.last_error = Some(e.to_string());
            }
            // Before uploading: one small request, which a waiting `sync()` should not
            // have to queue behind a long upload.
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                _ = self.sync.run_if_due(&self.transport, &self.store, &mut self.identity) => {}
            }
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                _ = self.upload_while_due() => {}
            }
            self.answer_waiters(None);
        }
        self.answer_waiters(Some((FlushOutcome::ShutDown, None)));
    }

    fn next_wake(&self) -> Instant {
        let interval_tick = self.interval_start + self.config.flush_interval;
        let wake = match self.not_before() {
            // A pending retry comes first; a hold without one only delays the interval.
            Some(t) if t > Instant::now() && self.failures > 0 => t,
            Some(t) => t.max(interval_tick),
            None => interval_tick,
        };
        // A user waiting for a token is tried again after their own backoff.
        match self.held.next_retry(Instant::now()) {
            Some(retry) => wake.min(retry),
            None => wake,
        }
    }

    fn not_before(&self) -> Option<Instant> {
        self.backoff_until.max(self.hold_until)
    }

    fn begin_flush(&mut self, mark: FlushMark, reply: Option<std_mpsc::Sender<FlushReport>>) {
        // An explicit flush skips our own backoff but never the server's Retry-After.
        self.backoff_until = None;
        self.waiters.push(Waiter { mark, reply });
        // The events marked may have gone while the command waited for the worker.
        let waiting_for_events = mark
            .up_to
            .is_some_and(|seq| self.store().holds_up_to(seq).unwrap_or(true));
        if let Some(hold) = self
            .hold_until
            .filter(|t| waiting_for_events && *t > Instant::now())
        {
            self.answer_waiters(Some((FlushOutcome::WillRetry, Some(hold - Instant::now()))));
        }
    }

    fn is_due(&self, queued: u64) -> bool {
        if self.not_before().is_some_and(|t| t > Instant::now()) {
            return false;
        }
        // Opting out empties the queue and nothing is queued after it; should anything
        // be there all the same, it stays on the device.
        if self.consent.as_ref().is_some_and(|c| c.opted_out()) {
            return false;
        }
        queued > 0
            && (!self.waiters.is_empty()
                || self.failures > 0
                || should_flush(
                    queued,
                    self.config.flush_at,
                    self.interval_start.elapsed(),
                    self.config.flush_interval,
                ))
    }

    async fn upload_while_due(&mut self) {
        loop {
            let totals = self.store().totals();
            let queued = match totals {
                Ok(totals) => totals.events,
                Err(e) => return self.record_failure(e.to_string(), None, false),
            };
            if queued == 0 {
                // Nothing to retry or wait for: restart the interval so an idle worker
                // sleeps a whole interval instead of waking for an empty queue.
                self.failures = 0;
                self.interval_start = Instant::now();
                return;
            }
            if !self.is_due(queued) {
                return;
            }
            // What `track` appended moves into SQLite in pieces first, not all at once
            // under the lock the batch is read with.
            let _ = crate::store::settle_in_pieces(&self.store);
            let batch = match self.next_batch() {
                Ok(batch) if batch.is_empty() => {
                    // Only events of users waiting for a token are left.
                    return self.waiting_for_tokens();
                }
                Ok(batch) => batch,
                Err(e) => return self.record_failure(e.to_string(), None, false),
            };
            self.interval_start = Instant::now();
            let stored = self.store().identity_tokens();
            let stored = match stored {
                Ok(stored) => stored,
                Err(e) => return self.record_failure(e.to_string(), None, false),
            };
            // Outside the store's lock: `track` never waits for the payloads to be read.
            let tokens = batch_tokens(stored, &batch);
            let body = gzip(&assemble_batch(Utc::now(), &tokens, &batch));
            let reply = self.transport.send(body).await;
            let decision = policy::decide(
                reply.outcome,
                self.failures,
                &self.config.retry,
                fastrand::f64(),
            );
            let completed = match decision {
                Decision::Delete => {
                    let rejected = reply
                        .response
                        .as_ref()
                        .map_or(0, |r| r.rejected.len() as u64);
                    // The server took the batch: uploads work, whatever failed before.
                    self.last_error = None;
                    self.store().complete_batch(&batch, rejected, None)
                }
                Decision::Drop => {
                    let problem = reply
                        .problem
                        .clone()
                        .unwrap_or_else(|| "the server refused the batch".into());
                    self.last_error = Some(problem.clone());
                    let at = (problem.as_str(), Utc::now().timestamp_millis());
                    self.store()
                        .complete_batch(&batch, batch.len() as u64, Some(at))
                }
                Decision::Retry { .. } if self.hold_refused(&reply.refused, &batch) => {
                    self.set_last_error(reply.problem);
                    let _ = self.store().bump(Counter::Retries, 1);
                    // With no lock held: the app may set a token from inside the
                    // listener. Then on with the other users' events.
                    self.identity.refused(&reply.refused, &tokens);
                    continue;
                }
                Decision::Retry { delay } => {
                    let server_said = matches!(
                        reply.outcome,
                        Outcome::Status {
                            retry_after: Some(_),
                            ..
                        }
                    );
                    self.record_failure(
                        reply.problem.unwrap_or_default(),
                        Some(delay),
                        server_said,
                    );
                    // After the failure is recorded (a flush waiting has its answer,
                    // `stats()` the reason), and with no lock held: the app may set
                    // a token from inside the listener.
                    self.identity.refused(&reply.refused, &tokens);
                    return;
                }
            };
            if let Err(e) = completed {
                return self.record_failure(e.to_string(), None, false);
            }
            self.failures = 0;
            self.backoff_until = None;
            self.hold_until = None;
            self.answer_waiters(None);
        }
    }

    /// The oldest queued events that may go now: all of them, or, while some users wait
    /// for a token, the others', picked page by page (read outside the store's lock, so
    /// `track` never waits for the payloads to be parsed).
    fn next_batch(&self) -> Result<Vec<QueuedEvent>, StoreError> {
        let (max_events, max_bytes) = (self.config.max_batch_events, self.config.max_batch_bytes);
        let excluded = self.held.excluded(Instant::now());
        if excluded.is_empty() {
            return self.store().peek_batch(max_events, max_bytes);
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut after = 0;
        loop {
            let page = self.store().peek_after(after, max_events)?;
            let Some(last) = page.last() else {
                return Ok(batch);
            };
            after = last.seq;
            for event in page {
                if user_of(&event).is_some_and(|user| excluded.contains(&user)) {
                    continue;
                }
                if batch.len() == max_events
                    || (!batch.is_empty() && bytes + event.payload.len() > max_bytes)
                {
                    return Ok(batch);
                }
                bytes += event.payload.len();
                batch.push(event);
            }
        }
    }

    /// Holds back the users the server refused, when the batch had events of theirs:
    /// then the batch's other events can go without them. `false` for a refusal naming
    /// none of its users, which is retried whole with the usual backoff.
    fn hold_refused(&mut self, refused: &[IdentityRefusal], batch: &[QueuedEvent]) -> bool {
        let users = batch_user_ids(batch);
        if refused.is_empty() || !refused.iter().all(|r| users.contains(&r.user_id)) {
            return false;
        }
        self.held
            .hold(refused, Instant::now(), &self.config.retry, fastrand::f64());
        true
    }

    /// Everything queued is waiting for identity tokens: flushes learn why and when the
    /// next try is, and the worker sleeps until a token or that try.
    fn waiting_for_tokens(&mut self) {
        let problem = describe_refusals(&self.held.refusals());
        // Said again at every wake while they wait: it keeps the time of the refusal.
        if self.last_error.as_ref() != Some(&problem) {
            self.set_last_error(Some(problem));
        }
        let retry_in = self.held.retry_in(Instant::now());
        self.answer_waiters(Some((FlushOutcome::WillRetry, retry_in)));
    }

    /// Schedules the next attempt after a failure and tells waiting flushes. A delay
    /// the server asked for holds even against an explicit flush.
    fn record_failure(&mut self, problem: String, delay: Option<Duration>, server_said: bool) {
        let delay = delay
            .unwrap_or_else(|| policy::backoff(self.failures, &self.config.retry, fastrand::f64()));
        self.failures = self.failures.saturating_add(1);
        let until = Some(Instant::now() + delay);
        if server_said {
            self.hold_until = until;
        } else {
            self.backoff_until = until;
        }
        let _ = self.store().bump(Counter::Retries, 1);
        self.set_last_error(Some(problem));
        self.answer_waiters(Some((FlushOutcome::WillRetry, Some(delay))));
    }

    /// Keeps why an attempt failed, failing now, for flushes and `stats()`.
    fn set_last_error(&mut self, problem: Option<String>) {
        let Some(problem) = problem else { return };
        let _ = self
            .store()
            .set_upload_error(Some((&problem, Utc::now().timestamp_millis())));
        self.last_error = Some(problem);
    }

    /// Answers the flushes whose events have all left the queue, or every flush with
    /// `forced` (an outcome and the time to the next attempt) when one is given.
    fn answer_waiters(&mut self, forced: Option<(FlushOutcome, Option<Duration>)>) {
        if self.waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut self.waiters);
        let store = self.store.clone();
        let mut store = store.lock();
        let counters = store.counters().unwrap_or_default();
        let queued = store.totals().map_or(0, |t| t.events);
        for waiter in waiters {
            let (outcome, retry_in) = match forced {
                Some(forced) => forced,
                None => match waiter.mark.up_to.map(|seq| store.holds_up_to(seq)) {
                    None | Some(Ok(false)) => (FlushOutcome::Delivered, None),
                    Some(_) => {
                        self.waiters.push(waiter);
                        continue;
                    }
                },
            };
            let (uploaded, rejected) = waiter.mark.since(&counters);
            let report = FlushReport {
                outcome,
                uploaded,
                rejected,
                queued,
                retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
                error: (outcome != FlushOutcome::Delivered)
                    .then(|| self.last_error.clone())
                    .flatten(),
            };
            if let Some(reply) = waiter.reply {
                let _ = reply.send(report);
            }
        }
    }
}
