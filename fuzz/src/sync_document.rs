//! The sync document devices download (`GET /v1/sync`): the body up to the first NUL
//! byte, then the bytes a user history is drawn from.
//!
//! Checked: a refusal lists its problems; an accepted document's campaigns only name
//! segments it defines; written back (as the server writes it) it is accepted again
//! with the same definitions; and the device runs it: segment memberships over the
//! history and an in-app selection for every event, without panicking.

use std::collections::BTreeSet;

use arbitrary::Unstructured;
use beckon::messages::{select, FiredTrigger, SelectionPolicy, Trigger, UserState};
use beckon::protocol::{SyncDocument, SYNC_SCHEMA_VERSION};
use beckon::segments::DeviceSegments;
use beckon::sync::SyncedDefinitions;

use crate::gen;

pub fn run(data: &[u8]) {
    let (text, rest) = gen::split(data);
    let definitions = match SyncedDefinitions::parse(text.as_bytes()) {
        Ok(definitions) => definitions,
        Err(err) => {
            assert!(!err.problems().is_empty());
            let _ = err.to_string();
            return;
        }
    };
    let ids: BTreeSet<&str> = definitions
        .segments
        .definitions()
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    for campaign in &definitions.campaigns {
        let audience = campaign.audience();
        for id in audience.segments.iter().chain(&audience.exclude) {
            assert!(ids.contains(id.as_str()), "{} names {id}", campaign.id());
        }
        if let Trigger::SegmentEntered { segment_id } = campaign.trigger() {
            assert!(ids.contains(segment_id.as_str()));
        }
    }

    let document = SyncDocument {
        schema: SYNC_SCHEMA_VERSION,
        segments: definitions
            .segments
            .definitions()
            .iter()
            .map(|d| d.to_value())
            .collect(),
        campaigns: definitions
            .campaigns
            .iter()
            .map(|c| serde_json::to_value(c).expect("a campaign serializes"))
            .collect(),
        settings: definitions.settings,
    };
    let body = serde_json::to_vec(&document).expect("a document serializes");
    let again = SyncedDefinitions::parse(&body)
        .unwrap_or_else(|e| panic!("an accepted document, written back, is refused: {e}"));
    assert_eq!(again.campaigns, definitions.campaigns);
    assert_eq!(again.settings, definitions.settings);
    assert_eq!(
        again.segments.definitions(),
        definitions.segments.definitions()
    );

    let _ = run_on_device(definitions, &mut Unstructured::new(rest));
}

fn run_on_device(definitions: SyncedDefinitions, u: &mut Unstructured) -> arbitrary::Result<()> {
    let events = gen::events(u)?;
    let now = gen::now();
    let (mut device, _) = DeviceSegments::load(
        definitions.segments,
        None,
        &[],
        Vec::new,
        Default::default(),
        now,
    );
    let policy = SelectionPolicy {
        min_gap: std::time::Duration::from_secs(u64::from(
            definitions.settings.in_app_min_gap_seconds,
        )),
    };
    let mut user = UserState::default();
    for event in &events {
        let changes = device.record(event, now);
        user.segments = device.memberships().iter().cloned().collect();
        let mut fired: Vec<FiredTrigger> = FiredTrigger::from_wire(event).into_iter().collect();
        fired.extend(
            changes
                .iter()
                .filter(|c| c.entered)
                .map(|c| FiredTrigger::SegmentEntered {
                    segment_id: c.segment.clone(),
                }),
        );
        for trigger in &fired {
            if let Ok(campaign) = select(&definitions.campaigns, trigger, &user, now, &policy) {
                user.last_shown = Some(now);
                user.impressions
                    .entry(campaign.id().to_owned())
                    .or_default()
                    .push(now);
            }
        }
    }
    Ok(())
}
