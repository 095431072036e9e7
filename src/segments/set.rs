//! A validated set of definitions, ordered so every segment is evaluated after the ones
//! it refers to, with precomputed answers to "what must be re-evaluated when X
//! changes" (an event of some name, the clock, traits, permissions).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::definition::SegmentDefinition;
use super::error::DefinitionError;
use super::evaluate::Ctx;
use super::explain::{explain, Explanation};
use super::history::UserHistory;
use super::summary::{Catalog, Plan, UserSummary};
use super::validate::check_set;

/// What changed since memberships were last computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger<'a> {
    /// One event of this name was recorded.
    Event(&'a str),
    /// Time passed (or the clock moved) with no other change.
    Clock,
    Traits,
    Permissions,
    /// Recompute everything (first run, definitions changed, history reloaded).
    Everything,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    pub segment: String,
    pub entered: bool,
}

#[derive(Debug, Clone)]
pub struct SegmentSet {
    /// In evaluation order: each after every segment it refers to.
    definitions: Vec<SegmentDefinition>,
    /// The streams every rule reads, and where each definition's leaves find them.
    catalog: Catalog,
    plans: Vec<Plan>,
    positions: HashMap<String, usize>,
    /// Affected positions (dependents included), sorted in evaluation order.
    by_event: HashMap<String, Vec<usize>>,
    any_event: Vec<usize>,
    clock: Vec<usize>,
    traits: Vec<usize>,
    permissions: Vec<usize>,
    everything: Vec<usize>,
}

impl SegmentSet {
    /// Validates every definition and the set as a whole (unique ids, references that
    /// exist, no cycles), reporting every problem found.
    pub fn new(definitions: Vec<SegmentDefinition>) -> Result<Self, Vec<DefinitionError>> {
        let order = check_set(&definitions)?;
        let mut slots: Vec<Option<SegmentDefinition>> = definitions.into_iter().map(Some).collect();
        let definitions: Vec<SegmentDefinition> = order
            .iter()
            .map(|&i| slots[i].take().expect("the order is a permutation"))
            .collect();
        let positions: HashMap<String, usize> = definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let deps: Vec<_> = definitions
            .iter()
            .map(SegmentDefinition::dependencies)
            .collect();

        // Transitive dependents: a segment's outcome feeds every segment that refers to
        // it, directly or not. Walking in reverse order sees dependents before their
        // dependencies, so one pass suffices.
        let mut dependents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); definitions.len()];
        for (i, d) in deps.iter().enumerate().rev() {
            let mine = dependents[i].clone();
            for id in &d.segments {
                let target = positions[id];
                dependents[target].insert(i);
                dependents[target].extend(mine.iter().copied());
            }
        }
        let close = |seeds: &mut dyn Iterator<Item = usize>| -> Vec<usize> {
            let mut all = BTreeSet::new();
            for seed in seeds {
                all.insert(seed);
                all.extend(dependents[seed].iter().copied());
            }
            all.into_iter().collect()
        };

        let mut event_seeds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in deps.iter().enumerate() {
            for name in &d.events {
                event_seeds.entry(name).or_default().push(i);
            }
        }
        let every: Vec<usize> = (0..deps.len()).filter(|&i| deps[i].every_event).collect();
        let by_event = event_seeds
            .into_iter()
            .map(|(name, seeds)| {
                let mut seeds = seeds.into_iter().chain(every.iter().copied());
                (name.to_owned(), close(&mut seeds))
            })
            .collect();
        let select =
            |pick: &dyn Fn(usize) -> bool| close(&mut (0..deps.len()).filter(|&i| pick(i)));
        let mut catalog = Catalog::default();
        let plans = definitions.iter().map(|d| catalog.plan(&d.rule)).collect();
        Ok(Self {
            catalog,
            plans,
            any_event: close(&mut every.iter().copied()),
            clock: select(&|i| deps[i].time_sensitive),
            traits: select(&|i| !deps[i].traits.is_empty()),
            permissions: select(&|i| !deps[i].channels.is_empty()),
            everything: (0..definitions.len()).collect(),
            by_event,
            positions,
            definitions,
        })
    }

    /// The definitions in evaluation order.
    pub fn definitions(&self) -> &[SegmentDefinition] {
        &self.definitions
    }

    pub fn get(&self, id: &str) -> Option<&SegmentDefinition> {
        self.positions.get(id).map(|&i| &self.definitions[i])
    }

    pub fn len(&self) -> usize {
        self.definitions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.definitions.is_empty()
    }

    fn positions_for(&self, trigger: Trigger) -> &[usize] {
        match trigger {
            Trigger::Event(name) => self.by_event.get(name).unwrap_or(&self.any_event),
            Trigger::Clock => &self.clock,
            Trigger::Traits => &self.traits,
            Trigger::Permissions => &self.permissions,
            Trigger::Everything => &self.everything,
        }
    }

    /// Ids of the segments whose outcome `trigger` can change, segments that refer to
    /// them included, in evaluation order.
    pub fn affected_by(&self, trigger: Trigger) -> Vec<&str> {
        self.positions_for(trigger)
            .iter()
            .map(|&i| self.definitions[i].id.as_str())
            .collect()
    }

    /// The streams this set's rules read: what a [`UserSummary`] for it keeps.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The user's summary for this set, folded from their history as of `now`.
    pub fn summarize(&self, history: &UserHistory, now: DateTime<Utc>) -> UserSummary {
        UserSummary::fold(&self.catalog, history, now)
    }

    /// Every segment of the set the user is in, computed from scratch. Memberships in
    /// `history` are read only for ids outside the set.
    pub fn evaluate_all(&self, history: &UserHistory, now: DateTime<Utc>) -> BTreeSet<String> {
        let summary = self.summarize(history, now);
        let mut members = summary.memberships.clone();
        self.evaluate_positions(&self.everything, &summary, &mut members, now);
        members.retain(|id| self.positions.contains_key(id));
        members
    }

    /// Re-evaluates only what `trigger` can affect and records the result in
    /// `summary.memberships`, returning who entered or left. Assumes memberships were
    /// current before the change; start with [`Trigger::Everything`]. The summary must
    /// be this set's (see [`SegmentSet::catalog`]).
    pub fn refresh(
        &self,
        summary: &mut UserSummary,
        now: DateTime<Utc>,
        trigger: Trigger,
    ) -> Vec<MembershipChange> {
        let positions = self.positions_for(trigger);
        if positions.is_empty() {
            return Vec::new();
        }
        summary.advance(&self.catalog, now);
        let mut members = std::mem::take(&mut summary.memberships);
        let changes = self.evaluate_positions(positions, summary, &mut members, now);
        summary.memberships = members;
        changes
    }

    fn evaluate_positions(
        &self,
        positions: &[usize],
        summary: &UserSummary,
        members: &mut BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Vec<MembershipChange> {
        let mut changes = Vec::new();
        for &i in positions {
            let def = &self.definitions[i];
            let inside = Ctx {
                summary,
                catalog: &self.catalog,
                members,
                now,
            }
            .holds(&def.rule, &self.plans[i]);
            let was = members.contains(&def.id);
            if inside != was {
                if inside {
                    members.insert(def.id.clone());
                } else {
                    members.remove(&def.id);
                }
                changes.push(MembershipChange {
                    segment: def.id.clone(),
                    entered: inside,
                });
            }
        }
        changes
    }

    /// Explains one segment, reading the memberships it refers to from `history`.
    pub fn explain(
        &self,
        id: &str,
        history: &UserHistory,
        now: DateTime<Utc>,
    ) -> Option<Explanation> {
        self.get(id).map(|def| explain(def, history, now))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::Map;

    use super::super::definition::*;
    use super::super::duration::Window;
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn def(id: &str, rule: Rule) -> SegmentDefinition {
        SegmentDefinition {
            id: id.into(),
            name: id.into(),
            description: None,
            rule,
        }
    }

    fn count(event: &str, within: Option<Window>, n: f64) -> Rule {
        let mut q = EventQuery::new(event);
        q.within = within;
        Rule::count(q, Comparison::at_least(n))
    }

    fn set() -> SegmentSet {
        SegmentSet::new(vec![
            def(
                "vip_buyer",
                Rule::All(vec![
                    Rule::Segment("buyer".into()),
                    Rule::Trait(Condition::new("vip", Test::Equals(true.into()))),
                ]),
            ),
            def("buyer", count("Order Completed", None, 1.0)),
            def(
                "recent_viewer",
                count("Product Viewed", Some(Window::days(1)), 1.0),
            ),
            def("lapsed", Rule::InactiveFor(Window::days(30))),
            def(
                "reachable_lapsed",
                Rule::All(vec![
                    Rule::Segment("lapsed".into()),
                    Rule::Permission(PermissionRule {
                        channel: "push".into(),
                        is: vec![PermissionState::OptedIn],
                    }),
                ]),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn definitions_come_in_evaluation_order() {
        let s = set();
        let ids: Vec<&str> = s.definitions().iter().map(|d| d.id.as_str()).collect();
        let pos = |id: &str| ids.iter().position(|x| *x == id).unwrap();
        assert!(pos("buyer") < pos("vip_buyer"));
        assert!(pos("lapsed") < pos("reachable_lapsed"));
        assert_eq!(s.len(), 5);
        assert!(s.get("buyer").is_some());
        assert!(s.get("nobody").is_none());
    }

    #[test]
    fn triggers_select_affected_segments_and_their_dependents() {
        let s = set();
        fn sorted(mut ids: Vec<&str>) -> Vec<&str> {
            ids.sort_unstable();
            ids
        }
        assert_eq!(
            sorted(s.affected_by(Trigger::Event("Order Completed"))),
            ["buyer", "lapsed", "reachable_lapsed", "vip_buyer"]
        );
        assert_eq!(
            sorted(s.affected_by(Trigger::Event("Product Viewed"))),
            ["lapsed", "reachable_lapsed", "recent_viewer"]
        );
        assert_eq!(
            sorted(s.affected_by(Trigger::Event("Cart Viewed"))),
            ["lapsed", "reachable_lapsed"],
            "inactivity watches every event"
        );
        assert_eq!(
            sorted(s.affected_by(Trigger::Clock)),
            ["lapsed", "reachable_lapsed", "recent_viewer"]
        );
        assert_eq!(s.affected_by(Trigger::Traits), ["vip_buyer"]);
        assert_eq!(s.affected_by(Trigger::Permissions), ["reachable_lapsed"]);
        assert_eq!(s.affected_by(Trigger::Everything).len(), 5);
    }

    #[test]
    fn refresh_reports_entries_and_exits_and_follows_references() {
        let s = set();
        // The summary the device keeps, and the history the server would fold.
        let mut u = UserSummary::new(s.catalog());
        let mut h = UserHistory::new();
        u.traits.insert("vip".into(), true.into());
        h.traits.insert("vip".into(), true.into());
        assert_eq!(s.refresh(&mut u, now(), Trigger::Everything), []);
        let mut record = |u: &mut UserSummary, name: &str, at: DateTime<Utc>| {
            u.record(s.catalog(), name, at, &Map::new(), now());
            h.record(name, at, Map::new());
        };
        record(&mut u, "Order Completed", now() - TimeDelta::days(40));
        let changes = s.refresh(&mut u, now(), Trigger::Event("Order Completed"));
        let entered: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.segment.as_str(), c.entered))
            .collect();
        assert_eq!(
            entered,
            [("buyer", true), ("vip_buyer", true), ("lapsed", true)],
            "in evaluation order"
        );
        u.set_permission("push", PermissionState::OptedIn);
        let changes = s.refresh(&mut u, now(), Trigger::Permissions);
        assert_eq!(
            changes,
            [MembershipChange {
                segment: "reachable_lapsed".into(),
                entered: true
            }]
        );
        record(&mut u, "Product Viewed", now());
        let changes = s.refresh(&mut u, now(), Trigger::Event("Product Viewed"));
        let got: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.segment.as_str(), c.entered))
            .collect();
        assert_eq!(
            got,
            [
                ("recent_viewer", true),
                ("lapsed", false),
                ("reachable_lapsed", false)
            ]
        );
        let later = now() + TimeDelta::days(2);
        let changes = s.refresh(&mut u, later, Trigger::Clock);
        assert_eq!(
            changes,
            [MembershipChange {
                segment: "recent_viewer".into(),
                entered: false
            }]
        );
        h.set_permission("push", PermissionState::OptedIn);
        assert_eq!(u.memberships, s.evaluate_all(&h, later));
        assert_eq!(
            u.memberships.iter().map(String::as_str).collect::<Vec<_>>(),
            ["buyer", "vip_buyer"]
        );
    }

    #[test]
    fn evaluate_all_ignores_stale_memberships_of_the_set() {
        let s = set();
        let mut h = UserHistory::new();
        h.memberships.insert("buyer".into());
        h.memberships.insert("outside_the_set".into());
        h.traits.insert("vip".into(), true.into());
        let members = s.evaluate_all(&h, now());
        assert!(
            members.is_empty(),
            "buyer was stale and vip_buyer must not read it: {members:?}"
        );
    }

    #[test]
    fn refresh_keeps_memberships_of_segments_outside_the_set() {
        let s = set();
        let mut u = UserSummary::new(s.catalog());
        u.memberships.insert("server_only".into());
        s.refresh(&mut u, now(), Trigger::Everything);
        assert!(u.memberships.contains("server_only"));
    }

    #[test]
    fn explain_by_id() {
        let s = set();
        let h = UserHistory::new();
        let e = s.explain("buyer", &h, now()).unwrap();
        assert!(!e.matched);
        assert_eq!(
            e.clauses[0].sentence,
            "count of \"Order Completed\" ever is 0 (needs at least 1)"
        );
        assert!(s.explain("nobody", &h, now()).is_none());
    }

    #[test]
    fn invalid_sets_are_refused_with_every_problem() {
        let errors = SegmentSet::new(vec![
            def("a", Rule::Segment("b".into())),
            def("b", Rule::Segment("a".into())),
            def("c", Rule::Segment("missing".into())),
        ])
        .unwrap_err();
        assert_eq!(
            errors.len(),
            1,
            "references are checked before cycles: {errors:?}"
        );
        assert_eq!(
            errors[0].to_string(),
            "segment \"c\": rule.segment: \"missing\" is not a defined segment"
        );
    }
}
