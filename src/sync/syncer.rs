//! The sync state machine. It runs on the upload worker's thread, which owns the
//! runtime and the HTTP transport; the worker asks it when it is next due and lets it
//! run. One attempt at a time: requests that arrive during an attempt are merged into
//! the next one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::last_good;
use super::permissions::{self, ConsentLink};
use super::schedule::{self, AttemptResult, Skip, SyncTrigger};
use super::{OnSynced, SyncOutcome, SyncReport, SyncedDefinitions, SYNC_DOCUMENT};
use crate::net::policy::{Outcome, RetryPolicy};
use crate::net::{HttpTransport, SyncFetch, TokenRequests, TransportError};
use crate::store::{StoreGuard, StoreLock};

pub(crate) struct Syncer {
    interval: Option<Duration>,
    retry: RetryPolicy,
    on_synced: OnSynced,
    /// Where the user's permissions are merged; `None`: they are not synced.
    consent: Option<Arc<dyn ConsentLink>>,
    /// The ETag of the stored copy, sent in `If-None-Match`.
    etag: Option<String>,
    /// Whether the stored copy has been checked (on the first attempt).
    loaded: bool,
    /// Consecutive failed attempts; drives the backoff.
    failures: u32,
    /// The most insistent pending request, if any.
    requested: Option<SyncTrigger>,
    waiters: Vec<std_mpsc::Sender<SyncReport>>,
    timer_at: Option<Instant>,
    hold_until: Option<Instant>,
    last_attempt: Option<Instant>,
}

impl Syncer {
    /// A syncer that syncs as soon as the worker lets it (the SDK just started).
    pub fn new(interval: Option<Duration>, retry: RetryPolicy, on_synced: OnSynced) -> Syncer {
        Syncer {
            interval,
            retry,
            on_synced,
            consent: None,
            etag: None,
            loaded: false,
            failures: 0,
            requested: Some(SyncTrigger::Start),
            waiters: Vec::new(),
            timer_at: None,
            hold_until: None,
            last_attempt: None,
        }
    }

    /// Brings the user's permissions down with every sync, into `consent`.
    pub fn with_consent(mut self, consent: Arc<dyn ConsentLink>) -> Syncer {
        self.consent = Some(consent);
        self
    }

    /// Forgets the stored copy (local data was deleted): the next sync downloads the
    /// whole document again, and one is asked for now.
    pub fn forget_stored(&mut self) {
        self.etag = None;
        self.loaded = false;
        self.request(None);
    }

    /// Asks for a sync: answered on `reply` when given (an explicit `sync()`), a
    /// foreground sync otherwise.
    pub fn request(&mut self, reply: Option<std_mpsc::Sender<SyncReport>>) {
        let trigger = if reply.is_some() {
            SyncTrigger::Explicit
        } else {
            SyncTrigger::Foreground
        };
        self.requested = self.requested.max(Some(trigger));
        self.waiters.extend(reply);
    }

    /// When the worker should next call [`Syncer::run_if_due`].
    pub fn next_due(&self) -> Option<Instant> {
        if self.requested.is_some() {
            Some(Instant::now())
        } else {
            self.timer_at
        }
    }

    /// Syncs if a request or the timer says so, and answers the waiting callers. A
    /// refusal of the user's identity token goes to `identity`.
    pub async fn run_if_due(
        &mut self,
        transport: &HttpTransport,
        store: &StoreLock,
        identity: &mut TokenRequests,
    ) {
        let now = Instant::now();
        let trigger = match self.requested.take() {
            Some(trigger) => trigger,
            None if self.timer_at.is_some_and(|at| at <= now) => SyncTrigger::Timer,
            None => return,
        };
        let since_last = self.last_attempt.map(|at| now - at);
        let hold_left = self
            .hold_until
            .map(|until| until.saturating_duration_since(now));
        let report = match schedule::may_start(trigger, since_last, hold_left) {
            Ok(()) => self.attempt(transport, store, identity).await,
            Err(Skip::Held(left)) => {
                if trigger == SyncTrigger::Timer {
                    self.timer_at = self.hold_until;
                }
                SyncReport::with_error(
                    SyncOutcome::Failed,
                    format!(
                        "the server asked to wait {} s more before the next sync",
                        left.as_secs_f64().ceil()
                    ),
                )
            }
            // Only foreground requests are spaced, and nobody waits for those.
            Err(Skip::TooSoon) => SyncReport::new(SyncOutcome::NotModified),
        };
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(report.clone());
        }
    }

    async fn attempt(
        &mut self,
        transport: &HttpTransport,
        store: &StoreLock,
        identity: &mut TokenRequests,
    ) -> SyncReport {
        if !self.loaded {
            self.load(store);
        }
        self.last_attempt = Some(Instant::now());
        let fetched = transport.fetch_sync(self.etag.as_deref()).await;
        let reachable = !matches!(fetched, Err(TransportError::Network(_)));
        let (report, result) = match fetched {
            Ok(SyncFetch::NotModified) => self.not_modified(store),
            Ok(SyncFetch::Fetched { etag, body }) => self.fetched(etag, &body, store),
            Err(e) => failed(&e),
        };
        // Unless the server could not be reached at all: a second request would only
        // make the caller wait for a second timeout.
        if let Some(consent) = self.consent.clone().filter(|_| reachable) {
            // A failure leaves the device's permissions as they are until the next sync.
            let _ = permissions::bring_down(transport, consent.as_ref(), store, identity).await;
        }
        if let (SyncOutcome::Refused | SyncOutcome::Failed, Some(error)) =
            (report.outcome, &report.error)
        {
            let _ = lock(store).record_document_failure(SYNC_DOCUMENT, error);
        }
        let next = schedule::next_sync(
            result,
            self.failures,
            self.interval,
            &self.retry,
            fastrand::f64(),
        );
        self.failures = match result {
            AttemptResult::Failed(_) => self.failures.saturating_add(1),
            _ => 0,
        };
        let now = Instant::now();
        self.timer_at = next.timer.map(|after| now + after);
        self.hold_until = next.hold.map(|after| now + after);
        report
    }

    /// Learns the stored copy's ETag, after making sure this version can read it.
    fn load(&mut self, store: &StoreLock) {
        self.loaded = true;
        let stored = lock(store).load_document(SYNC_DOCUMENT).ok().flatten();
        let Some(stored) = stored else { return };
        // Parsed without holding the lock: a large document must not stall `track`.
        match last_good::read(&stored) {
            Ok(_) => self.etag = stored.etag,
            Err(problem) => {
                let _ = last_good::discard(&mut lock(store), &problem);
            }
        }
    }

    fn not_modified(&mut self, store: &StoreLock) -> (SyncReport, AttemptResult) {
        let confirmed = lock(store).confirm_document(
            SYNC_DOCUMENT,
            self.etag.as_deref(),
            Utc::now().timestamp_millis(),
        );
        match confirmed {
            Ok(true) => (
                SyncReport::new(SyncOutcome::NotModified),
                AttemptResult::Succeeded,
            ),
            Ok(false) => {
                // Nothing stored to confirm (the server answered 304 to a request
                // without an ETag, or the copy is gone): ask without one next time.
                self.etag = None;
                (
                    SyncReport::with_error(
                        SyncOutcome::Failed,
                        "the server answered 304 Not Modified but no definitions are stored",
                    ),
                    AttemptResult::Failed(Outcome::NetworkError),
                )
            }
            Err(e) => storage_failed(e),
        }
    }

    fn fetched(
        &mut self,
        etag: Option<String>,
        body: &[u8],
        store: &StoreLock,
    ) -> (SyncReport, AttemptResult) {
        let definitions = match SyncedDefinitions::parse(body) {
            Ok(definitions) => definitions,
            Err(e) => {
                return (
                    SyncReport::with_error(
                        SyncOutcome::Refused,
                        format!("sync document refused: {e}"),
                    ),
                    AttemptResult::Refused,
                )
            }
        };
        // Valid JSON is valid UTF-8.
        let text = String::from_utf8_lossy(body);
        let stored = lock(store).load_document(SYNC_DOCUMENT).ok().flatten();
        let now_ms = Utc::now().timestamp_millis();
        if stored.is_some_and(|stored| same_content(&stored.body, body)) {
            // A new ETag for the same content (a server restart, another replica):
            // remember it, but there is nothing new to apply.
            return match lock(store).confirm_document(SYNC_DOCUMENT, etag.as_deref(), now_ms) {
                Ok(_) => {
                    self.etag = etag;
                    (
                        SyncReport::new(SyncOutcome::NotModified),
                        AttemptResult::Succeeded,
                    )
                }
                Err(e) => storage_failed(e),
            };
        }
        if let Err(e) = lock(store).save_document(SYNC_DOCUMENT, etag.as_deref(), &text, now_ms) {
            // Not applied either: the SDK must not run on definitions that the next
            // start would not find.
            return storage_failed(e);
        }
        self.etag = etag;
        // The callback is the SDK's own code, but a panic in it must not take the
        // worker thread, and with it every later upload, down.
        let applied = catch_unwind(AssertUnwindSafe(|| (self.on_synced)(definitions)));
        let report = match applied {
            Ok(()) => SyncReport::new(SyncOutcome::Updated),
            Err(_) => SyncReport::with_error(
                SyncOutcome::Updated,
                "the new definitions were stored, but applying them failed; they apply at the next start",
            ),
        };
        (report, AttemptResult::Succeeded)
    }
}

fn lock(store: &StoreLock) -> StoreGuard<'_> {
    // Every change to SQLite is a transaction, so a panic elsewhere cannot have left it
    // half-written: a poisoned lock is safe to keep using.
    store.lock()
}

/// The same JSON, whatever the key order or spacing.
fn same_content(stored: &str, fetched: &[u8]) -> bool {
    if stored.as_bytes() == fetched {
        return true;
    }
    match (
        serde_json::from_str::<Value>(stored),
        serde_json::from_slice::<Value>(fetched),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn failed(error: &TransportError) -> (SyncReport, AttemptResult) {
    let message = error.to_string();
    match error {
        TransportError::TooLarge { .. } | TransportError::Decode(_) => (
            SyncReport::with_error(
                SyncOutcome::Refused,
                format!("sync document refused: {message}"),
            ),
            AttemptResult::Refused,
        ),
        _ => {
            let result = error
                .outcome()
                .map_or(AttemptResult::Refused, AttemptResult::Failed);
            (
                SyncReport::with_error(SyncOutcome::Failed, format!("sync failed: {message}")),
                result,
            )
        }
    }
}

fn storage_failed(error: crate::store::StoreError) -> (SyncReport, AttemptResult) {
    (
        SyncReport::with_error(SyncOutcome::Failed, format!("sync failed: {error}")),
        AttemptResult::Failed(Outcome::NetworkError),
    )
}
