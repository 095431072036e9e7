//! A user's history indexed for the engine: events grouped by name, each group sorted
//! by timestamp, so windows are binary searches and a rule only ever touches the
//! groups it names. Built once and then grown one event at a time.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::definition::PermissionState;
use crate::protocol::{
    is_consent_report, ConsentReport, WireEvent, WireKind, SEGMENT_ENTERED, SEGMENT_EXITED,
};

/// The name screen views are indexed under; the screen's own name is the `name`
/// property, so a screen called "Order Completed" can never pass for the event.
pub const SCREEN_EVENT: &str = "Screen";

/// One recorded event. Properties are shared, not copied, with whoever else holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub timestamp: DateTime<Utc>,
    pub properties: Arc<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserHistory {
    series: HashMap<String, Vec<Entry>>,
    /// The newest event of any name, for inactivity rules without a scan.
    newest: Option<(DateTime<Utc>, String)>,
    len: usize,
    pub traits: Map<String, Value>,
    /// Channel → state. A channel with no entry reads as unsubscribed (consent first).
    pub permissions: BTreeMap<String, PermissionState>,
    /// Ids of the segments the user is in, as last computed.
    pub memberships: BTreeSet<String>,
}

impl UserHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event. Amortised O(1) for events arriving in time order; an event
    /// arriving late is inserted in place (after others with the same timestamp, so
    /// equal times keep the order they were recorded in).
    pub fn record(
        &mut self,
        name: &str,
        timestamp: DateTime<Utc>,
        properties: impl Into<Arc<Map<String, Value>>>,
    ) {
        let entry = Entry {
            timestamp,
            properties: properties.into(),
        };
        let series = match self.series.get_mut(name) {
            Some(series) => series,
            None => self.series.entry(name.to_owned()).or_default(),
        };
        if series.last().is_none_or(|last| last.timestamp <= timestamp) {
            series.push(entry);
        } else {
            let at = series.partition_point(|e| e.timestamp <= timestamp);
            series.insert(at, entry);
        }
        self.len += 1;
        if self.newest.as_ref().is_none_or(|(t, _)| *t <= timestamp) {
            self.newest = Some((timestamp, name.to_owned()));
        }
    }

    /// Adds an event as it travels on the wire (see [`Activity::of`]).
    pub fn record_wire(&mut self, event: &WireEvent) {
        match Activity::of(event) {
            Activity::Event {
                name,
                at,
                properties,
            } => self.record(name, at, properties.into_owned()),
            Activity::Traits(traits) => self
                .traits
                .extend(traits.iter().map(|(k, v)| (k.clone(), v.clone()))),
            Activity::Permission(channel, state) => self.set_permission(channel, state),
            Activity::Nothing => {}
        }
    }

    pub fn from_wire<'a>(events: impl IntoIterator<Item = &'a WireEvent>) -> Self {
        let mut history = Self::new();
        events.into_iter().for_each(|e| history.record_wire(e));
        history
    }

    /// The events of one name, oldest first.
    pub fn events(&self, name: &str) -> &[Entry] {
        probe::looked_up(name);
        self.series.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn event_names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// The newest event of any name: its time and name.
    pub fn newest(&self) -> Option<(DateTime<Utc>, &str)> {
        self.newest.as_ref().map(|(t, name)| (*t, name.as_str()))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn permission(&self, channel: &str) -> Option<PermissionState> {
        self.permissions.get(channel).copied()
    }

    pub fn set_permission(&mut self, channel: impl Into<String>, state: PermissionState) {
        self.permissions.insert(channel.into(), state);
    }
}

/// What a wire event tells the engine about its user.
pub enum Activity<'e> {
    /// Something the user did: a `track` by its name, a `screen` under
    /// [`SCREEN_EVENT`] with the screen's name as the `name` property.
    Event {
        name: &'e str,
        at: DateTime<Utc>,
        properties: Cow<'e, Map<String, Value>>,
    },
    /// `identify`: traits to merge (it is not activity).
    Traits(&'e Map<String, Value>),
    /// A reported permission change, which `permission` rules read.
    Permission(&'static str, PermissionState),
    /// Segment membership reports (the engine's own output: counting them would make
    /// an inactive user active again) and other device reports.
    Nothing,
}

impl<'e> Activity<'e> {
    pub fn of(event: &'e WireEvent) -> Self {
        match (event.kind, &event.name) {
            (WireKind::Track, Some(name)) if is_membership_report(name) => Activity::Nothing,
            (WireKind::Track, Some(name)) if is_consent_report(name) => {
                // A malformed one was refused before it was stored.
                match ConsentReport::read(event) {
                    Ok(Some(ConsentReport::PermissionChanged { channel, state, .. })) => {
                        Activity::Permission(channel.as_str(), state)
                    }
                    _ => Activity::Nothing,
                }
            }
            (WireKind::Track, Some(name)) => Activity::Event {
                name,
                at: event.timestamp,
                properties: Cow::Borrowed(&event.properties),
            },
            (WireKind::Screen, name) => {
                let mut properties = event.properties.clone();
                if let Some(name) = name {
                    properties
                        .entry("name")
                        .or_insert_with(|| Value::String(name.clone()));
                }
                Activity::Event {
                    name: SCREEN_EVENT,
                    at: event.timestamp,
                    properties: Cow::Owned(properties),
                }
            }
            (WireKind::Identify, _) => Activity::Traits(&event.traits),
            (WireKind::Track, None) => Activity::Nothing,
        }
    }
}

/// Whether `name` is one of the events a device records about segment memberships.
pub fn is_membership_report(name: &str) -> bool {
    name == SEGMENT_ENTERED || name == SEGMENT_EXITED
}

/// Whether `name` is an event the SDK records about the device's own state (segment
/// memberships, permissions, push tokens) rather than about what the user did: never
/// activity, for inactivity rules or anything else, on the device or the server.
pub fn is_device_report(name: &str) -> bool {
    is_membership_report(name) || is_consent_report(name)
}

/// Test-only record of which event groups evaluation looked at and how many entries it
/// scanned, so tests can prove rules touch only what they name and windows do not scan.
#[cfg(test)]
pub(crate) mod probe {
    use std::cell::RefCell;

    #[derive(Debug, Default, Clone)]
    pub struct Record {
        pub names: Vec<String>,
        pub scanned: usize,
    }

    thread_local! {
        static RECORD: RefCell<Record> = RefCell::default();
    }

    pub fn looked_up(name: &str) {
        RECORD.with(|r| r.borrow_mut().names.push(name.to_owned()));
    }

    pub fn scanned() {
        RECORD.with(|r| r.borrow_mut().scanned += 1);
    }

    /// Runs `f` and returns what it looked at.
    pub fn during<T>(f: impl FnOnce() -> T) -> (T, Record) {
        RECORD.with(|r| *r.borrow_mut() = Record::default());
        let out = f();
        (out, RECORD.with(|r| r.borrow().clone()))
    }
}

#[cfg(not(test))]
pub(crate) mod probe {
    #[inline(always)]
    pub fn looked_up(_: &str) {}
    #[inline(always)]
    pub fn scanned() {}
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn order(h: &UserHistory, name: &str) -> Vec<i64> {
        h.events(name)
            .iter()
            .map(|e| e.properties["n"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn groups_by_name_and_keeps_each_group_sorted() {
        let mut h = UserHistory::new();
        for (n, (name, minute)) in [("A", 5), ("B", 1), ("A", 1), ("A", 9), ("A", 5), ("A", 0)]
            .into_iter()
            .enumerate()
        {
            h.record(name, t(minute), props(json!({"n": n})));
        }
        assert_eq!(
            order(&h, "A"),
            [5, 2, 0, 4, 3],
            "late events go in place; ties keep arrival order"
        );
        assert_eq!(order(&h, "B"), [1]);
        assert!(h.events("C").is_empty());
        assert_eq!(h.len(), 6);
        assert_eq!(h.newest(), Some((t(9), "A")));
        let mut names: Vec<_> = h.event_names().collect();
        names.sort_unstable();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn newest_tracks_the_latest_timestamp_not_the_latest_arrival() {
        let mut h = UserHistory::new();
        assert_eq!(h.newest(), None);
        h.record("A", t(10), Map::new());
        h.record("B", t(3), Map::new());
        assert_eq!(h.newest(), Some((t(10), "A")));
        h.record("C", t(10), Map::new());
        assert_eq!(h.newest(), Some((t(10), "C")));
    }

    #[test]
    fn wire_events_index_track_screen_and_merge_identify_traits() {
        let wire = |kind, name: Option<&str>, properties: Value, traits: Value| WireEvent {
            id: "00000000-0000-4000-8000-000000000000".into(),
            kind,
            name: name.map(Into::into),
            properties: props(properties),
            traits: props(traits),
            anonymous_id: "anon".into(),
            user_id: None,
            timestamp: t(0),
            context: Map::new(),
        };
        let events = [
            wire(
                WireKind::Track,
                Some("Product Viewed"),
                json!({"price": 3}),
                json!({}),
            ),
            wire(
                WireKind::Screen,
                Some("Order Completed"),
                json!({}),
                json!({}),
            ),
            wire(
                WireKind::Identify,
                None,
                json!({}),
                json!({"plan": "gold", "age": 3}),
            ),
            wire(
                WireKind::Identify,
                None,
                json!({}),
                json!({"plan": "silver"}),
            ),
            wire(
                WireKind::Track,
                Some("Channel Permission Changed"),
                json!({"channel": "email", "state": "unsubscribed", "source": "app"}),
                json!({}),
            ),
            wire(
                WireKind::Track,
                Some("Push Token Registered"),
                json!({"provider": "fcm", "token": "t-1"}),
                json!({}),
            ),
            wire(
                WireKind::Track,
                Some("Segment Entered"),
                json!({"segment_id": "s"}),
                json!({}),
            ),
        ];
        let h = UserHistory::from_wire(&events);
        assert_eq!(
            h.permission("email"),
            Some(PermissionState::Unsubscribed),
            "permission rules read the reported change"
        );
        assert_eq!(h.permission("push"), None);
        assert!(h.events("Push Token Registered").is_empty());
        assert_eq!(h.events("Product Viewed")[0].properties["price"], json!(3));
        assert!(
            h.events("Order Completed").is_empty(),
            "a screen is not the event it is named after"
        );
        assert_eq!(
            h.events(SCREEN_EVENT)[0].properties["name"],
            json!("Order Completed")
        );
        assert_eq!(
            h.len(),
            2,
            "identify and the device's own reports are not activity"
        );
        assert_eq!(
            Value::Object(h.traits.clone()),
            json!({"plan": "silver", "age": 3})
        );
    }

    #[test]
    fn permissions_are_read_by_channel() {
        let mut h = UserHistory::new();
        h.set_permission("push", PermissionState::OptedIn);
        assert_eq!(h.permission("push"), Some(PermissionState::OptedIn));
        assert_eq!(h.permission("email"), None);
    }
}
