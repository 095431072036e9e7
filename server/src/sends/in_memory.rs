//! Definitions held in memory rather than read from the store: what the sends tests and
//! the fuzz target for send requests parse against.

use std::collections::BTreeMap;

use beckon::messages::Campaign;

use super::request::Definitions;

/// Campaigns and segments by id; a segment maps to whether it is active.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDefinitions {
    pub campaigns: BTreeMap<String, Campaign>,
    pub segments: BTreeMap<String, bool>,
}

impl Definitions for InMemoryDefinitions {
    fn campaign(&self, id: &str) -> Result<Campaign, String> {
        self.campaigns
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no campaign \"{id}\""))
    }

    fn segment(&self, id: &str) -> Result<(), String> {
        match self.segments.get(id) {
            Some(true) => Ok(()),
            Some(false) => Err(format!("segment \"{id}\" is archived")),
            None => Err(format!("no segment \"{id}\"")),
        }
    }
}
