//! Segment changes: parsing, set validation, archiving, and the set to evaluate.

use std::collections::BTreeMap;

use beckon::segments::{DefinitionError, SegmentDefinition, SegmentSet};
use beckon::text::quote;
use serde_json::Value;

use super::campaigns::{active_campaigns, segment_references};
use super::{active_record, ensure_new, ensure_sync_fits, existing, stale};
use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind, Status};

/// Reads a definition with the shared parser; it checks the definition on its own.
pub fn parse(body: &Value) -> Result<SegmentDefinition, ApiError> {
    SegmentDefinition::from_value(body).map_err(|err| ApiError::bad_request(err.to_string()))
}

pub fn create(catalog: &Catalog, definition: &SegmentDefinition) -> Result<Draft, ApiError> {
    ensure_new(catalog, Kind::Segment, &definition.id)?;
    store_active(catalog, definition)
}

pub fn update(catalog: &Catalog, definition: &SegmentDefinition) -> Result<Draft, ApiError> {
    active_record(catalog, Kind::Segment, &definition.id)?;
    store_active(catalog, definition)
}

/// Refused while an active segment or campaign still refers to it: devices would drop
/// the whole sync document over the dangling reference.
pub fn archive(catalog: &Catalog, id: &str) -> Result<Draft, ApiError> {
    let record = existing(catalog, Kind::Segment, id)?;
    let referrers = referrers(catalog, id)?;
    if !referrers.is_empty() {
        return Err(ApiError::conflict(format!(
            "segment {} is still used by {}; change or archive them first",
            quote(id),
            referrers.join(", ")
        )));
    }
    Ok(Draft {
        body: record.body.clone(),
        status: Status::Archived,
    })
}

/// The segment and every segment it refers to, directly or not: what evaluating it
/// takes, and no more.
pub fn evaluation_set(catalog: &Catalog, id: &str) -> Result<SegmentSet, ApiError> {
    let record = existing(catalog, Kind::Segment, id)?;
    if !record.is_active() {
        return Err(ApiError::conflict(format!(
            "segment {} is archived; archived segments are not evaluated",
            quote(id)
        )));
    }
    let mut active: BTreeMap<String, SegmentDefinition> = active_definitions(catalog)?
        .into_iter()
        .map(|definition| (definition.id.clone(), definition))
        .collect();
    let mut needed = Vec::new();
    let mut pending = vec![id.to_owned()];
    while let Some(next) = pending.pop() {
        if let Some(definition) = active.remove(&next) {
            pending.extend(definition.referenced_segments());
            needed.push(definition);
        }
    }
    SegmentSet::new(needed).map_err(|errors| stale(Kind::Segment, id, joined(&errors)))
}

/// Checks the definition together with every other active segment (references that
/// exist, no cycles), as devices will receive them.
fn store_active(catalog: &Catalog, definition: &SegmentDefinition) -> Result<Draft, ApiError> {
    let mut set: Vec<SegmentDefinition> = active_definitions(catalog)?
        .into_iter()
        .filter(|other| other.id != definition.id)
        .collect();
    set.push(definition.clone());
    if let Err(errors) = SegmentSet::new(set) {
        return Err(ApiError::bad_request(explain_set_errors(
            catalog, definition, &errors,
        )));
    }
    let draft = Draft {
        body: definition.to_value(),
        status: Status::Active,
    };
    ensure_sync_fits(catalog, Kind::Segment, &definition.id, &draft)?;
    Ok(draft)
}

/// The engine's messages, every one. The engine only knows the active set, so a
/// reference to an archived segment reads "not a defined segment"; that one gets the
/// reason added.
fn explain_set_errors(
    catalog: &Catalog,
    definition: &SegmentDefinition,
    errors: &[DefinitionError],
) -> String {
    let referenced = definition.referenced_segments();
    let messages: Vec<String> = errors
        .iter()
        .map(|err| {
            let archived = referenced.iter().any(|id| {
                err.problem == format!("{id:?} is not a defined segment")
                    && catalog
                        .get(Kind::Segment, id)
                        .is_some_and(|record| !record.is_active())
            });
            if archived {
                format!("{err} (it is archived)")
            } else {
                err.to_string()
            }
        })
        .collect();
    messages.join("; ")
}

fn active_definitions(catalog: &Catalog) -> Result<Vec<SegmentDefinition>, ApiError> {
    catalog
        .active(Kind::Segment)
        .map(|record| {
            SegmentDefinition::from_value(&record.body)
                .map_err(|err| stale(Kind::Segment, &record.id, err))
        })
        .collect()
}

/// Active segments and campaigns that name the segment, as `segment "id"` /
/// `campaign "id"`.
fn referrers(catalog: &Catalog, id: &str) -> Result<Vec<String>, ApiError> {
    let mut found = Vec::new();
    for definition in active_definitions(catalog)? {
        if definition.referenced_segments().contains(id) {
            found.push(format!("segment {:?}", definition.id));
        }
    }
    for campaign in active_campaigns(catalog)? {
        if segment_references(&campaign)
            .iter()
            .any(|(_, segment)| *segment == id)
        {
            found.push(format!("campaign {:?}", campaign.id()));
        }
    }
    Ok(found)
}

fn joined(errors: &[DefinitionError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
