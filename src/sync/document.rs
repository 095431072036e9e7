//! The sync document read in full: every segment and campaign through the engines the
//! server uses, then the references between them. Pure: bytes in, definitions or
//! every problem out.
//!
//! A document is taken whole or not at all. Applying the valid half of a broken
//! document could show a campaign whose audience segment was the broken half, so any
//! problem refuses the document and the device keeps its last good copy.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::messages::{Campaign, CampaignError, Trigger};
use crate::protocol::{SyncDocument, SyncSettings, MAX_SYNC_BYTES, SYNC_SCHEMA_VERSION};
use crate::segments::{templates, DefinitionError, SegmentDefinition, SegmentSet};
use crate::text::{clip_quoted_spans, quote};

/// Everything a sync document defines, validated and ready for the engines.
#[derive(Debug, Clone)]
pub struct SyncedDefinitions {
    pub segments: SegmentSet,
    pub campaigns: Vec<Campaign>,
    pub settings: SyncSettings,
}

/// Why a sync document was refused: every problem found, each starting with where it
/// is (`segments[2] ("cart_abandoner"): rule.count.within: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct SyncDocumentError {
    problems: Vec<String>,
}

impl SyncDocumentError {
    fn one(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }

    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl SyncedDefinitions {
    /// What a device uses before its first successful sync: the built-in segments, no
    /// campaigns, default settings.
    pub fn builtin() -> SyncedDefinitions {
        SyncedDefinitions {
            segments: SegmentSet::new(templates::builtin())
                .expect("the built-in segments are a valid set"),
            campaigns: Vec::new(),
            settings: SyncSettings::default(),
        }
    }

    /// Reads a sync document as served by `GET /v1/sync`.
    pub fn parse(body: &[u8]) -> Result<SyncedDefinitions, SyncDocumentError> {
        if body.len() > MAX_SYNC_BYTES {
            return Err(SyncDocumentError::one(format!(
                "sync document is {} bytes, over the {MAX_SYNC_BYTES}-byte limit",
                body.len()
            )));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| SyncDocumentError::one(format!("sync document is not valid JSON: {e}")))?;
        // The version comes first: a newer document may use fields this code does not
        // know, and "unsupported version" is the error that explains them.
        check_schema(&value)?;
        let document: SyncDocument = serde_json::from_value(value).map_err(|e| {
            SyncDocumentError::one(format!(
                "sync document: {}",
                clip_quoted_spans(&e.to_string())
            ))
        })?;

        let mut problems = Vec::new();
        let segments = read_segments(&document.segments, &mut problems);
        let campaigns = read_campaigns(&document.campaigns, &document.segments, &mut problems);
        match segments {
            Some(segments) if problems.is_empty() => Ok(SyncedDefinitions {
                segments,
                campaigns,
                settings: document.settings,
            }),
            _ => Err(SyncDocumentError { problems }),
        }
    }
}

fn check_schema(value: &Value) -> Result<(), SyncDocumentError> {
    let refuse = |problem: String| Err(SyncDocumentError::one(problem));
    let Some(document) = value.as_object() else {
        return refuse("sync document must be a JSON object".into());
    };
    match document.get("schema") {
        None => refuse(format!(
            "schema: is required; this device reads version {SYNC_SCHEMA_VERSION}"
        )),
        Some(version) => match version.as_u64() {
            Some(v) if v == u64::from(SYNC_SCHEMA_VERSION) => Ok(()),
            Some(v) => refuse(format!(
                "schema: version {v} is not supported; this device reads version {SYNC_SCHEMA_VERSION}"
            )),
            None => refuse(format!(
                "schema: expected a version number such as {SYNC_SCHEMA_VERSION}, found {version}"
            )),
        },
    }
}

/// `segments[2] ("cart_abandoner")`, or `segments[2]` when the entry has no usable id.
fn label(list: &str, index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{list}[{index}] ({})", quote(id)),
        None => format!("{list}[{index}]"),
    }
}

fn raw_id(raw: &Value) -> Option<&str> {
    raw.get("id").and_then(Value::as_str)
}

/// The engine's error without its own `segment "id":` prefix, which the label replaces.
fn definition_problem(error: &DefinitionError) -> String {
    DefinitionError::new(error.path.clone(), error.problem.clone()).to_string()
}

fn read_segments(raw: &[Value], problems: &mut Vec<String>) -> Option<SegmentSet> {
    let mut definitions = Vec::with_capacity(raw.len());
    let mut all_read = true;
    for (i, value) in raw.iter().enumerate() {
        match SegmentDefinition::from_value(value) {
            Ok(definition) => definitions.push(definition),
            Err(e) => {
                all_read = false;
                let id = e.segment.as_deref().or_else(|| raw_id(value));
                problems.push(format!(
                    "{}: {}",
                    label("segments", i, id),
                    definition_problem(&e)
                ));
            }
        }
    }
    // The set's checks (references, cycles, unique ids) only mean something over the
    // whole list: with a definition missing, every reference to it would be reported
    // as unknown, burying the real problem.
    if !all_read {
        return None;
    }
    let ids: Vec<String> = definitions.iter().map(|d| d.id.clone()).collect();
    match SegmentSet::new(definitions) {
        Ok(set) => Some(set),
        Err(errors) => {
            for e in errors {
                let position = e
                    .segment
                    .as_deref()
                    .and_then(|id| ids.iter().position(|known| known == id));
                let place = match position {
                    Some(i) => label("segments", i, e.segment.as_deref()),
                    None => "segments".to_owned(),
                };
                problems.push(format!("{place}: {}", definition_problem(&e)));
            }
            None
        }
    }
}

fn read_campaigns(
    raw: &[Value],
    raw_segments: &[Value],
    problems: &mut Vec<String>,
) -> Vec<Campaign> {
    // Every id the document names, read or not: a campaign pointing at a segment that
    // was refused is not also reported as pointing at nothing.
    let segment_ids: BTreeSet<&str> = raw_segments.iter().filter_map(raw_id).collect();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    let mut campaigns = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let campaign = match Campaign::from_value(value) {
            Ok(campaign) => campaign,
            Err(e) => {
                let place = label("campaigns", i, raw_id(value));
                problems.extend(
                    campaign_problems(&e)
                        .into_iter()
                        .map(|p| format!("{place}: {p}")),
                );
                continue;
            }
        };
        let place = label("campaigns", i, Some(campaign.id()));
        if let Some(first) = first_seen.get(campaign.id()) {
            problems.push(format!(
                "{place}: id: is used by more than one campaign (positions {first} and {i})"
            ));
        } else {
            first_seen.insert(campaign.id().to_owned(), i);
        }
        for (path, id) in segment_references(&campaign) {
            if !segment_ids.contains(id) {
                problems.push(format!(
                    "{place}: {path}: {} is not a segment of this document",
                    quote(id)
                ));
            }
        }
        campaigns.push(campaign);
    }
    campaigns
}

fn campaign_problems(error: &CampaignError) -> Vec<String> {
    match error {
        CampaignError::Invalid(errors) => errors
            .iter()
            .map(|e| {
                if e.field.is_empty() {
                    e.problem.clone()
                } else {
                    e.to_string()
                }
            })
            .collect(),
        CampaignError::Syntax { .. } => vec![error.to_string()],
    }
}

/// Where a campaign names a segment, with the path an error should point at.
fn segment_references(campaign: &Campaign) -> Vec<(String, &str)> {
    let audience = campaign.audience();
    let mut references: Vec<(String, &str)> = Vec::new();
    for (list, ids) in [
        ("segments", &audience.segments),
        ("exclude", &audience.exclude),
    ] {
        for (i, id) in ids.iter().enumerate() {
            references.push((format!("audience.{list}[{i}]"), id));
        }
    }
    if let Trigger::SegmentEntered { segment_id } = campaign.trigger() {
        references.push(("trigger.segment_entered".to_owned(), segment_id));
    }
    references
}

#[cfg(test)]
mod tests;
