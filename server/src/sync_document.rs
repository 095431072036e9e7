//! The document devices download with `GET /v1/sync`, built from the catalog.

use beckon::protocol::{SyncDocument, SyncSettings, SYNC_SCHEMA_VERSION};

use crate::etag::strong_etag;
use crate::store::{Catalog, Kind};

/// The serialized document and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedSync {
    pub body: Vec<u8>,
    pub etag: String,
}

/// Active segments and campaigns, each list by id, so the same catalog always gives
/// the same bytes and therefore the same ETag.
pub fn document(catalog: &Catalog) -> SyncDocument {
    let bodies = |kind| catalog.active(kind).map(|r| r.body.clone()).collect();
    SyncDocument {
        schema: SYNC_SCHEMA_VERSION,
        segments: bodies(Kind::Segment),
        campaigns: bodies(Kind::Campaign),
        settings: SyncSettings::default(),
    }
}

pub fn render(catalog: &Catalog) -> RenderedSync {
    let body = serde_json::to_vec(&document(catalog)).expect("JSON values always serialize");
    let etag = strong_etag(&body);
    RenderedSync { body, etag }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{sample_record as record, Status};

    #[test]
    fn holds_active_definitions_only_and_default_settings() {
        let catalog = Catalog::new(vec![
            record(Kind::Segment, "b", Status::Active),
            record(Kind::Segment, "a", Status::Active),
            record(Kind::Segment, "old", Status::Archived),
            record(Kind::Campaign, "c", Status::Active),
        ]);
        let document = document(&catalog);
        assert_eq!(document.schema, 1);
        assert_eq!(document.segments, [json!({"id": "a"}), json!({"id": "b"})]);
        assert_eq!(document.campaigns, [json!({"id": "c"})]);
        assert_eq!(document.settings, SyncSettings::default());
    }

    #[test]
    fn the_etag_follows_the_content() {
        let empty = render(&Catalog::default());
        assert_eq!(
            serde_json::from_slice::<SyncDocument>(&empty.body).unwrap(),
            SyncDocument::empty()
        );
        assert_eq!(render(&Catalog::default()), empty);
        let one = render(&Catalog::new(vec![record(
            Kind::Segment,
            "a",
            Status::Active,
        )]));
        assert_ne!(one.etag, empty.etag);
        let archived = render(&Catalog::new(vec![record(
            Kind::Segment,
            "a",
            Status::Archived,
        )]));
        assert_eq!(
            archived.etag, empty.etag,
            "an archived definition is not sent"
        );
    }
}
