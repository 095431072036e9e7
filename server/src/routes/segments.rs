//! `/v1/admin/segments`: segment definitions (`beckon::segments` JSON).

use beckon::protocol::MAX_SYNC_BYTES;
use beckon::segments::SegmentDefinition;
use serde_json::Value;

use super::definitions::DefinitionRoutes;
use crate::catalog::segments;
use crate::error::ApiError;
use crate::store::{Catalog, Draft, Kind};

pub const SEGMENTS_PATH: &str = "/v1/admin/segments";

pub struct Segments;

impl DefinitionRoutes for Segments {
    type Parsed = SegmentDefinition;
    const KIND: Kind = Kind::Segment;
    const PATH: &'static str = SEGMENTS_PATH;
    const LIST_KEY: &'static str = "segments";
    /// A definition bigger than the whole sync document could never reach a device.
    const MAX_BODY_BYTES: usize = MAX_SYNC_BYTES;

    fn parse(body: &Value) -> Result<SegmentDefinition, ApiError> {
        segments::parse(body)
    }

    fn id(parsed: &SegmentDefinition) -> &str {
        &parsed.id
    }

    fn create(catalog: &Catalog, parsed: &SegmentDefinition) -> Result<Draft, ApiError> {
        segments::create(catalog, parsed)
    }

    fn update(catalog: &Catalog, parsed: &SegmentDefinition) -> Result<Draft, ApiError> {
        segments::update(catalog, parsed)
    }

    fn archive(catalog: &Catalog, id: &str) -> Result<Draft, ApiError> {
        segments::archive(catalog, id)
    }
}
