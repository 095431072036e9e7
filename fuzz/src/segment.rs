//! Segment rules: a definition's JSON up to the first NUL byte, then the bytes a small
//! user history (events, traits, permissions) is drawn from.
//!
//! Checked: a refusal names its field; an accepted definition writes back to JSON that
//! parses to itself; joined to the built-in segments it forms a set or is refused
//! with typed errors; evaluated over the history it never panics, `explain` agrees
//! with `evaluate`, and memberships kept up to date one change at a time (as devices
//! do, clocks set back included) always equal a full evaluation of the same events
//! from scratch (as the server does).

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
    let mut latest = now;
    // The device's own path: load, then one change at a time; beside it the events
    // as the server would hold them.
    let (mut device, _) = DeviceSegments::load(set, None, &[], Vec::new, Default::default(), now);
    let mut history = UserHistory::new();
    check(&device, &mut history, now);
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
                history.set_permission(channel.as_str(), state);
            }
            1 => {
                now += TimeDelta::seconds(u.int_in_range(0..=40 * 86_400)?);
                latest = latest.max(now);
                device.tick(now);
            }
            2 => {
                // A clock set back, by less than windows keep events for.
                now -= TimeDelta::seconds(u.int_in_range(0..=86_400)?);
                now = now.max(latest - TimeDelta::days(1));
                device.tick(now);
            }
            _ => {}
        }
        check(&device, &mut history, now);
        for change in device.record(event, now) {
            assert!(device.set().get(&change.segment).is_some());
        }
        history.record_wire(event);
        check(&device, &mut history, now);
    }
    Ok(())
}

/// The memberships kept incrementally are the full evaluation's, and every segment's
/// explanation agrees with its evaluation.
fn check(device: &DeviceSegments, history: &mut UserHistory, now: chrono::DateTime<chrono::Utc>) {
    let set = device.set();
    let full = set.evaluate_all(history, now);
    assert_eq!(
        device.memberships(),
        &full,
        "incremental memberships differ from a full evaluation"
    );
    history.memberships = full;
    for definition in set.definitions() {
        let verdict = evaluate(definition, history, now);
        assert_eq!(
            verdict,
            history.memberships.contains(&definition.id),
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
