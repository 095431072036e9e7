//! Segment rules: a definition's JSON up to the first NUL byte, then the bytes a small
//! user history (events, traits, permissions) is drawn from.
//!
//! Checked: a refusal names its field; an accepted definition writes back to JSON that
//! parses to itself; joined to the built-in segments it forms a set or is refused
//! with typed errors; evaluated over the history it never panics, `explain` agrees
//! with `evaluate`, and memberships kept up to date one change at a time (as devices
//! do) always equal a full evaluation from scratch.

use arbitrary::Unstructured;
use beckon::consent::Channel;
use beckon::consent::PermissionState;
use beckon::segments::{
    evaluate, explain, templates, DeviceSegments, SegmentDefinition, SegmentSet, UserHistory,
};
use chrono::TimeDelta;

use crate::gen;

pub fn run(data: &[u8]) {
    let (text, rest) = gen::split(data);
    let definition = match SegmentDefinition::parse(&text) {
        Ok(definition) => definition,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    round_trip(&definition);
    let mut u = Unstructured::new(rest);
    let _ = exercise(&definition, &mut u);
}

pub fn round_trip(definition: &SegmentDefinition) {
    let json = definition.to_json();
    let again = SegmentDefinition::parse(&json)
        .unwrap_or_else(|e| panic!("a valid definition writes JSON it refuses: {e}\n{json}"));
    assert_eq!(&again, definition, "{json}");
    let value = definition.to_value();
    assert_eq!(
        SegmentDefinition::from_value(&value).as_ref(),
        Ok(definition)
    );
}

fn exercise(definition: &SegmentDefinition, u: &mut Unstructured) -> arbitrary::Result<()> {
    let mut definitions: Vec<SegmentDefinition> = templates::builtin()
        .into_iter()
        .filter(|b| b.id != definition.id)
        .collect();
    definitions.push(definition.clone());
    let set = match SegmentSet::new(definitions) {
        Ok(set) => set,
        Err(errors) => {
            assert!(!errors.is_empty());
            // Alone, with its references to itself only.
            match SegmentSet::new(vec![definition.clone()]) {
                Ok(set) => set,
                Err(errors) => {
                    assert!(!errors.is_empty());
                    return Ok(());
                }
            }
        }
    };
    let events = gen::events(u)?;
    let mut now = gen::now();
    // The device's own path: load, then one change at a time.
    let (mut device, _) = DeviceSegments::load(set, &[], Default::default(), now);
    check(device.set(), device.history(), now);
    for event in &events {
        match u.int_in_range(0..=9)? {
            0 => {
                let channel = *u.choose(&Channel::ALL)?;
                let state = *u.choose(&[
                    PermissionState::Subscribed,
                    PermissionState::OptedIn,
                    PermissionState::Unsubscribed,
                ])?;
                device.set_permissions(&[(channel, state)], now);
            }
            1 => {
                now += TimeDelta::seconds(u.int_in_range(0..=40 * 86_400)?);
                device.tick(now);
            }
            2 => {
                device.forget_up_to(gen::instant(u)?, now);
            }
            _ => {}
        }
        check(device.set(), device.history(), now);
        for change in device.record(event, now) {
            assert!(device.set().get(&change.segment).is_some());
        }
        check(device.set(), device.history(), now);
    }
    Ok(())
}

/// The memberships kept incrementally are the full evaluation's, and every segment's
/// explanation agrees with its evaluation.
fn check(set: &SegmentSet, history: &UserHistory, now: chrono::DateTime<chrono::Utc>) {
    let full = set.evaluate_all(history, now);
    assert_eq!(
        history.memberships, full,
        "incremental memberships differ from a full evaluation"
    );
    for definition in set.definitions() {
        let verdict = evaluate(definition, history, now);
        assert_eq!(
            verdict,
            full.contains(&definition.id),
            "{}: evaluate and evaluate_all disagree",
            definition.id
        );
        let explanation = explain(definition, history, now);
        assert_eq!(
            explanation.matched, verdict,
            "{}: {explanation}",
            definition.id
        );
        let _ = explanation.to_string();
    }
}
