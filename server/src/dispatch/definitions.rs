//! The stored catalog as a send request is checked against it.

use beckon::messages::Campaign;
use beckon::text::quote;

use crate::sends::Definitions;
use crate::store::{Catalog, Kind};

/// Campaigns and segments as the server holds them.
pub struct CatalogDefinitions<'a>(pub &'a Catalog);

impl Definitions for CatalogDefinitions<'_> {
    fn campaign(&self, id: &str) -> Result<Campaign, String> {
        let record = self
            .0
            .get(Kind::Campaign, id)
            .ok_or_else(|| format!("no campaign {}", quote(id)))?;
        // An archived record's definition says `archived`, which the request check
        // refuses by name.
        Campaign::from_value(&record.body).map_err(|err| {
            format!(
                "the stored campaign {} no longer passes validation ({err}); update or archive it",
                quote(id)
            )
        })
    }

    fn segment(&self, id: &str) -> Result<(), String> {
        match self.0.get(Kind::Segment, id) {
            Some(record) if record.is_active() => Ok(()),
            Some(_) => Err(format!("segment {} is archived", quote(id))),
            None => Err(format!("no segment {}", quote(id))),
        }
    }
}

#[cfg(test)]
mod tests {
    use beckon::messages::CampaignStatus;
    use serde_json::json;

    use super::*;
    use crate::store::{Record, Status};

    fn record(kind: Kind, id: &str, status: Status, body: serde_json::Value) -> Record {
        Record {
            kind,
            id: id.into(),
            status,
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            body,
        }
    }

    fn campaign(id: &str, status: &str) -> serde_json::Value {
        json!({
            "schema_version": 1, "id": id, "name": "n", "status": status,
            "trigger": {"event": "Product Added"}, "default_locale": "en",
            "variants": {"en": {"title": "t", "body": "b"}}
        })
    }

    #[test]
    fn reads_campaigns_and_segments_as_stored() {
        let catalog = Catalog::new(vec![
            record(Kind::Segment, "vip", Status::Active, json!({})),
            record(Kind::Segment, "old", Status::Archived, json!({})),
            record(
                Kind::Campaign,
                "xmas",
                Status::Active,
                campaign("xmas", "active"),
            ),
            record(
                Kind::Campaign,
                "gone",
                Status::Archived,
                campaign("gone", "archived"),
            ),
            record(
                Kind::Campaign,
                "broken",
                Status::Active,
                json!({"id": "broken"}),
            ),
        ]);
        let definitions = CatalogDefinitions(&catalog);
        assert_eq!(definitions.segment("vip"), Ok(()));
        assert_eq!(
            definitions.segment("old"),
            Err("segment \"old\" is archived".into())
        );
        assert_eq!(
            definitions.segment("nope"),
            Err("no segment \"nope\"".into())
        );
        assert_eq!(definitions.campaign("xmas").unwrap().id(), "xmas");
        assert_eq!(
            definitions.campaign("gone").unwrap().status(),
            CampaignStatus::Archived
        );
        assert_eq!(
            definitions.campaign("nope").unwrap_err(),
            "no campaign \"nope\""
        );
        assert!(definitions
            .campaign("broken")
            .unwrap_err()
            .starts_with("the stored campaign \"broken\" no longer passes validation"));
    }
}
