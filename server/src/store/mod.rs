//! Storage behind a backend-neutral boundary.
//!
//! Handlers only see [`Store`]; a backend implements [`EventStore`],
//! [`DefinitionStore`], [`AudienceStore`] and [`SendStore`]. SQLite is the one backend today; a PostgreSQL one (for several
//! server instances on one database) slots in as another backend without touching the
//! handlers.

mod audience;
#[cfg(test)]
mod audience_tests;
#[cfg(test)]
mod backend_tests;
mod by_user;
mod checkpoint;
mod definitions;
mod devices;
mod health;
#[cfg(test)]
mod health_tests;
mod identities;
mod identity_keys;
mod integrity;
mod memberships;
mod migrations;
mod permissions;
mod profiles;
mod sends;
#[cfg(test)]
mod sends_tests;
mod sqlite;
mod user_updates;
mod writer;

use std::sync::Arc;

use beckon::consent::Permission;
use beckon::protocol::{ExportedEvent, WireEvent};
use chrono::{DateTime, Utc};

pub use audience::{Audience, AUDIENCE_CHUNK};
#[cfg(test)]
pub(crate) use definitions::sample_record;
pub use definitions::{Catalog, Draft, Kind, Record, Status};
pub use devices::{removal, Device, PushTarget, TokenRecord};
pub use identity_keys::KeyKind;
pub use integrity::{repair_steps, Integrity};
pub use memberships::{user_key, MembershipReport};
pub use permissions::{ChangeOrigin, PermissionChange};
pub use profiles::Profile;
pub use sends::{
    Added, AttemptRecord, DeliveryContent, DeliveryRecord, DeliveryResult, DeliveryStatus,
    DueDelivery, NewDelivery, NewSend, SendCounts, SendRecord, SendStatus,
};
pub use sqlite::SqliteStore;

use health::Health;

/// A storage backend. Its methods block: [`Store`] runs them on Tokio's blocking pool, so
/// a backend may use synchronous drivers freely.
pub trait EventStore: Send + Sync + 'static {
    /// Stores the events atomically: all or none.
    ///
    /// An event whose `id` is already stored (by this call or an earlier one, however long
    /// ago) is counted as a duplicate and the stored copy is left untouched.
    ///
    /// Device membership reports ([`MembershipReport`]) among the newly stored events
    /// are applied in the same transaction; a duplicate's report is not applied again.
    ///
    /// Events `rules` refuse are neither stored nor applied, and are listed in
    /// [`InsertOutcome::refused`].
    fn insert_with(
        &self,
        events: Vec<ExportedEvent>,
        rules: InsertRules,
    ) -> Result<InsertOutcome, StoreError>;

    /// [`EventStore::insert_with`] with the default rules.
    fn insert(&self, events: Vec<ExportedEvent>) -> Result<InsertOutcome, StoreError> {
        self.insert_with(events, InsertRules::default())
    }

    /// Whether `key` was first named as a user id or as an anonymous id; `None` when
    /// no event named it.
    fn key_kind(&self, key: &str) -> Result<Option<KeyKind>, StoreError>;

    /// Up to `limit` events stored after sequence number `after`, in store order.
    ///
    /// Stops early once the events read add up to about `max_bytes`, but always returns at
    /// least one event when there is one. Sequence numbers only grow and are never reused;
    /// a backend must also never let an event appear below a sequence number it has
    /// already returned (with PostgreSQL, in-flight transactions can commit lower ids late).
    fn page(&self, after: u64, limit: usize, max_bytes: usize) -> Result<Page, StoreError>;

    /// Calls `visit` once per user (by [`user_key`], in byte order) with every event of
    /// that user in store order. `context` is left empty: segment rules do not read it.
    fn for_each_user(&self, visit: &mut dyn FnMut(&str, &[WireEvent])) -> Result<(), StoreError>;

    /// Users whose latest membership report for the segment is an entry, by user key.
    fn device_members(&self, segment_id: &str) -> Result<Vec<String>, StoreError>;
}

/// Segment and campaign definitions.
pub trait DefinitionStore: Send + Sync + 'static {
    fn catalog(&self) -> Result<Catalog, StoreError>;

    /// Reads the catalog, asks `decide` what `(kind, id)` should become, and stores it,
    /// with no other definition write in between: checks against other definitions
    /// (references, archived ids) cannot be raced. `decide` returns `None` to refuse;
    /// nothing is written and `None` is returned. A draft equal to the stored record
    /// changes nothing and returns it as it is.
    fn write_definition(
        &self,
        kind: Kind,
        id: &str,
        decide: &mut dyn FnMut(&Catalog) -> Option<Draft>,
    ) -> Result<Option<Record>, StoreError>;
}

/// Who the users are and how they may be reached: profiles, channel permissions,
/// devices and push tokens. Devices feed it through their events
/// ([`EventStore::insert`] applies them); the server changes it through these methods.
pub trait AudienceStore: Send + Sync + 'static {
    /// `None` when no event ever named the user.
    fn profile(&self, user_key: &str) -> Result<Option<Profile>, StoreError>;

    /// The latest change per channel, in the order of `Channel::ALL`; a channel
    /// absent was never set.
    fn permissions(&self, user_key: &str) -> Result<Vec<Permission>, StoreError>;

    /// Records a server-side change in the user's history, and makes it current when
    /// it supersedes the current state (`Permission::supersedes`); returns whether it did.
    fn set_permission(&self, user_key: &str, change: &Permission) -> Result<bool, StoreError>;

    /// Every change heard for the user, applied or not, oldest first.
    fn permission_history(&self, user_key: &str) -> Result<Vec<PermissionChange>, StoreError>;

    /// Live tokens of the user's devices, with each device's OS push permission.
    fn push_targets(&self, user_key: &str) -> Result<Vec<PushTarget>, StoreError>;

    /// Profile, permissions and live tokens of each user, in the order given; a few
    /// queries per [`AUDIENCE_CHUNK`] users, not per user.
    fn audiences(&self, user_keys: &[String]) -> Result<Vec<Audience>, StoreError>;

    /// The provider said the token is no longer valid: it is marked removed with
    /// `reason` and no longer targeted. Returns whether a live token was removed.
    fn drop_push_token(&self, token: &str, reason: &str) -> Result<bool, StoreError>;

    /// The devices whose latest event is the user's, with every token they held.
    fn devices(&self, user_key: &str) -> Result<Vec<Device>, StoreError>;

    /// The segments the user's devices last reported the user inside.
    fn device_segments(&self, user_key: &str) -> Result<Vec<String>, StoreError>;
}

/// Sends, their deliveries and every delivery attempt. Planning and delivering are the
/// send runner's (`crate::dispatch`); the admin API creates, reads and cancels.
pub trait SendStore: Send + Sync + 'static {
    /// Stores a new send as `scheduled`.
    fn create_send(&self, send: &NewSend) -> Result<(), StoreError>;

    fn send(&self, id: &str) -> Result<Option<SendRecord>, StoreError>;

    /// The oldest send whose audience is not planned yet: new, or interrupted while
    /// planning (planning it again adds only the deliveries it lacks).
    fn next_to_plan(&self) -> Result<Option<SendRecord>, StoreError>;

    /// `scheduled` → `running`; other states are left as they are.
    fn start_planning(&self, id: &str) -> Result<(), StoreError>;

    /// Stores planned deliveries of a running send, atomically, with its counters. A
    /// delivery already stored for the same user and recipient is left as it is; a
    /// send no longer running stores nothing (`Added::open` is false).
    fn add_deliveries(
        &self,
        send_id: &str,
        deliveries: &[NewDelivery],
        at: DateTime<Utc>,
    ) -> Result<Added, StoreError>;

    /// Every delivery of the audience is stored, or planning stopped with `error`. The
    /// send is done at once when nothing is pending.
    fn finish_planning(
        &self,
        id: &str,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Cancels an unfinished send: its pending deliveries not yet in flight are
    /// skipped. A finished send is returned as it is; `None` for an unknown id.
    fn cancel_send(&self, id: &str, at: DateTime<Utc>) -> Result<Option<SendRecord>, StoreError>;

    /// Releases every delivery claim: whoever claimed them is gone. Returns how many.
    fn release_claims(&self) -> Result<u64, StoreError>;

    /// Claims up to `limit` unclaimed pending deliveries due at `now`, earliest first;
    /// a claimed delivery is not handed out again until its result is recorded.
    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDelivery>, StoreError>;

    /// When the earliest unclaimed pending delivery is due.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Stores how claimed deliveries ended, with their attempts, atomically; a send
    /// with nothing left pending becomes done. A result still `pending` only releases
    /// the claim (its attempts are kept).
    fn record_results(
        &self,
        results: &[DeliveryResult],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A page of the send's deliveries with their attempts: up to `limit` after id
    /// `after`, in id order, only those with `status` when given.
    fn deliveries(
        &self,
        send_id: &str,
        after: i64,
        limit: usize,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
}

/// What the operator is told when a backend finds its database damaged.
pub trait Repair: Send + Sync + 'static {
    /// How to check and repair this backend's database, in a sentence or two for the
    /// log.
    fn repair_steps(&self) -> String;
}

/// Everything the handlers need from storage.
pub trait Backend: EventStore + DefinitionStore + AudienceStore + SendStore + Repair {}

impl<T: EventStore + DefinitionStore + AudienceStore + SendStore + Repair> Backend for T {}

/// Receives the event log one user at a time ([`Store::for_each_user`]).
pub trait UserVisitor: Send + 'static {
    fn visit(&mut self, user_key: &str, events: &[WireEvent]);
}

/// What [`EventStore::insert_with`] checks beyond what every event must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertRules {
    /// Refuse an event naming a user id as an anonymous id or the other way round
    /// (identities are verified for the request's app key).
    pub separate_identities: bool,
}

/// What [`EventStore::insert_with`] did with the events it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    pub accepted: u32,
    pub duplicates: u32,
    pub refused: Vec<Refused>,
}

/// An event the insert rules refused: its position among the events given, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub index: usize,
    pub reason: String,
}

/// One page of the event log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub events: Vec<ExportedEvent>,
    /// Sequence number of the last event in `events`; `None` when the page is empty.
    pub last_seq: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Any other SQLite failure (its damage codes become [`StoreError::Damaged`]).
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The database itself is damaged: the backend's own checks refuse what it read
    /// (SQLite: `SQLITE_CORRUPT`, `SQLITE_NOTADB`). [`Store`] refuses every write from
    /// then on.
    #[error("the database is damaged: {detail}")]
    Damaged { detail: String },
    #[error(
        "the database has schema version {found}, newer than the {supported} this server \
         knows; run a newer beckon-server"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("event id {0:?} is not a UUID")]
    NotUuid(String),
    #[error("stored event {seq} is unreadable: {detail}")]
    Corrupt { seq: i64, detail: String },
    #[error("stored definition {id:?} is unreadable: {detail}")]
    CorruptDefinition { id: String, detail: String },
    #[error("a stored row of {table} is unreadable: {detail}")]
    CorruptRow { table: &'static str, detail: String },
    #[error("could not encode an event for storage: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("storage task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The database is damaged ([`StoreError::Damaged`]).
    pub fn is_damage(&self) -> bool {
        matches!(self, Self::Damaged { .. })
    }

    /// A stored row cannot be read back (bad JSON, time or id), though the database
    /// answered: a value went bad inside a sound page, or was written by hand.
    pub fn is_unreadable_row(&self) -> bool {
        matches!(
            self,
            Self::Corrupt { .. } | Self::CorruptDefinition { .. } | Self::CorruptRow { .. }
        )
    }
}

/// The storage handle shared by all handlers; cheap to clone.
///
/// Once a call finds the database damaged ([`StoreError::Damaged`]), every write is
/// refused without reaching the backend and [`Store::is_damaged`] says so; reads still
/// go through (see `health`).
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    health: Arc<Health>,
}

impl Store {
    pub fn new(backend: impl Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            health: Arc::default(),
        }
    }

    /// Whether a call found the database damaged: writes are refused from then on,
    /// until the server is restarted on a repaired file.
    pub fn is_damaged(&self) -> bool {
        self.health.is_damaged()
    }

    /// Runs `work` on the blocking pool, noting any damage it finds.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Backend) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let backend = Arc::clone(&self.backend);
        let result = blocking(move || work(backend.as_ref())).await;
        self.health.observe(result, || self.backend.repair_steps())
    }

    /// [`Store::read`] for work that writes: refused at once on a damaged database.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Backend) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.health.admit_write()?;
        self.read(work).await
    }

    pub async fn insert(&self, events: Vec<ExportedEvent>) -> Result<InsertOutcome, StoreError> {
        self.insert_with(events, InsertRules::default()).await
    }

    pub async fn insert_with(
        &self,
        events: Vec<ExportedEvent>,
        rules: InsertRules,
    ) -> Result<InsertOutcome, StoreError> {
        self.write(move |backend| backend.insert_with(events, rules))
            .await
    }

    pub async fn key_kind(&self, key: String) -> Result<Option<KeyKind>, StoreError> {
        self.read(move |backend| backend.key_kind(&key)).await
    }

    pub async fn page(
        &self,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        self.read(move |backend| backend.page(after, limit, max_bytes))
            .await
    }

    /// Runs `visitor` over every user's events (see [`EventStore::for_each_user`]) and
    /// hands it back with what it gathered.
    pub async fn for_each_user<V: UserVisitor>(&self, mut visitor: V) -> Result<V, StoreError> {
        self.read(move |backend| {
            backend.for_each_user(&mut |user, events| visitor.visit(user, events))?;
            Ok(visitor)
        })
        .await
    }

    pub async fn device_members(&self, segment_id: String) -> Result<Vec<String>, StoreError> {
        self.read(move |backend| backend.device_members(&segment_id))
            .await
    }

    pub async fn catalog(&self) -> Result<Catalog, StoreError> {
        self.read(|backend| backend.catalog()).await
    }

    /// Stores what `decide` makes of the current catalog (see
    /// [`DefinitionStore::write_definition`]); its refusal comes back as the inner `Err`.
    pub async fn write_definition<E: Send + 'static>(
        &self,
        kind: Kind,
        id: String,
        mut decide: impl FnMut(&Catalog) -> Result<Draft, E> + Send + 'static,
    ) -> Result<Result<Record, E>, StoreError> {
        self.write(move |backend| {
            let mut refusal = None;
            let written = backend.write_definition(kind, &id, &mut |catalog| {
                decide(catalog).map_err(|err| refusal = Some(err)).ok()
            })?;
            match (refusal, written) {
                (Some(err), _) => Ok(Err(err)),
                (None, Some(record)) => Ok(Ok(record)),
                (None, None) => Err(StoreError::Task(format!(
                    "the {kind} {id:?} was neither stored nor refused"
                ))),
            }
        })
        .await
    }
}

/// [`AudienceStore`] from async code.
impl Store {
    pub async fn profile(&self, user_key: String) -> Result<Option<Profile>, StoreError> {
        self.read(move |backend| backend.profile(&user_key)).await
    }

    pub async fn permissions(&self, user_key: String) -> Result<Vec<Permission>, StoreError> {
        self.read(move |backend| backend.permissions(&user_key))
            .await
    }

    pub async fn set_permission(
        &self,
        user_key: String,
        change: Permission,
    ) -> Result<bool, StoreError> {
        self.write(move |backend| backend.set_permission(&user_key, &change))
            .await
    }

    pub async fn permission_history(
        &self,
        user_key: String,
    ) -> Result<Vec<PermissionChange>, StoreError> {
        self.read(move |backend| backend.permission_history(&user_key))
            .await
    }

    pub async fn push_targets(&self, user_key: String) -> Result<Vec<PushTarget>, StoreError> {
        self.read(move |backend| backend.push_targets(&user_key))
            .await
    }

    /// See [`AudienceStore::audiences`]; callers with many users may call it once per
    /// [`AUDIENCE_CHUNK`] to start sending before every user is read.
    pub async fn audiences(&self, user_keys: Vec<String>) -> Result<Vec<Audience>, StoreError> {
        self.read(move |backend| backend.audiences(&user_keys))
            .await
    }

    pub async fn drop_push_token(&self, token: String, reason: String) -> Result<bool, StoreError> {
        self.write(move |backend| backend.drop_push_token(&token, &reason))
            .await
    }

    pub async fn devices(&self, user_key: String) -> Result<Vec<Device>, StoreError> {
        self.read(move |backend| backend.devices(&user_key)).await
    }

    pub async fn device_segments(&self, user_key: String) -> Result<Vec<String>, StoreError> {
        self.read(move |backend| backend.device_segments(&user_key))
            .await
    }
}

/// [`SendStore`] from async code.
impl Store {
    pub async fn create_send(&self, send: NewSend) -> Result<(), StoreError> {
        self.write(move |backend| backend.create_send(&send)).await
    }

    pub async fn send(&self, id: String) -> Result<Option<SendRecord>, StoreError> {
        self.read(move |backend| backend.send(&id)).await
    }

    pub async fn next_to_plan(&self) -> Result<Option<SendRecord>, StoreError> {
        self.read(|backend| backend.next_to_plan()).await
    }

    pub async fn start_planning(&self, id: String) -> Result<(), StoreError> {
        self.write(move |backend| backend.start_planning(&id)).await
    }

    pub async fn add_deliveries(
        &self,
        send_id: String,
        deliveries: Vec<NewDelivery>,
        at: DateTime<Utc>,
    ) -> Result<Added, StoreError> {
        self.write(move |backend| backend.add_deliveries(&send_id, &deliveries, at))
            .await
    }

    pub async fn finish_planning(
        &self,
        id: String,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |backend| backend.finish_planning(&id, error.as_deref(), at))
            .await
    }

    pub async fn cancel_send(
        &self,
        id: String,
        at: DateTime<Utc>,
    ) -> Result<Option<SendRecord>, StoreError> {
        self.write(move |backend| backend.cancel_send(&id, at))
            .await
    }

    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        self.write(|backend| backend.release_claims()).await
    }

    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.write(move |backend| backend.claim_due(now, limit))
            .await
    }

    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(|backend| backend.next_due()).await
    }

    pub async fn record_results(
        &self,
        results: Vec<DeliveryResult>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |backend| backend.record_results(&results, at))
            .await
    }

    pub async fn deliveries(
        &self,
        send_id: String,
        after: i64,
        limit: usize,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.read(move |backend| backend.deliveries(&send_id, after, limit, status))
            .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| StoreError::Task(err.to_string()))?
}
