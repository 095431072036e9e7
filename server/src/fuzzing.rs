//! Entry points for the fuzz targets in `fuzz/` (see FUZZING.md): the request reading
//! of routes whose handlers need a running server and a database, callable on plain
//! bytes and plain values. Each runs the very functions the route runs; nothing here
//! is an API.

use std::collections::BTreeMap;

use beckon::protocol::ExportedEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::{campaigns, segments};
use crate::identity::Enforcement;
use crate::metrics::Metrics;
use crate::routes::batch::{admit, check_anonymous_id, read_envelope};
use crate::store::{Catalog, Kind};

/// A batch body as `POST /v1/batch` reads it before verifying identities and storing.
#[derive(Debug)]
pub struct ReadBatch {
    pub sent_at: DateTime<Utc>,
    pub identity_tokens: BTreeMap<String, String>,
    /// One entry per event of the batch, in order: what would be stored, or the id
    /// (when readable) and the reason it is refused.
    pub events: Vec<Result<ExportedEvent, (Option<String>, String)>>,
}

/// Reads a batch body received at `received_at`, with identities `required` or not.
/// `Err` is the 400 answer's message.
pub fn read_batch(
    body: &[u8],
    received_at: DateTime<Utc>,
    required: bool,
    metrics: &Metrics,
) -> Result<ReadBatch, String> {
    let envelope = read_envelope(body).map_err(|err| err.message)?;
    let enforcement = if required {
        Enforcement::Required
    } else {
        Enforcement::Off
    };
    let events = envelope
        .batch
        .iter()
        .map(|raw| {
            let event = admit(raw, envelope.sent_at, received_at, metrics)?;
            check_anonymous_id(&event.event, enforcement)?;
            Ok(event)
        })
        .collect();
    Ok(ReadBatch {
        sent_at: envelope.sent_at,
        identity_tokens: envelope.identity_tokens,
        events,
    })
}

/// A change the admin API makes to a segment or campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `POST /v1/admin/{segments,campaigns}` with a body.
    Create,
    /// `PUT /v1/admin/{segments,campaigns}/{id}` with a body (the path id is the body's).
    Update,
    /// `POST /v1/admin/{segments,campaigns}/{id}/archive`.
    Archive,
}

/// Applies one admin change to `catalog` as the route does (the JSON body read, the
/// definition parsed and checked, the change checked against the catalog), returning
/// the catalog once the change is stored, or the error answer's message.
pub fn admin_change(
    catalog: &Catalog,
    kind: Kind,
    change: Change,
    body: &[u8],
    archive_id: &str,
) -> Result<Catalog, String> {
    let read = |body: &[u8]| -> Result<Value, String> {
        serde_json::from_slice(body).map_err(|err| format!("the body is not valid JSON: {err}"))
    };
    let (id, draft) = match (kind, change) {
        (Kind::Segment, Change::Archive) => (
            archive_id.to_owned(),
            segments::archive(catalog, archive_id),
        ),
        (Kind::Campaign, Change::Archive) => (
            archive_id.to_owned(),
            campaigns::archive(catalog, archive_id),
        ),
        (Kind::Segment, change) => {
            let parsed = segments::parse(&read(body)?).map_err(|err| err.message)?;
            let draft = match change {
                Change::Create => segments::create(catalog, &parsed),
                _ => segments::update(catalog, &parsed),
            };
            (parsed.id.clone(), draft)
        }
        (Kind::Campaign, change) => {
            let parsed = campaigns::parse(&read(body)?).map_err(|err| err.message)?;
            let draft = match change {
                Change::Create => campaigns::create(catalog, &parsed),
                _ => campaigns::update(catalog, &parsed),
            };
            (parsed.id().to_owned(), draft)
        }
    };
    let draft = draft.map_err(|err| err.message)?;
    Ok(catalog.with(kind, &id, &draft))
}

/// The sync document devices download for `catalog` (`GET /v1/sync`'s body).
pub fn sync_body(catalog: &Catalog) -> Vec<u8> {
    crate::sync_document::render(catalog).body
}
