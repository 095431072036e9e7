//! In-app campaign definitions: the campaign's JSON up to the first NUL byte, then the
//! bytes the user (locale, traits, history, segments, impressions) and what just
//! happened are drawn from.
//!
//! Checked: a refusal lists its problems with their paths; an accepted campaign writes
//! back to JSON that parses to itself (also through serde); picking a variant and
//! rendering it never panics and gives one label per button; selection only ever picks
//! a campaign whose trigger matches and which is eligible, and says why otherwise.

use std::collections::{HashMap, HashSet};

use arbitrary::Unstructured;
use beckon::messages::{
    eligibility, render_message, select, Campaign, CampaignError, FiredTrigger, NoMessage,
    SelectionPolicy, UserState,
};
use chrono::TimeDelta;

use crate::gen;

pub fn run(data: &[u8]) {
    let (text, rest) = gen::split(data);
    let campaign = match Campaign::parse(&text) {
        Ok(campaign) => campaign,
        Err(err) => {
            if let CampaignError::Invalid(errors) = &err {
                assert!(!errors.is_empty());
            }
            let _ = err.to_string();
            return;
        }
    };
    round_trip(&campaign);
    let _ = exercise(&campaign, &mut Unstructured::new(rest));
}

pub fn round_trip(campaign: &Campaign) {
    let json = campaign.to_json();
    let again = Campaign::parse(&json)
        .unwrap_or_else(|e| panic!("a valid campaign writes JSON it refuses: {e}\n{json}"));
    assert_eq!(&again, campaign, "{json}");
    assert_eq!(
        serde_json::from_str::<Campaign>(&json).ok().as_ref(),
        Some(campaign)
    );
}

fn exercise(campaign: &Campaign, u: &mut Unstructured) -> arbitrary::Result<()> {
    let locale = gen::name(u, &["en", "pt-BR", "pt_br", "de-AT", "zh-Hant-TW", "", "x"])?;
    let (tag, variant) = campaign.variant_for(&locale);
    assert!(campaign.variants().contains_key(tag));
    let context = gen::render_context(u)?;
    let message = render_message(campaign, &locale, &context);
    assert_eq!(message.campaign_id, campaign.id());
    assert_eq!(message.locale, tag);
    assert_eq!(message.buttons.len(), variant.buttons.len());

    let events = gen::events(u)?;
    let mut user = UserState::default();
    for _ in 0..u.int_in_range(0..=3)? {
        user.segments
            .insert(gen::name(u, &["cart_abandoner", "vip", "repeat_customer"])?);
    }
    let mut shown = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        shown.push(gen::instant(u)?);
    }
    if !shown.is_empty() {
        user.impressions
            .insert(campaign.id().to_owned(), shown.clone());
    }
    user.last_shown = shown.iter().max().copied();
    let now = gen::now() + TimeDelta::seconds(u.int_in_range(-86_400..=86_400 * 400)?);
    let campaigns = [campaign.clone()];
    let policy = SelectionPolicy::default();
    let mut fired: Vec<FiredTrigger> = events.iter().filter_map(FiredTrigger::from_wire).collect();
    if let beckon::messages::Trigger::SegmentEntered { segment_id } = campaign.trigger() {
        fired.push(FiredTrigger::SegmentEntered {
            segment_id: segment_id.clone(),
        });
    }
    for trigger in &fired {
        match select(&campaigns, trigger, &user, now, &policy) {
            Ok(chosen) => {
                assert!(chosen.trigger().matches(trigger));
                assert_eq!(eligibility(chosen, &user, now), Ok(()));
            }
            Err(NoMessage::NoTriggerMatch) => assert!(!campaign.trigger().matches(trigger)),
            Err(NoMessage::Ineligible { rejected }) => {
                assert_eq!(rejected.len(), 1);
                assert_eq!(
                    Err(rejected[0].reason.clone()),
                    eligibility(campaign, &user, now)
                );
            }
            Err(NoMessage::GapNotElapsed { remaining, .. }) => {
                assert!(remaining <= policy.min_gap);
            }
        }
    }
    // Nothing known of the user: a plain state must be decided too.
    let empty = UserState {
        segments: HashSet::new(),
        impressions: HashMap::new(),
        last_shown: None,
    };
    let _ = eligibility(campaign, &empty, now);
    Ok(())
}
