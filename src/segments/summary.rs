//! A user as the engine reads them: the streams a set of rules needs (kept up to date
//! one event at a time), the newest event, traits, permissions and memberships. The
//! device keeps one and persists it; the server folds a user's stored events into one
//! to evaluate. Either way membership is decided from the same summary by the same code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::definition::{PermissionState, Rule};
use super::history::{probe, Activity, UserHistory};
use super::streams::{Keep, Reading, StreamSpec, StreamState};
use crate::protocol::WireEvent;

/// The streams of a set of rules, each once however many rules read it.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    specs: Vec<StreamSpec>,
    keys: Vec<String>,
    positions: HashMap<String, usize>,
    by_event: HashMap<String, Vec<usize>>,
}

/// A rule's shape with each leaf's streams resolved, walked beside the rule.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    All(Vec<Plan>),
    Any(Vec<Plan>),
    Not(Box<Plan>),
    Leaf(Vec<usize>),
}

impl Catalog {
    /// Adds the streams `rule` reads (those already known are shared) and returns where
    /// each leaf finds them.
    pub(crate) fn plan(&mut self, rule: &Rule) -> Plan {
        match rule {
            Rule::All(rules) => Plan::All(rules.iter().map(|r| self.plan(r)).collect()),
            Rule::Any(rules) => Plan::Any(rules.iter().map(|r| self.plan(r)).collect()),
            Rule::Not(rule) => Plan::Not(Box::new(self.plan(rule))),
            leaf => Plan::Leaf(
                StreamSpec::of_leaf(leaf)
                    .into_iter()
                    .map(|spec| self.add(spec))
                    .collect(),
            ),
        }
    }

    fn add(&mut self, spec: StreamSpec) -> usize {
        let key = spec.key();
        if let Some(&at) = self.positions.get(&key) {
            return at;
        }
        let at = self.specs.len();
        self.by_event
            .entry(spec.event.clone())
            .or_default()
            .push(at);
        self.positions.insert(key.clone(), at);
        self.keys.push(key);
        self.specs.push(spec);
        at
    }

    pub(crate) fn spec(&self, stream: usize) -> &StreamSpec {
        &self.specs[stream]
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    fn reading(&self, name: &str) -> &[usize] {
        self.by_event.get(name).map_or(&[], Vec::as_slice)
    }
}

/// What the engine knows of one user, for one [`Catalog`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserSummary {
    streams: Vec<StreamState>,
    /// The newest event of any name: its time and name, for inactivity rules.
    newest: Option<(DateTime<Utc>, String)>,
    pub traits: Map<String, Value>,
    /// Channel → state. A channel with no entry reads as subscribed (consent's default).
    pub permissions: BTreeMap<String, PermissionState>,
    /// Ids of the segments the user is in, as last computed.
    pub memberships: BTreeSet<String>,
}

/// The part of a summary worth persisting: what took events to build. Traits,
/// permissions and memberships have stores of their own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SummarySnapshot {
    streams: BTreeMap<String, StreamState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<(DateTime<Utc>, String)>,
}

/// What a wire event changed, so only the rules it can affect are re-evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Event(String),
    Traits,
    Permission,
    Nothing,
}

impl UserSummary {
    pub fn new(catalog: &Catalog) -> Self {
        UserSummary {
            streams: vec![StreamState::default(); catalog.len()],
            ..UserSummary::default()
        }
    }

    /// The summary of an indexed history as of `now`: each stream folds its events in
    /// time order, a windowed one only those still inside its window.
    pub fn fold(catalog: &Catalog, history: &UserHistory, now: DateTime<Utc>) -> Self {
        let mut summary = UserSummary::new(catalog);
        summary.fold_streams(catalog, history, 0..catalog.len(), now);
        summary.newest = history.newest().map(|(t, name)| (t, name.to_owned()));
        summary.traits = history.traits.clone();
        summary.permissions = history.permissions.clone();
        summary.memberships = history.memberships.clone();
        summary
    }

    fn fold_streams(
        &mut self,
        catalog: &Catalog,
        history: &UserHistory,
        streams: impl IntoIterator<Item = usize>,
        now: DateTime<Utc>,
    ) {
        for stream in streams {
            let spec = catalog.spec(stream);
            let entries = history.events(&spec.event);
            // Only what can still be inside the window at `now`.
            let from = match spec.within.and_then(|w| w.boundary(now)) {
                Some(boundary) => entries.partition_point(|e| e.timestamp <= boundary),
                None => 0,
            };
            let state = &mut self.streams[stream];
            if spec.filters.is_empty() && spec.within.is_none() {
                if let (Keep::Count | Keep::Last, Some(newest)) = (&spec.keep, entries.last()) {
                    // The group's length and end: no need to go through it.
                    state.set_all_time(entries.len() as u64, newest.timestamp);
                    continue;
                }
            }
            for entry in &entries[from..] {
                probe::scanned();
                state.record(spec, entry.timestamp, &entry.properties, now);
            }
        }
    }

    /// Adds a wire event, judged at `now`, and says what kind of change it was.
    pub fn record_wire(
        &mut self,
        catalog: &Catalog,
        event: &WireEvent,
        now: DateTime<Utc>,
    ) -> Recorded {
        match Activity::of(event) {
            Activity::Event {
                name,
                at,
                properties,
            } => {
                self.record(catalog, name, at, &properties, now);
                Recorded::Event(name.to_owned())
            }
            Activity::Traits(traits) => {
                self.traits
                    .extend(traits.iter().map(|(k, v)| (k.clone(), v.clone())));
                Recorded::Traits
            }
            Activity::Permission(channel, state) => {
                self.set_permission(channel, state);
                Recorded::Permission
            }
            Activity::Nothing => Recorded::Nothing,
        }
    }

    /// Adds one event of the user's activity.
    pub fn record(
        &mut self,
        catalog: &Catalog,
        name: &str,
        at: DateTime<Utc>,
        properties: &Map<String, Value>,
        now: DateTime<Utc>,
    ) {
        for &stream in catalog.reading(name) {
            self.streams[stream].record(catalog.spec(stream), at, properties, now);
        }
        if self.newest.as_ref().is_none_or(|(t, _)| *t <= at) {
            self.newest = Some((at, name.to_owned()));
        }
    }

    /// Lets windowed streams forget what left their windows by `now`.
    pub fn advance(&mut self, catalog: &Catalog, now: DateTime<Utc>) {
        for (stream, state) in self.streams.iter_mut().enumerate() {
            if let Some(window) = catalog.spec(stream).within {
                state.advance(window, now);
            }
        }
    }

    pub(crate) fn reading<'s>(&'s self, catalog: &Catalog, stream: usize) -> Reading<'s> {
        self.streams[stream].reading(catalog.spec(stream))
    }

    pub fn newest(&self) -> Option<(DateTime<Utc>, &str)> {
        self.newest.as_ref().map(|(t, name)| (*t, name.as_str()))
    }

    pub fn permission(&self, channel: &str) -> Option<PermissionState> {
        self.permissions.get(channel).copied()
    }

    pub fn set_permission(&mut self, channel: impl Into<String>, state: PermissionState) {
        self.permissions.insert(channel.into(), state);
    }

    /// Forgets the events (a new user); traits, permissions and memberships stay.
    pub fn clear_events(&mut self) {
        self.streams
            .iter_mut()
            .for_each(|s| *s = StreamState::default());
        self.newest = None;
    }

    pub fn snapshot(&self, catalog: &Catalog) -> SummarySnapshot {
        SummarySnapshot {
            streams: catalog
                .keys
                .iter()
                .cloned()
                .zip(self.streams.iter().cloned())
                .collect(),
            newest: self.newest.clone(),
        }
    }

    /// A summary for `catalog` from a snapshot taken for another (or the same) one:
    /// streams both know are kept; the others start empty and are returned, for the
    /// caller to fold the stored history into with [`UserSummary::fill`].
    pub fn restore(catalog: &Catalog, mut snapshot: SummarySnapshot) -> (Self, Vec<usize>) {
        let mut summary = UserSummary::new(catalog);
        let mut missing = Vec::new();
        for (stream, key) in catalog.keys.iter().enumerate() {
            match snapshot.streams.remove(key) {
                Some(state) => summary.streams[stream] = state,
                None => missing.push(stream),
            }
        }
        summary.newest = snapshot.newest;
        (summary, missing)
    }

    /// Rebuilds `streams` (those a new catalog added) from the history still stored,
    /// which holds less than all-time streams folded before it was trimmed.
    pub fn fill(
        &mut self,
        catalog: &Catalog,
        history: &UserHistory,
        streams: &[usize],
        now: DateTime<Utc>,
    ) {
        for &stream in streams {
            self.streams[stream] = StreamState::default();
        }
        self.fold_streams(catalog, history, streams.iter().copied(), now);
        if let Some((t, name)) = history.newest() {
            if self.newest.as_ref().is_none_or(|(newest, _)| *newest < t) {
                self.newest = Some((t, name.to_owned()));
            }
        }
    }

    /// The same user for a new catalog: streams both catalogs read are carried over,
    /// the others returned empty (see [`UserSummary::restore`]).
    pub fn carry_over(&self, from: &Catalog, to: &Catalog) -> (Self, Vec<usize>) {
        let (mut summary, missing) = UserSummary::restore(to, self.snapshot(from));
        summary.traits = self.traits.clone();
        summary.permissions = self.permissions.clone();
        summary.memberships = self.memberships.clone();
        (summary, missing)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::Map;

    use super::*;
    use crate::segments::{Comparison, EventQuery, Window};

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + TimeDelta::days(days)
    }

    fn catalog(rules: &[Rule]) -> Catalog {
        let mut catalog = Catalog::default();
        for rule in rules {
            catalog.plan(rule);
        }
        catalog
    }

    fn orders(within: Option<Window>) -> Rule {
        let mut query = EventQuery::new("Order Completed");
        query.within = within;
        Rule::count(query, Comparison::at_least(1.0))
    }

    #[test]
    fn rules_asking_the_same_share_one_stream() {
        let c = catalog(&[orders(None), orders(None), orders(Some(Window::days(7)))]);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn new_definitions_keep_what_both_read_and_build_the_rest_from_the_history() {
        let old = catalog(&[orders(None)]);
        let mut summary = UserSummary::new(&old);
        for day in 0..10 {
            summary.record(&old, "Order Completed", at(day), &Map::new(), at(day));
        }
        summary.traits.insert("plan".into(), "gold".into());
        // The device trimmed its history: only the last three orders are stored.
        let mut history = UserHistory::new();
        for day in 7..10 {
            history.record("Order Completed", at(day), Map::new());
        }
        let new = catalog(&[orders(Some(Window::days(30))), orders(None)]);
        let (mut carried, missing) = summary.carry_over(&old, &new);
        assert_eq!(missing, [0], "the 30-day count is new");
        carried.fill(&new, &history, &missing, at(10));
        assert_eq!(
            carried.reading(&new, 0).count,
            3,
            "built from what is stored"
        );
        assert_eq!(
            carried.reading(&new, 1).count,
            10,
            "kept, older orders included"
        );
        assert_eq!(carried.traits, summary.traits);
        assert_eq!(carried.newest(), Some((at(9), "Order Completed")));

        let saved = serde_json::to_vec(&carried.snapshot(&new)).unwrap();
        let (restored, missing) =
            UserSummary::restore(&new, serde_json::from_slice(&saved).unwrap());
        assert!(missing.is_empty());
        assert_eq!(restored.reading(&new, 1).count, 10);
        assert_eq!(restored.reading(&new, 0).count, 3);
    }
}
