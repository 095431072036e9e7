//! The send runner: the background work that turns stored sends into deliveries and
//! deliveries into provider requests.
//!
//! Two tasks, started with the server ([`start`]):
//! - the planner takes each new send, resolves its audience (`audience`), plans every
//!   user with `sends::plan` and stores the deliveries (`rows`), chunk by chunk;
//! - the deliverer claims the deliveries whose instant has come (at once for a send
//!   `now`, later for local times and quiet hours), checks them again (`due`), builds
//!   the provider message (`outbound`) and delivers with a bounded number in flight,
//!   storing every attempt and dropping the tokens providers disown.
//!
//! Everything waits in the store, so a restart picks up where the last run stopped:
//! sends half planned are planned again (adding only what is missing), claims are
//! released and pending deliveries go out when due. A delivery in flight when the
//! process dies is delivered again: at least once, never silently lost. One runner
//! per database: a second server on the same file would release this one's claims.
//!
//! The time comes from a [`SendClock`], which tests set.

mod audience;
mod clock;
mod definitions;
mod deliverer;
mod due;
mod outbound;
mod planner;
mod rows;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use audience::segment_set;
pub use clock::SendClock;
pub use definitions::CatalogDefinitions;
pub use due::{expired, nap, needs_recheck, withdrawn, RECHECK_AFTER};
pub use outbound::{attempt_record, outbound, push_payload, settle, SendExtras};
pub use rows::{deliveries, is_known, recipient, unknown_user, IN_APP_NEEDS_A_CAMPAIGN};

use crate::delivery::{DeliveryRetry, Providers};
use crate::store::{Store, StoreError};

/// The longest the deliverer sleeps without looking at the store.
const MAX_NAP: Duration = Duration::from_secs(30);
/// The pause after a store error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(2);
/// How often the planner looks for sends without being told of one (another process
/// may have stored it).
const IDLE_RECHECK: Duration = Duration::from_secs(60);

/// How the runner delivers.
#[derive(Debug, Clone)]
pub struct SendsConfig {
    pub clock: SendClock,
    /// Retries of one delivery (`Retry-After` honoured).
    pub retry: DeliveryRetry,
    /// Deliveries in flight at once, across every provider.
    pub concurrency: usize,
}

impl Default for SendsConfig {
    fn default() -> Self {
        Self {
            clock: SendClock::system(),
            retry: DeliveryRetry::default(),
            concurrency: 64,
        }
    }
}

/// What request handlers need of the runner: its clock, and a way to say a send was
/// stored. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct SendsHandle {
    clock: SendClock,
    plan: Arc<Notify>,
}

impl SendsHandle {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A send was stored: the planner takes it now rather than on its next round.
    pub fn send_stored(&self) {
        self.plan.notify_one();
    }
}

/// The running tasks; stopping it lets deliveries in flight finish first.
pub struct Runner {
    handle: SendsHandle,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    pub fn handle(&self) -> SendsHandle {
        self.handle.clone()
    }

    /// Stops taking work, waits up to `grace` for deliveries in flight and their
    /// outcomes to be stored, then drops what is left (released on the next start).
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("send runner still busy after the grace period; stopping it");
                task.abort();
                let _ = task.await;
            }
        }
    }
}

/// Shared by the runner's tasks.
struct Context {
    store: Store,
    providers: Providers,
    clock: SendClock,
    retry: DeliveryRetry,
    concurrency: usize,
    plan_wake: Arc<Notify>,
    deliver_wake: Arc<Notify>,
}

/// Releases the claims a previous run left and starts planning and delivering.
pub async fn start(
    store: Store,
    providers: Providers,
    config: SendsConfig,
) -> Result<Runner, StoreError> {
    let released = store.release_claims().await?;
    if released > 0 {
        tracing::warn!(
            released,
            "deliveries in flight when the server last stopped are delivered again"
        );
    }
    let plan_wake = Arc::new(Notify::new());
    let ctx = Arc::new(Context {
        store,
        providers,
        clock: config.clock.clone(),
        retry: config.retry,
        concurrency: config.concurrency.max(1),
        plan_wake: Arc::clone(&plan_wake),
        deliver_wake: Arc::new(Notify::new()),
    });
    let (stop, stopping) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(planner::run(Arc::clone(&ctx), stopping.clone())),
        tokio::spawn(deliverer::run(ctx, stopping)),
    ];
    Ok(Runner {
        handle: SendsHandle {
            clock: config.clock,
            plan: plan_wake,
        },
        stop,
        tasks,
    })
}

/// Resolves once the runner is told to stop, or its owner is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Waits after the store failed `what`: [`ERROR_PAUSE`] before trying again, or, on a
/// damaged database, until the runner stops. Nothing can be stored until an operator
/// repairs the file and restarts the server, and the store has logged what to do, so
/// trying again would only spin. Returns false when the runner must stop.
async fn pause_after(err: &StoreError, what: &str, stop: &mut watch::Receiver<bool>) -> bool {
    if err.is_damage() {
        tracing::warn!("{what}: the database is damaged; sends wait for a restart");
        stopped(stop).await;
        return false;
    }
    tracing::error!(error = %err, "{what}; trying again");
    tokio::select! {
        _ = tokio::time::sleep(ERROR_PAUSE) => true,
        _ = stopped(stop) => false,
    }
}
