//! `/v1/admin/campaigns`: in-app campaigns (`beckon::messages` JSON).

use beckon::messages::campaign::MAX_CAMPAIGN_BYTES;
use beckon::messages::Campaign;
use serde_json::Value;

use super::definitions::DefinitionRoutes;
use crate::catalog::campaigns;
use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind};

pub const CAMPAIGNS_PATH: &str = "/v1/admin/campaigns";

pub struct Campaigns;

impl DefinitionRoutes for Campaigns {
    type Parsed = Campaign;
    const KIND: Kind = Kind::Campaign;
    const PATH: &'static str = CAMPAIGNS_PATH;
    const LIST_KEY: &'static str = "campaigns";
    /// The shared format's own limit on a campaign document.
    const MAX_BODY_BYTES: usize = MAX_CAMPAIGN_BYTES;

    fn parse(body: &Value) -> Result<Campaign, ApiError> {
        campaigns::parse(body)
    }

    fn id(parsed: &Campaign) -> &str {
        parsed.id()
    }

    fn create(catalog: &Catalog, parsed: &Campaign) -> Result<Draft, ApiError> {
        campaigns::create(catalog, parsed)
    }

    fn update(catalog: &Catalog, parsed: &Campaign) -> Result<Draft, ApiError> {
        campaigns::update(catalog, parsed)
    }

    fn archive(catalog: &Catalog, id: &str) -> Result<Draft, ApiError> {
        campaigns::archive(catalog, id)
    }
}
