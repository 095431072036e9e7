//! Segment membership on the device: the user's summary (the aggregates the active
//! definitions read), the definitions and the memberships, kept current one change at
//! a time, at a cost per event that does not grow with the history. Plain data and pure updates;
//! the SDK's engagement thread owns one and persists what it reports.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{
    MembershipChange, Recorded, SegmentSet, SummarySnapshot, Trigger, UserHistory, UserSummary,
};
use crate::consent::{Channel, PermissionState};
use crate::protocol::WireEvent;

pub struct DeviceSegments {
    set: SegmentSet,
    summary: UserSummary,
}

impl DeviceSegments {
    /// Starts from the persisted summary, brought up to date with the `tail` of
    /// events stored after it was taken, and the memberships stored with it. Without a
    /// summary, or when the definitions read streams it lacks, `history` is called
    /// for every stored event (once) to build what is missing. The returned changes
    /// are what happened while the app was not running (a user who became inactive, a
    /// window that closed) or what new definitions changed.
    pub fn load(
        set: SegmentSet,
        snapshot: Option<SummarySnapshot>,
        tail: &[WireEvent],
        history: impl FnOnce() -> Vec<WireEvent>,
        stored_memberships: BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> (DeviceSegments, Vec<MembershipChange>) {
        let catalog = set.catalog();
        let mut summary = match snapshot {
            None => UserSummary::fold(catalog, &UserHistory::from_wire(&history()), now),
            Some(snapshot) => {
                let (mut summary, missing) = UserSummary::restore(catalog, snapshot);
                for event in tail {
                    summary.record_wire(catalog, event, now);
                }
                if !missing.is_empty() {
                    let history = UserHistory::from_wire(&history());
                    summary.fill(catalog, &history, &missing, now);
                }
                summary
            }
        };
        summary.memberships = stored_memberships;
        let mut segments = DeviceSegments { set, summary };
        let changes = segments.settle(now);
        (segments, changes)
    }

    pub fn memberships(&self) -> &BTreeSet<String> {
        &self.summary.memberships
    }

    pub fn summary(&self) -> &UserSummary {
        &self.summary
    }

    /// What to persist so the next start need not read the history.
    pub fn snapshot(&self) -> SummarySnapshot {
        self.summary.snapshot(self.set.catalog())
    }

    pub fn set(&self) -> &SegmentSet {
        &self.set
    }

    /// One stored event: only the segments whose rules read it are re-evaluated.
    pub fn record(&mut self, event: &WireEvent, now: DateTime<Utc>) -> Vec<MembershipChange> {
        let trigger = match self.summary.record_wire(self.set.catalog(), event, now) {
            Recorded::Event(name) => {
                return self
                    .set
                    .refresh(&mut self.summary, now, Trigger::Event(&name))
            }
            Recorded::Traits => Trigger::Traits,
            Recorded::Permission => Trigger::Permissions,
            Recorded::Nothing => return Vec::new(),
        };
        self.set.refresh(&mut self.summary, now, trigger)
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
            if self.summary.permission(channel.as_str()) != Some(state) {
                self.summary.set_permission(channel.as_str(), state);
                changed = true;
            }
        }
        if !changed {
            return Vec::new();
        }
        self.set
            .refresh(&mut self.summary, now, Trigger::Permissions)
    }

    /// Time passed: windows closed, users went quiet.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<MembershipChange> {
        self.set.refresh(&mut self.summary, now, Trigger::Clock)
    }

    /// New definitions arrived: streams both sets read carry over, those only the new
    /// one reads are built from `history` (called only then); segments that went away
    /// are left, the rest recomputed.
    pub fn replace_set(
        &mut self,
        set: SegmentSet,
        history: impl FnOnce() -> Vec<WireEvent>,
        now: DateTime<Utc>,
    ) -> Vec<MembershipChange> {
        let (mut summary, missing) = self.summary.carry_over(self.set.catalog(), set.catalog());
        if !missing.is_empty() {
            summary.fill(
                set.catalog(),
                &UserHistory::from_wire(&history()),
                &missing,
                now,
            );
        }
        self.summary = summary;
        self.set = set;
        self.settle(now)
    }

    /// A new user (logout): no history, no traits, no memberships. Leaving every
    /// segment is not reported: the memberships belonged to the previous user.
    pub fn clear(&mut self) {
        self.summary = UserSummary::new(self.set.catalog());
    }

    fn settle(&mut self, now: DateTime<Utc>) -> Vec<MembershipChange> {
        let gone: Vec<String> = self
            .summary
            .memberships
            .iter()
            .filter(|id| self.set.get(id).is_none())
            .cloned()
            .collect();
        let mut changes: Vec<MembershipChange> = gone
            .into_iter()
            .map(|segment| {
                self.summary.memberships.remove(&segment);
                MembershipChange {
                    segment,
                    entered: false,
                }
            })
            .collect();
        changes.extend(
            self.set
                .refresh(&mut self.summary, now, Trigger::Everything),
        );
        changes
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::protocol::{WireKind, SEGMENT_ENTERED};
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
        let (mut device, changes) =
            DeviceSegments::load(builtins(), None, &[], Vec::new, BTreeSet::new(), now());
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
        let (mut device, changes) =
            DeviceSegments::load(set, None, &[], Vec::new, BTreeSet::new(), now());
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
        let (mut device, changes) = DeviceSegments::load(
            builtins(),
            None,
            &[],
            || history.to_vec(),
            BTreeSet::new(),
            now(),
        );
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
        let (mut device, _) = DeviceSegments::load(
            builtins(),
            None,
            &[],
            || history.to_vec(),
            BTreeSet::new(),
            start,
        );
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
        let (device, changes) =
            DeviceSegments::load(builtins(), None, &[], || history.to_vec(), stored, now());
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
