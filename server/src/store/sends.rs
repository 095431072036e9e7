//! Sends, their deliveries and every delivery attempt, as stored: plain data and the
//! SQL that reads and writes it. What to deliver and when is decided by `crate::sends`
//! and `crate::dispatch`; this module only keeps the record, with the per-outcome
//! counters of a send changed in the same transaction as the deliveries they count.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use beckon::consent::Channel;
use beckon::protocol::{PromoOffer, PushProvider};
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::memberships::sortable_time;
use super::sqlite::parse_time;
use super::StoreError;

/// Where a send is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// Accepted; its audience is not planned yet.
    Scheduled,
    /// Its audience is being planned, or deliveries are still pending.
    Running,
    /// Every delivery has its outcome.
    Done,
    /// Stopped by an admin: what was pending was skipped.
    Cancelled,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Scheduled => "scheduled",
            SendStatus::Running => "running",
            SendStatus::Done => "done",
            SendStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<SendStatus> {
        [
            SendStatus::Scheduled,
            SendStatus::Running,
            SendStatus::Done,
            SendStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for SendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its instant, or being delivered.
    Pending,
    /// The provider accepted it (or, in-app, the campaign is live for the user).
    Delivered,
    /// Not sent: no channel the user permits reaches them, or the send was cancelled.
    Skipped,
    /// It could only have been delivered at or after its expiry.
    Expired,
    /// The provider refused it for good, or every retry failed.
    Failed,
    /// The provider said the token or address is gone.
    Unregistered,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Skipped,
        DeliveryStatus::Expired,
        DeliveryStatus::Failed,
        DeliveryStatus::Unregistered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unregistered => "unregistered",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A send to store, as accepted by the admin API.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSend {
    pub id: String,
    /// The request as it was accepted: planning reads it again.
    pub request: Value,
    pub created_at: DateTime<Utc>,
    /// What every push of the send carries besides its texts.
    pub campaign_id: Option<String>,
    pub collapse_id: Option<String>,
    pub promo: Option<PromoOffer>,
}

/// How many users a send planned, and its deliveries by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SendCounts {
    pub users: u64,
    pub pending: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub expired: u64,
    pub failed: u64,
    pub unregistered: u64,
}

impl SendCounts {
    pub fn deliveries(&self) -> u64 {
        DeliveryStatus::ALL.into_iter().map(|s| self.of(s)).sum()
    }

    pub fn of(&self, status: DeliveryStatus) -> u64 {
        match status {
            DeliveryStatus::Pending => self.pending,
            DeliveryStatus::Delivered => self.delivered,
            DeliveryStatus::Skipped => self.skipped,
            DeliveryStatus::Expired => self.expired,
            DeliveryStatus::Failed => self.failed,
            DeliveryStatus::Unregistered => self.unregistered,
        }
    }
}

/// A stored send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRecord {
    pub id: String,
    pub request: Value,
    pub created_at: DateTime<Utc>,
    pub status: SendStatus,
    pub campaign_id: Option<String>,
    pub collapse_id: Option<String>,
    pub promo: Option<PromoOffer>,
    /// When every delivery of its audience was stored; `None` while planning.
    pub planned_at: Option<DateTime<Utc>>,
    /// When it became done or cancelled.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why planning stopped short (the request no longer reads, its segment is gone).
    pub error: Option<String>,
    pub counts: SendCounts,
}

/// The texts one user gets, rendered when the send was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryContent {
    pub locale: String,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_link: Option<String>,
}

/// One planned delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewDelivery {
    pub user_key: String,
    /// `None` when no channel was usable.
    pub channel: Option<Channel>,
    /// The push provider of a push delivery.
    pub provider: Option<PushProvider>,
    /// Push token, email address or phone number; empty when there is none.
    pub recipient: String,
    pub status: DeliveryStatus,
    /// Why channels were passed over, or why the user gets nothing.
    pub reasons: Vec<String>,
    /// Unique per delivery; the push payload's `message_id`.
    pub message_id: Option<String>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub deliver_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The IANA zone the user's times were read in, and where it came from.
    pub time_zone: Option<String>,
    pub zone_source: Option<String>,
    pub held_by_quiet_hours: bool,
    pub content: Option<DeliveryContent>,
    /// What settled it at planning time (in-app: live in the campaign).
    pub detail: Option<String>,
}

/// A pending delivery whose instant has come, claimed for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub send_id: String,
    pub user_key: String,
    pub channel: Channel,
    pub provider: Option<PushProvider>,
    pub recipient: String,
    pub message_id: String,
    pub deliver_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub content: DeliveryContent,
    /// When it was planned (and the user's permission and devices last checked).
    pub planned_at: DateTime<Utc>,
}

/// One try at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// 1 for the first try of the delivery, counting across restarts.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `delivered`, `unregistered`, `retry` or `failed`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub detail: Option<String>,
}

/// How a claimed delivery ended, with the attempts it took.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryResult {
    pub id: i64,
    pub send_id: String,
    pub status: DeliveryStatus,
    pub detail: Option<String>,
    /// Numbered from 1 for this run; stored after those of earlier runs.
    pub attempts: Vec<AttemptRecord>,
}

/// A stored delivery with its attempts, as the admin API shows it: what was planned,
/// and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    #[serde(flatten)]
    pub planned: NewDelivery,
    pub planned_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: Vec<AttemptRecord>,
}

/// What [`add_deliveries`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Rows stored; rows already there for the same user and recipient are left alone.
    pub deliveries: u64,
    /// Users with at least one row stored by this call.
    pub users: u64,
    /// False when the send was cancelled: nothing is stored any more.
    pub open: bool,
}

const SEND_COLUMNS: &str = "id, request, created_at, status, campaign_id, collapse_id, promo,
    planned_at, finished_at, error, users, pending, delivered, skipped, expired, failed,
    unregistered";

const DELIVERY_COLUMNS: &str = "id, user_key, channel, provider, recipient, status, reasons,
    message_id, scheduled_for, deliver_at, expires_at, time_zone, zone_source,
    held_by_quiet_hours, content, detail, planned_at, finished_at";

const INSERT_DELIVERY: &str = "INSERT INTO deliveries (send_id, user_key, channel, provider,
        recipient, status, reasons, message_id, scheduled_for, deliver_at, expires_at,
        time_zone, zone_source, held_by_quiet_hours, content, detail, planned_at, finished_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
    ON CONFLICT (send_id, user_key, recipient) DO NOTHING";

pub(super) fn create_send(conn: &Connection, send: &NewSend) -> Result<(), StoreError> {
    let promo = send.promo.as_ref().map(serde_json::to_string).transpose()?;
    conn.prepare_cached(
        "INSERT INTO sends (id, request, created_at, status, campaign_id, collapse_id, promo)
        VALUES (?1, ?2, ?3, 'scheduled', ?4, ?5, ?6)",
    )?
    .execute(params![
        send.id,
        serde_json::to_string(&send.request)?,
        sortable_time(send.created_at),
        send.campaign_id,
        send.collapse_id,
        promo,
    ])?;
    Ok(())
}

pub(super) fn send(conn: &Connection, id: &str) -> Result<Option<SendRecord>, StoreError> {
    let sql = format!("SELECT {SEND_COLUMNS} FROM sends WHERE id = ?1");
    let mut select = conn.prepare_cached(&sql)?;
    let mut rows = select.query([id])?;
    rows.next()?.map(read_send).transpose()
}

/// The oldest send whose audience is not yet planned: new, or interrupted while
/// planning.
pub(super) fn next_to_plan(conn: &Connection) -> Result<Option<SendRecord>, StoreError> {
    let sql = format!(
        "SELECT {SEND_COLUMNS} FROM sends
        WHERE planned_at IS NULL AND status IN ('scheduled', 'running')
        ORDER BY created_at, id LIMIT 1"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let mut rows = select.query([])?;
    rows.next()?.map(read_send).transpose()
}

/// Scheduled → running; a send in any other state is left as it is.
pub(super) fn start_planning(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sends SET status = 'running' WHERE id = ?1 AND status = 'scheduled'",
    )?
    .execute([id])?;
    Ok(())
}

/// Stores planned deliveries and counts them, in the caller's transaction.
pub(super) fn add_deliveries(
    tx: &Transaction<'_>,
    send_id: &str,
    deliveries: &[NewDelivery],
    at: DateTime<Utc>,
) -> Result<Added, StoreError> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM sends WHERE id = ?1")?
        .query_row([send_id], |row| row.get(0))
        .optional()?;
    if status.as_deref() != Some(SendStatus::Running.as_str()) {
        return Ok(Added::default());
    }
    let planned_at = sortable_time(at);
    let mut insert = tx.prepare_cached(INSERT_DELIVERY)?;
    let mut counts: BTreeMap<DeliveryStatus, u64> = BTreeMap::new();
    let mut users: HashMap<&str, ()> = HashMap::new();
    let mut added = Added {
        open: true,
        ..Added::default()
    };
    for d in deliveries {
        let content = d.content.as_ref().map(serde_json::to_string).transpose()?;
        let finished_at = (d.status != DeliveryStatus::Pending).then(|| planned_at.clone());
        let changed = insert.execute(params![
            send_id,
            d.user_key,
            d.channel.map(Channel::as_str),
            d.provider.map(PushProvider::as_str),
            d.recipient,
            d.status.as_str(),
            serde_json::to_string(&d.reasons)?,
            d.message_id,
            d.scheduled_for.map(sortable_time),
            d.deliver_at.map(sortable_time),
            d.expires_at.map(sortable_time),
            d.time_zone,
            d.zone_source,
            d.held_by_quiet_hours,
            content,
            d.detail,
            planned_at,
            finished_at,
        ])?;
        if changed == 1 {
            added.deliveries += 1;
            *counts.entry(d.status).or_default() += 1;
            users.insert(&d.user_key, ());
        }
    }
    added.users = users.len() as u64;
    let mut update = tx.prepare_cached(
        "UPDATE sends SET users = users + ?2, pending = pending + ?3,
            delivered = delivered + ?4, skipped = skipped + ?5, expired = expired + ?6,
            failed = failed + ?7, unregistered = unregistered + ?8
        WHERE id = ?1",
    )?;
    let of = |s: DeliveryStatus| counts.get(&s).copied().unwrap_or(0) as i64;
    update.execute(params![
        send_id,
        added.users as i64,
        of(DeliveryStatus::Pending),
        of(DeliveryStatus::Delivered),
        of(DeliveryStatus::Skipped),
        of(DeliveryStatus::Expired),
        of(DeliveryStatus::Failed),
        of(DeliveryStatus::Unregistered),
    ])?;
    Ok(added)
}

/// Every delivery of the audience is stored (or planning stopped with `error`): the
/// send is done at once when nothing is pending.
pub(super) fn finish_planning(
    tx: &Transaction<'_>,
    id: &str,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE sends SET planned_at = ?2, error = coalesce(?3, error)
        WHERE id = ?1 AND planned_at IS NULL",
    )?
    .execute(params![id, sortable_time(at), error])?;
    mark_done(tx, id, at)
}

fn mark_done(conn: &Connection, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sends SET status = 'done', finished_at = ?2
        WHERE id = ?1 AND status IN ('scheduled', 'running') AND planned_at IS NOT NULL
            AND pending = 0",
    )?
    .execute(params![id, sortable_time(at)])?;
    Ok(())
}

/// Cancels a send that is not finished: its unclaimed pending deliveries are skipped.
/// Deliveries already in flight end as they end.
pub(super) fn cancel_send(
    tx: &Transaction<'_>,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<SendRecord>, StoreError> {
    let Some(current) = send(tx, id)? else {
        return Ok(None);
    };
    if matches!(current.status, SendStatus::Done | SendStatus::Cancelled) {
        return Ok(Some(current));
    }
    let when = sortable_time(at);
    let skipped = tx
        .prepare_cached(
            "UPDATE deliveries SET status = 'skipped', detail = 'the send was cancelled',
                finished_at = ?2
            WHERE send_id = ?1 AND status = 'pending' AND claimed = 0",
        )?
        .execute(params![id, when])?;
    tx.prepare_cached(
        "UPDATE sends SET status = 'cancelled', finished_at = ?2,
            pending = pending - ?3, skipped = skipped + ?3
        WHERE id = ?1",
    )?
    .execute(params![id, when, skipped as i64])?;
    send(tx, id)
}

/// Releases every claim: the runner that held them is gone.
pub(super) fn release_claims(conn: &Connection) -> Result<u64, StoreError> {
    let released = conn
        .prepare_cached("UPDATE deliveries SET claimed = 0 WHERE claimed = 1")?
        .execute([])?;
    Ok(released as u64)
}

/// Claims up to `limit` pending deliveries due at `now`, earliest first.
pub(super) fn claim_due(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut select = tx.prepare_cached(
        "SELECT id, send_id, user_key, channel, provider, recipient, message_id, deliver_at,
            expires_at, content, planned_at
        FROM deliveries
        WHERE status = 'pending' AND claimed = 0 AND deliver_at <= ?1
        ORDER BY deliver_at, id LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let due = collect(select.query(params![sortable_time(now), limit])?, read_due)?;
    let mut claim = tx.prepare_cached("UPDATE deliveries SET claimed = 1 WHERE id = ?1")?;
    for d in &due {
        claim.execute([d.id])?;
    }
    Ok(due)
}

/// The instant of the earliest unclaimed pending delivery.
pub(super) fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next: Option<String> = conn
        .prepare_cached(
            "SELECT min(deliver_at) FROM deliveries WHERE status = 'pending' AND claimed = 0",
        )?
        .query_row([], |row| row.get(0))?;
    next.map(|t| time(&t, "deliveries")).transpose()
}

/// Stores how claimed deliveries ended and their attempts, moves the counters, and
/// marks sends done once nothing of theirs is pending.
pub(super) fn record_results(
    tx: &Transaction<'_>,
    results: &[DeliveryResult],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let when = sortable_time(at);
    let mut settle = tx.prepare_cached(
        "UPDATE deliveries SET status = ?2, detail = ?3, finished_at = ?4, claimed = 0
        WHERE id = ?1 AND status = 'pending'",
    )?;
    let mut release = tx.prepare_cached("UPDATE deliveries SET claimed = 0 WHERE id = ?1")?;
    let mut numbered = tx.prepare_cached(
        "SELECT coalesce(max(number), 0) FROM delivery_attempts WHERE delivery_id = ?1",
    )?;
    let mut attempt = tx.prepare_cached(
        "INSERT INTO delivery_attempts
            (delivery_id, number, started_at, finished_at, outcome, http_status, detail)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut moved: BTreeMap<&str, BTreeMap<DeliveryStatus, i64>> = BTreeMap::new();
    for result in results {
        if !result.attempts.is_empty() {
            let before: i64 = numbered.query_row([result.id], |row| row.get(0))?;
            for a in &result.attempts {
                attempt.execute(params![
                    result.id,
                    before + i64::from(a.number),
                    sortable_time(a.started_at),
                    sortable_time(a.finished_at),
                    a.outcome,
                    a.http_status,
                    a.detail,
                ])?;
            }
        }
        if result.status == DeliveryStatus::Pending {
            release.execute([result.id])?;
            continue;
        }
        let changed = settle.execute(params![
            result.id,
            result.status.as_str(),
            result.detail,
            when
        ])?;
        if changed == 1 {
            *moved
                .entry(&result.send_id)
                .or_default()
                .entry(result.status)
                .or_default() += 1;
        }
    }
    let mut count = tx.prepare_cached(
        "UPDATE sends SET pending = pending - ?2, delivered = delivered + ?3,
            skipped = skipped + ?4, expired = expired + ?5, failed = failed + ?6,
            unregistered = unregistered + ?7
        WHERE id = ?1",
    )?;
    for (send_id, by_status) in moved {
        let of = |s: DeliveryStatus| by_status.get(&s).copied().unwrap_or(0);
        let settled: i64 = by_status.values().sum();
        count.execute(params![
            send_id,
            settled,
            of(DeliveryStatus::Delivered),
            of(DeliveryStatus::Skipped),
            of(DeliveryStatus::Expired),
            of(DeliveryStatus::Failed),
            of(DeliveryStatus::Unregistered),
        ])?;
        mark_done(tx, send_id, at)?;
    }
    Ok(())
}

/// Up to `limit` deliveries of the send after id `after`, in id order, each with its
/// attempts; only those with `status` when given.
pub(super) fn deliveries(
    conn: &Connection,
    send_id: &str,
    after: i64,
    limit: usize,
    status: Option<DeliveryStatus>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries
        WHERE send_id = ?1 AND id > ?2 AND (?3 IS NULL OR status = ?3)
        ORDER BY id LIMIT ?4"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query(params![
        send_id,
        after,
        status.map(DeliveryStatus::as_str),
        limit
    ])?;
    let mut records = collect(rows, read_delivery)?;
    if records.is_empty() {
        return Ok(records);
    }
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let placeholders = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT delivery_id, number, started_at, finished_at, outcome, http_status, detail
        FROM delivery_attempts WHERE delivery_id IN ({placeholders})
        ORDER BY delivery_id, number"
    );
    let mut select = conn.prepare(&sql)?;
    let mut rows = select.query(params_from_iter(ids.iter()))?;
    let mut by_delivery: HashMap<i64, Vec<AttemptRecord>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        by_delivery.entry(id).or_default().push(read_attempt(row)?);
    }
    for record in &mut records {
        record.attempts = by_delivery.remove(&record.id).unwrap_or_default();
    }
    Ok(records)
}

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::CorruptRow {
        table,
        detail: detail.into(),
    }
}

fn time(text: &str, table: &'static str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).map_err(|detail| corrupt(table, detail))
}

fn optional_time(
    text: Option<String>,
    table: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|t| time(&t, table)).transpose()
}

fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(index)?.max(0) as u64)
}

fn read_send(row: &Row<'_>) -> Result<SendRecord, StoreError> {
    const TABLE: &str = "sends";
    let request: String = row.get(1)?;
    let created_at: String = row.get(2)?;
    let status: String = row.get(3)?;
    let promo: Option<String> = row.get(6)?;
    Ok(SendRecord {
        id: row.get(0)?,
        request: serde_json::from_str(&request)
            .map_err(|err| corrupt(TABLE, format!("request: {err}")))?,
        created_at: time(&created_at, TABLE)?,
        status: SendStatus::parse(&status)
            .ok_or_else(|| corrupt(TABLE, format!("status {status:?}")))?,
        campaign_id: row.get(4)?,
        collapse_id: row.get(5)?,
        promo: promo
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|err| corrupt(TABLE, format!("promo: {err}")))?,
        planned_at: optional_time(row.get(7)?, TABLE)?,
        finished_at: optional_time(row.get(8)?, TABLE)?,
        error: row.get(9)?,
        counts: SendCounts {
            users: count(row, 10)?,
            pending: count(row, 11)?,
            delivered: count(row, 12)?,
            skipped: count(row, 13)?,
            expired: count(row, 14)?,
            failed: count(row, 15)?,
            unregistered: count(row, 16)?,
        },
    })
}

/// Every row, read with `read`.
fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    read: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        all.push(read(row)?);
    }
    Ok(all)
}

fn channel(text: Option<String>, table: &'static str) -> Result<Option<Channel>, StoreError> {
    text.map(|t| {
        t.parse::<Channel>()
            .map_err(|_| corrupt(table, format!("channel {t:?}")))
    })
    .transpose()
}

fn provider(text: Option<String>, table: &'static str) -> Result<Option<PushProvider>, StoreError> {
    text.map(|t| PushProvider::parse(&t).ok_or_else(|| corrupt(table, format!("provider {t:?}"))))
        .transpose()
}

fn content(
    text: Option<String>,
    table: &'static str,
) -> Result<Option<DeliveryContent>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(|err| corrupt(table, format!("content: {err}"))))
        .transpose()
}

fn read_due(row: &Row<'_>) -> Result<DueDelivery, StoreError> {
    const TABLE: &str = "deliveries";
    let channel = channel(row.get(3)?, TABLE)?
        .ok_or_else(|| corrupt(TABLE, "a pending delivery without a channel"))?;
    let deliver_at: String = row.get(7)?;
    let planned_at: String = row.get(10)?;
    Ok(DueDelivery {
        id: row.get(0)?,
        send_id: row.get(1)?,
        user_key: row.get(2)?,
        channel,
        provider: provider(row.get(4)?, TABLE)?,
        recipient: row.get(5)?,
        message_id: row
            .get::<_, Option<String>>(6)?
            .ok_or_else(|| corrupt(TABLE, "a pending delivery without a message id"))?,
        deliver_at: time(&deliver_at, TABLE)?,
        expires_at: optional_time(row.get(8)?, TABLE)?,
        content: content(row.get(9)?, TABLE)?
            .ok_or_else(|| corrupt(TABLE, "a pending delivery without content"))?,
        planned_at: time(&planned_at, TABLE)?,
    })
}

fn read_delivery(row: &Row<'_>) -> Result<DeliveryRecord, StoreError> {
    const TABLE: &str = "deliveries";
    let status: String = row.get(5)?;
    let reasons: String = row.get(6)?;
    let planned_at: String = row.get(16)?;
    Ok(DeliveryRecord {
        id: row.get(0)?,
        planned: NewDelivery {
            user_key: row.get(1)?,
            channel: channel(row.get(2)?, TABLE)?,
            provider: provider(row.get(3)?, TABLE)?,
            recipient: row.get(4)?,
            status: DeliveryStatus::parse(&status)
                .ok_or_else(|| corrupt(TABLE, format!("status {status:?}")))?,
            reasons: serde_json::from_str(&reasons)
                .map_err(|err| corrupt(TABLE, format!("reasons: {err}")))?,
            message_id: row.get(7)?,
            scheduled_for: optional_time(row.get(8)?, TABLE)?,
            deliver_at: optional_time(row.get(9)?, TABLE)?,
            expires_at: optional_time(row.get(10)?, TABLE)?,
            time_zone: row.get(11)?,
            zone_source: row.get(12)?,
            held_by_quiet_hours: row.get(13)?,
            content: content(row.get(14)?, TABLE)?,
            detail: row.get(15)?,
        },
        planned_at: time(&planned_at, TABLE)?,
        finished_at: optional_time(row.get(17)?, TABLE)?,
        attempts: Vec::new(),
    })
}

fn read_attempt(row: &Row<'_>) -> Result<AttemptRecord, StoreError> {
    const TABLE: &str = "delivery_attempts";
    let started_at: String = row.get(2)?;
    let finished_at: String = row.get(3)?;
    let number: i64 = row.get(1)?;
    Ok(AttemptRecord {
        number: u32::try_from(number).map_err(|_| corrupt(TABLE, format!("number {number}")))?,
        started_at: time(&started_at, TABLE)?,
        finished_at: time(&finished_at, TABLE)?,
        outcome: row.get(4)?,
        http_status: row.get(5)?,
        detail: row.get(6)?,
    })
}
