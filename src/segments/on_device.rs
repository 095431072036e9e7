//! Segment membership on the device: the user's history, the active definitions and
//! the memberships, kept current one change at a time. Plain data and pure updates;
//! the SDK's engagement thread owns one and persists what it reports.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{is_device_report, MembershipChange, SegmentSet, Trigger, UserHistory, SCREEN_EVENT};
use crate::consent::{Channel, PermissionState};
use crate::protocol::{WireEvent, WireKind};

pub struct DeviceSegments {
    set: SegmentSet,
    history: UserHistory,
}

impl DeviceSegments {
    /// Starts from the stored history and the memberships stored with it; the
    /// returned changes are what happened while the app was not running (a user who
    /// became inactive, a window that closed) or what new definitions changed.
    pub fn load<'a>(
        set: SegmentSet,
        events: impl IntoIterator<Item = &'a WireEvent>,
        stored_memberships: BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> (DeviceSegments, Vec<MembershipChange>) {
        let mut history = UserHistory::new();
        for event in events {
            record(&mut history, event);
        }
        history.memberships = stored_memberships;
        let mut segments = DeviceSegments { set, history };
        let changes = segments.settle(now);
        (segments, changes)
    }

    pub fn memberships(&self) -> &BTreeSet<String> {
        &self.history.memberships
    }

    pub fn history(&self) -> &UserHistory {
        &self.history
    }

    pub fn set(&self) -> &SegmentSet {
        &self.set
    }

    /// One stored event: only the segments whose rules read it are re-evaluated.
    pub fn record(&mut self, event: &WireEvent, now: DateTime<Utc>) -> Vec<MembershipChange> {
        match record(&mut self.history, event) {
            Recorded::Event(name) => {
                self.set
                    .refresh(&mut self.history, now, Trigger::Event(&name))
            }
            Recorded::Traits => self.set.refresh(&mut self.history, now, Trigger::Traits),
            Recorded::Nothing => Vec::new(),
        }
    }

    /// The user's channel permissions as the consent layer holds them; re-evaluates the
    /// rules that read permissions when one changed.
    pub fn set_permissions(
        &mut self,
        states: &[(Channel, PermissionState)],
        now: DateTime<Utc>,
    ) -> Vec<MembershipChange> {
        let mut changed = false;
        for &(channel, state) in states {
            if self.history.permission(channel.as_str()) != Some(state) {
                self.history.set_permission(channel.as_str(), state);
                changed = true;
            }
        }
        if !changed {
            return Vec::new();
        }
        self.set
            .refresh(&mut self.history, now, Trigger::Permissions)
    }

    /// Time passed: windows closed, users went quiet.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<MembershipChange> {
        self.set.refresh(&mut self.history, now, Trigger::Clock)
    }

    /// New definitions arrived: segments that went away are left, the rest recomputed.
    pub fn replace_set(&mut self, set: SegmentSet, now: DateTime<Utc>) -> Vec<MembershipChange> {
        self.set = set;
        self.settle(now)
    }

    /// Forgets events at or before `cutoff`, as the store did.
    pub fn forget_up_to(
        &mut self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<MembershipChange> {
        if self.history.forget_up_to(cutoff) == 0 {
            return Vec::new();
        }
        self.set
            .refresh(&mut self.history, now, Trigger::Everything)
    }

    /// A new user (logout): no history, no traits, no memberships. Leaving every
    /// segment is not reported: the memberships belonged to the previous user.
    pub fn clear(&mut self) {
        self.history = UserHistory::new();
    }

    fn settle(&mut self, now: DateTime<Utc>) -> Vec<MembershipChange> {
        let gone: Vec<String> = self
            .history
            .memberships
            .iter()
            .filter(|id| self.set.get(id).is_none())
            .cloned()
            .collect();
        let mut changes: Vec<MembershipChange> = gone
            .into_iter()
            .map(|segment| {
                self.history.memberships.remove(&segment);
                MembershipChange {
                    segment,
                    entered: false,
                }
            })
            .collect();
        changes.extend(
            self.set
                .refresh(&mut self.history, now, Trigger::Everything),
        );
        changes
    }
}

enum Recorded {
    Event(String),
    Traits,
    Nothing,
}

/// Adds a wire event to the history and says what kind of change it was.
fn record(history: &mut UserHistory, event: &WireEvent) -> Recorded {
    let recorded = match (event.kind, event.name.as_deref()) {
        (WireKind::Track, Some(name)) if is_device_report(name) => Recorded::Nothing,
        (WireKind::Track, Some(name)) => Recorded::Event(name.to_owned()),
        (WireKind::Screen, _) => Recorded::Event(SCREEN_EVENT.to_owned()),
        (WireKind::Identify, _) => Recorded::Traits,
        (WireKind::Track, None) => Recorded::Nothing,
    };
    history.record_wire(event);
    recorded
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::protocol::SEGMENT_ENTERED;
    use crate::segments::templates;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn event(name: &str, at: DateTime<Utc>, properties: Value) -> WireEvent {
        let Value::Object(properties) = properties else {
            panic!("properties must be an object")
        };
        WireEvent {
            id: uuid::Uuid::now_v7().to_string(),
            kind: WireKind::Track,
            name: Some(name.into()),
            properties,
            traits: Map::new(),
            anonymous_id: "a".into(),
            user_id: None,
            timestamp: at,
            context: Map::new(),
        }
    }

    fn builtins() -> SegmentSet {
        SegmentSet::new(templates::builtin()).unwrap()
    }

    fn entered(changes: &[MembershipChange]) -> Vec<&str> {
        changes
            .iter()
            .filter(|c| c.entered)
            .map(|c| c.segment.as_str())
            .collect()
    }

    #[test]
    fn an_add_to_cart_makes_an_abandoner_and_the_order_ends_it() {
        let (mut device, changes) = DeviceSegments::load(builtins(), [], BTreeSet::new(), now());
        assert!(changes.is_empty());
        let changes = device.record(
            &event("Product Added", now(), json!({"product_id": "p"})),
            now(),
        );
        assert_eq!(entered(&changes), ["cart_abandoner"]);
        let later = now() + TimeDelta::minutes(5);
        let changes = device.record(
            &event("Order Completed", later, json!({"revenue": 20})),
            later,
        );
        assert!(changes.contains(&MembershipChange {
            segment: "cart_abandoner".into(),
            entered: false
        }));
        assert_eq!(entered(&changes), ["first_time_customer"]);
    }

    #[test]
    fn a_permission_change_moves_users_through_rules_that_read_permissions() {
        let email_off = crate::segments::SegmentDefinition::from_value(&json!({
            "id": "email_off", "name": "Unsubscribed from email", "schema": 1,
            "rule": {"permission": {"channel": "email", "is": "unsubscribed"}}
        }))
        .unwrap();
        let set = SegmentSet::new(vec![email_off]).unwrap();
        let (mut device, changes) = DeviceSegments::load(set, [], BTreeSet::new(), now());
        assert!(changes.is_empty(), "a channel never set is subscribed");
        let mut states: Vec<_> = Channel::ALL
            .into_iter()
            .map(|c| (c, PermissionState::Subscribed))
            .collect();
        assert!(device.set_permissions(&states, now()).is_empty());
        states[2] = (Channel::Email, PermissionState::Unsubscribed);
        assert_eq!(
            entered(&device.set_permissions(&states, now())),
            ["email_off"]
        );
        // The same states again change nothing.
        assert!(device.set_permissions(&states, now()).is_empty());
        states[2] = (Channel::Email, PermissionState::OptedIn);
        let left = device.set_permissions(&states, now());
        assert_eq!((left.len(), left[0].entered), (1, false));
    }

    #[test]
    fn membership_reports_are_not_activity() {
        let old = now() - TimeDelta::days(40);
        let history = [event("Product Viewed", old, json!({"product_id": "p"}))];
        let (mut device, changes) =
            DeviceSegments::load(builtins(), &history, BTreeSet::new(), now());
        assert_eq!(entered(&changes), ["inactive_30d"]);
        let report = event(
            SEGMENT_ENTERED,
            now(),
            json!({"segment_id": "inactive_30d"}),
        );
        assert!(device.record(&report, now()).is_empty());
        assert!(device.memberships().contains("inactive_30d"));
    }

    #[test]
    fn the_clock_moves_users_into_inactivity_without_new_events() {
        let start = now();
        let history = [event("Product Viewed", start, json!({"product_id": "p"}))];
        let (mut device, _) = DeviceSegments::load(builtins(), &history, BTreeSet::new(), start);
        assert!(device.tick(start + TimeDelta::days(29)).is_empty());
        assert_eq!(
            entered(&device.tick(start + TimeDelta::days(31))),
            ["inactive_30d"]
        );
        // The clock set back: evaluation follows it without failing.
        let back = device.tick(start + TimeDelta::days(2));
        assert_eq!(
            back,
            [MembershipChange {
                segment: "inactive_30d".into(),
                entered: false
            }]
        );
    }

    #[test]
    fn stored_memberships_are_reconciled_with_new_definitions() {
        let stored = BTreeSet::from(["retired_segment".to_string(), "cart_abandoner".to_string()]);
        let history = [event("Product Added", now(), json!({"product_id": "p"}))];
        let (device, changes) = DeviceSegments::load(builtins(), &history, stored, now());
        assert_eq!(
            changes,
            [MembershipChange {
                segment: "retired_segment".into(),
                entered: false
            }],
            "cart_abandoner was already known: no second entry"
        );
        assert!(device.memberships().contains("cart_abandoner"));
    }
}
