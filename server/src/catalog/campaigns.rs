//! Campaign changes: parsing, segment references, archiving.

use beckon::messages::{Campaign, CampaignStatus, Trigger};
use serde_json::Value;

use super::{active_record, ensure_new, ensure_sync_fits, existing, stale, unusable_segment};
use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind, Status};

/// Reads a campaign with the shared parser, which checks every template, URL and id
/// and reports every problem at once.
///
/// `"status": "archived"` is refused: archiving goes through its own endpoint, so the
/// server's record and the definition never disagree about it.
pub fn parse(body: &Value) -> Result<Campaign, ApiError> {
    let campaign =
        Campaign::from_value(body).map_err(|err| ApiError::bad_request(err.to_string()))?;
    if campaign.status() == CampaignStatus::Archived {
        return Err(ApiError::bad_request(
            "status: \"archived\" is set with POST /v1/admin/campaigns/{id}/archive; \
             use \"active\" or \"paused\"",
        ));
    }
    Ok(campaign)
}

pub fn create(catalog: &Catalog, campaign: &Campaign) -> Result<Draft, ApiError> {
    ensure_new(catalog, Kind::Campaign, campaign.id())?;
    store_active(catalog, campaign)
}

pub fn update(catalog: &Catalog, campaign: &Campaign) -> Result<Draft, ApiError> {
    active_record(catalog, Kind::Campaign, campaign.id())?;
    store_active(catalog, campaign)
}

/// The stored definition says `archived` too, for whoever reads it later.
pub fn archive(catalog: &Catalog, id: &str) -> Result<Draft, ApiError> {
    let record = existing(catalog, Kind::Campaign, id)?;
    let campaign =
        Campaign::from_value(&record.body).map_err(|err| stale(Kind::Campaign, id, err))?;
    Ok(Draft {
        body: definition_json(&campaign.with_status(CampaignStatus::Archived)),
        status: Status::Archived,
    })
}

/// Every segment the campaign names, with the path it is named at.
pub fn segment_references(campaign: &Campaign) -> Vec<(String, &str)> {
    let audience = campaign.audience();
    let mut references = Vec::new();
    for (key, ids) in [
        ("segments", &audience.segments),
        ("exclude", &audience.exclude),
    ] {
        for (i, id) in ids.iter().enumerate() {
            references.push((format!("audience.{key}[{i}]"), id.as_str()));
        }
    }
    if let Trigger::SegmentEntered { segment_id } = campaign.trigger() {
        references.push(("trigger.segment_entered".to_owned(), segment_id.as_str()));
    }
    references
}

pub fn active_campaigns(catalog: &Catalog) -> Result<Vec<Campaign>, ApiError> {
    catalog
        .active(Kind::Campaign)
        .map(|record| {
            Campaign::from_value(&record.body).map_err(|err| stale(Kind::Campaign, &record.id, err))
        })
        .collect()
}

/// Campaigns may only name active segments: devices evaluate nothing else, so any other
/// id would leave the audience empty or the trigger dead without a word.
fn store_active(catalog: &Catalog, campaign: &Campaign) -> Result<Draft, ApiError> {
    let problems: Vec<String> = segment_references(campaign)
        .into_iter()
        .filter_map(|(path, id)| unusable_segment(catalog, id).map(|why| format!("{path}: {why}")))
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::bad_request(problems.join("; ")));
    }
    let draft = Draft {
        body: definition_json(campaign),
        status: Status::Active,
    };
    ensure_sync_fits(catalog, Kind::Campaign, campaign.id(), &draft)?;
    Ok(draft)
}

/// The canonical JSON the shared parser writes back (timestamps in UTC, defaults left
/// out), so equal campaigns are stored, and hashed into the ETag, as equal bytes.
fn definition_json(campaign: &Campaign) -> Value {
    serde_json::to_value(campaign).expect("a campaign always serializes")
}
