//! Which changes to segments and campaigns are allowed: each function reads the stored
//! catalog and the requested change and returns what to store, or why not. They run
//! inside the store's write (`Store::write_definition`), so what they check is still
//! true when the result is written.
//!
//! Definitions are validated by the shared parsers and engine (`beckon::segments`,
//! `beckon::messages`), the same code devices run on the sync document.

pub mod campaigns;
pub mod segments;

use beckon::protocol::MAX_SYNC_BYTES;
use beckon::text::quote;

use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind, Record, Status};
use crate::sync_document;

/// The record a change applies to: it must exist and be active.
fn active_record<'a>(catalog: &'a Catalog, kind: Kind, id: &str) -> Result<&'a Record, ApiError> {
    let record = existing(catalog, kind, id)?;
    if !record.is_active() {
        return Err(ApiError::conflict(format!(
            "{kind} {} is archived; archived {kind}s cannot be changed",
            quote(id)
        )));
    }
    Ok(record)
}

fn existing<'a>(catalog: &'a Catalog, kind: Kind, id: &str) -> Result<&'a Record, ApiError> {
    catalog
        .get(kind, id)
        .ok_or_else(|| ApiError::missing(format!("{kind} {} does not exist", quote(id))))
}

/// Ids are never reused, not even an archived one's: devices and exported data may
/// still name it.
fn ensure_new(catalog: &Catalog, kind: Kind, id: &str) -> Result<(), ApiError> {
    match catalog.get(kind, id) {
        None => Ok(()),
        Some(record) if record.is_active() => Err(ApiError::conflict(format!(
            "{kind} {} already exists",
            quote(id)
        ))),
        Some(_) => Err(ApiError::conflict(format!(
            "{kind} {} already exists (archived); ids are never reused",
            quote(id)
        ))),
    }
}

/// Devices refuse a sync document over [`MAX_SYNC_BYTES`] and keep their last good
/// copy, so a change that would grow it past the limit is refused here instead.
fn ensure_sync_fits(
    catalog: &Catalog,
    kind: Kind,
    id: &str,
    draft: &Draft,
) -> Result<(), ApiError> {
    if draft.status != Status::Active {
        return Ok(());
    }
    let after = catalog.with(kind, id, draft);
    let size = sync_document::render(&after).body.len();
    if size > MAX_SYNC_BYTES {
        return Err(ApiError::conflict(format!(
            "the sync document would be {size} bytes, over the {MAX_SYNC_BYTES} bytes devices \
             accept; archive unused segments or campaigns first"
        )));
    }
    Ok(())
}

/// Why a segment id cannot be referred to, in the engine's words when it is unknown.
fn unusable_segment(catalog: &Catalog, id: &str) -> Option<String> {
    match catalog.get(Kind::Segment, id) {
        Some(record) if record.is_active() => None,
        Some(_) => Some(format!(
            "{} is not a defined segment (it is archived)",
            quote(id)
        )),
        None => Some(format!("{} is not a defined segment", quote(id))),
    }
}

/// A stored definition that no longer parses (the shared rules became stricter) blocks
/// changes that must read it, with a message saying which one to fix.
fn stale(kind: Kind, id: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::conflict(format!(
        "the stored {kind} {} no longer passes validation ({problem}); update or archive it",
        quote(id)
    ))
}

/// Creates the built-in segments on a database that has never held a segment, so
/// devices keep evaluating them after their first sync. An admin may archive them.
pub async fn seed_builtin_segments(
    store: &crate::store::Store,
) -> Result<(), crate::store::StoreError> {
    if store.catalog().await?.all(Kind::Segment).next().is_some() {
        return Ok(());
    }
    for definition in beckon::segments::templates::builtin() {
        let id = definition.id.clone();
        let written = store
            .write_definition(Kind::Segment, id.clone(), move |catalog| {
                segments::create(catalog, &definition)
            })
            .await?;
        // Only a bug in the built-ins could get here; say which one.
        written.map_err(|refusal| {
            crate::store::StoreError::Task(format!(
                "the built-in segment {id:?} was refused: {refusal:?}"
            ))
        })?;
    }
    Ok(())
}
