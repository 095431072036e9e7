//! In-app campaign definitions: versioned JSON, validated in full when a campaign is
//! created (every template parsed, every URL and id checked), so nothing can fail
//! when a message is shown. See `src/messages/README.md` for the format.

mod checks;
mod content;
mod parse;
mod read;
mod trigger;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::locale::choose_locale;
use super::template::Template;
use crate::common::FieldError;
use crate::common::Money;

pub use checks::{
    check_currency, check_locale_tag, MAX_CAMPAIGN_ID_BYTES, MAX_CAMPAIGN_NAME_CHARS,
    MAX_SEGMENT_ID_BYTES,
};
pub use trigger::{FiredTrigger, PropertyFilter, Trigger};

/// The campaign format this build reads and writes.
pub const CAMPAIGN_SCHEMA_VERSION: u32 = 1;
/// Largest campaign document, in bytes.
pub const MAX_CAMPAIGN_BYTES: usize = 64 * 1024;
/// Priorities lie in `-MAX_PRIORITY..=MAX_PRIORITY`; higher wins.
pub const MAX_PRIORITY: i32 = 1000;
/// Most impressions a cap may allow (total, or per window).
pub const MAX_CAP: u32 = 1000;
/// Shortest and longest cap window, in seconds (one minute to 366 days).
pub const CAP_WINDOW_SECONDS: std::ops::RangeInclusive<u64> = 60..=366 * 24 * 3600;
/// Most locale variants in a campaign.
pub const MAX_VARIANTS: usize = 100;
/// Most buttons in a variant.
pub const MAX_BUTTONS: usize = 3;
/// Most segments in `audience.segments` or `audience.exclude`.
pub const MAX_AUDIENCE_SEGMENTS: usize = 50;
/// Most keys in a trigger's `where`.
pub const MAX_FILTER_KEYS: usize = 20;
/// Longest title, body and button label templates, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 2000;
pub const MAX_LABEL_CHARS: usize = 100;

/// A validated in-app campaign.
///
/// Build one with [`Campaign::parse`] (or deserialize one, which runs the same
/// validation); it serializes back to the same JSON shape. The fields are read-only
/// so a campaign can only exist in a valid state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    schema_version: u32,
    id: String,
    name: String,
    status: CampaignStatus,
    trigger: Trigger,
    #[serde(skip_serializing_if = "Audience::is_everyone")]
    audience: Audience,
    priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "ImpressionCap::is_unlimited")]
    cap: ImpressionCap,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "serialize_thresholds"
    )]
    free_shipping_threshold: BTreeMap<String, Money>,
    default_locale: String,
    variants: BTreeMap<String, Variant>,
}

impl Campaign {
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn status(&self) -> CampaignStatus {
        self.status
    }
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }
    pub fn audience(&self) -> &Audience {
        &self.audience
    }
    /// Higher wins.
    pub fn priority(&self) -> i32 {
        self.priority
    }
    /// Inclusive: the campaign runs from this instant.
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at
    }
    /// Exclusive: the campaign stops at this instant.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }
    pub fn cap(&self) -> &ImpressionCap {
        &self.cap
    }
    /// Free-shipping threshold per currency, keyed by ISO 4217 code.
    pub fn free_shipping_threshold(&self) -> &BTreeMap<String, Money> {
        &self.free_shipping_threshold
    }
    /// The variant shown when no other fits the user's locale; always names one of
    /// `variants` (compared as locales: `pt_BR` names the `pt-BR` variant).
    pub fn default_locale(&self) -> &str {
        &self.default_locale
    }
    /// Content per locale tag; never empty.
    pub fn variants(&self) -> &BTreeMap<String, Variant> {
        &self.variants
    }
    /// The same campaign with another status (pausing, archiving).
    pub fn with_status(mut self, status: CampaignStatus) -> Campaign {
        self.status = status;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Active,
    Paused,
    Archived,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Archived => "archived",
        }
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may see the campaign: members of any of `segments` (everyone when empty),
/// except members of any of `exclude`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audience {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Audience {
    pub fn is_everyone(&self) -> bool {
        self.segments.is_empty() && self.exclude.is_empty()
    }
}

/// How often one user may see the campaign. Both limits apply when both are set;
/// neither means no per-campaign limit (the global gap still applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImpressionCap {
    /// Most impressions ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u32>,
    /// Most impressions within any rolling window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<CapWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapWindow {
    pub max: u32,
    pub seconds: u64,
}

impl ImpressionCap {
    pub fn is_unlimited(&self) -> bool {
        self.total.is_none() && self.window.is_none()
    }
}

/// The content for one locale. Every text is a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub title: Template,
    pub body: Template,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Button {
    /// Reported as `button_id` on `In-App Message Clicked`.
    pub id: String,
    pub label: Template,
    /// Absolute: a web link or an app deep link.
    pub url: String,
}

/// Why a campaign definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    /// The text is not JSON at all.
    #[error("campaign is not valid JSON: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON does not describe a valid campaign; every problem found, each with
    /// its path (`variants.pt-BR.body`).
    #[error("{}", join_errors(.0))]
    Invalid(Vec<FieldError>),
}

impl CampaignError {
    /// The problems with their paths; empty for a syntax error.
    pub fn errors(&self) -> &[FieldError] {
        match self {
            CampaignError::Syntax { .. } => &[],
            CampaignError::Invalid(errors) => errors,
        }
    }
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Campaign {
    /// Parses and validates a campaign definition.
    pub fn parse(json: &str) -> Result<Campaign, CampaignError> {
        if json.len() > MAX_CAMPAIGN_BYTES {
            return Err(CampaignError::Invalid(vec![FieldError::new(
                "campaign",
                format!(
                    "is {} bytes, over the {MAX_CAMPAIGN_BYTES}-byte limit",
                    json.len()
                ),
            )]));
        }
        let value: Value = serde_json::from_str(json).map_err(|e| CampaignError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Campaign::from_value(&value)
    }

    /// Validates a campaign definition already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Campaign, CampaignError> {
        let mut errs = read::Errors::default();
        let campaign = parse::read_campaign(value, &mut errs);
        match campaign {
            Some(campaign) if errs.is_empty() => Ok(campaign),
            _ => {
                if errs.is_empty() {
                    errs.add("", "could not be read");
                }
                Err(CampaignError::Invalid(errs.0))
            }
        }
    }

    /// The campaign as JSON, in the format [`Campaign::parse`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a campaign always serializes")
    }

    /// The variant a user with `locale` sees (see [`choose_locale`]): its tag and content.
    pub fn variant_for(&self, locale: &str) -> (&str, &Variant) {
        let tags: Vec<String> = self.variants.keys().cloned().collect();
        let chosen = choose_locale(&tags, locale, &self.default_locale);
        self.variants
            .get_key_value(chosen.as_str())
            // Validation guarantees the default names a variant; this is belt and braces.
            .or_else(|| self.variants.iter().next())
            .map(|(tag, variant)| (tag.as_str(), variant))
            .expect("validation guarantees at least one variant")
    }
}

impl<'de> Deserialize<'de> for Campaign {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Campaign::from_value(&value).map_err(serde::de::Error::custom)
    }
}

fn serialize_thresholds<S: Serializer>(
    thresholds: &BTreeMap<String, Money>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(thresholds.iter().map(|(k, m)| (k, m.to_decimal())))
}

#[cfg(test)]
mod tests;
