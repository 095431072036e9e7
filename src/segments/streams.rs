//! What each event-reading rule needs of a user's history, kept up to date one event
//! at a time: a *stream* folds the events of one name that pass its filters into a
//! count, a sum, the largest group or the last time. A windowed stream holds only the
//! events still inside its window and lets them go as the clock moves, so recording an
//! event and reading a measurement cost the same whatever the length of the history.
//!
//! Rules that ask the same question share one stream (a `sum` and an `average` over the
//! same query, the same count in two segments). Streams are plain data: the device
//! persists them, the server folds a user's stored events into them to evaluate.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::definition::{Condition, Rule};
use super::duration::Window;
use super::evaluate::test_holds;

/// What a stream keeps of each matching event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Keep {
    /// How many.
    Count,
    /// How many per value of this property (`count … per`).
    Per(String),
    /// The first of these properties holding a number (`sum`, `average`).
    Numbers(Vec<String>),
    /// When the last one happened (`last`, `none_since_last`).
    Last,
}

/// Which events a stream folds and what it keeps of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamSpec {
    pub event: String,
    pub filters: Vec<Condition>,
    pub within: Option<Window>,
    pub keep: Keep,
}

impl StreamSpec {
    /// The streams a leaf rule reads, in the order its measurement takes them.
    pub fn of_leaf(rule: &Rule) -> Vec<StreamSpec> {
        let spec = |event: &str, filters: &[Condition], within, keep| StreamSpec {
            event: event.to_owned(),
            filters: filters.to_vec(),
            within,
            keep,
        };
        match rule {
            Rule::Count(c) => {
                let keep = c.per.clone().map_or(Keep::Count, Keep::Per);
                vec![spec(&c.query.event, &c.query.filters, c.query.within, keep)]
            }
            Rule::Sum(a) | Rule::Average(a) => vec![spec(
                &a.query.event,
                &a.query.filters,
                a.query.within,
                Keep::Numbers(a.property.clone()),
            )],
            Rule::Last(l) => vec![spec(&l.event, &l.filters, None, Keep::Last)],
            Rule::NoneSinceLast(n) => vec![
                spec(&n.after, &n.after_filters, None, Keep::Last),
                spec(&n.event, &n.filters, None, Keep::Last),
            ],
            _ => Vec::new(),
        }
    }

    /// Identifies the stream across restarts: equal specs give equal keys.
    pub fn key(&self) -> String {
        format!("{self:?}")
    }

    fn matches(&self, properties: &Map<String, Value>) -> bool {
        self.filters
            .iter()
            .all(|c| test_holds(&c.test, properties.get(&c.key)))
    }
}

/// One event as a windowed stream holds it.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    at: DateTime<Utc>,
    datum: Datum,
}

#[derive(Debug, Clone, PartialEq)]
enum Datum {
    Plain,
    Number(f64),
    /// A group's key, shared by the events of the group.
    Group(Arc<str>),
}

/// One group of a `per` count: how many, and a value of the group to name it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    count: u64,
    value: Value,
}

/// How far back a device clock may be set and windows still count exactly: a
/// windowed stream keeps events this long after they left its window.
pub(crate) const CLOCK_SLACK: TimeDelta = TimeDelta::days(2);

/// A stream's running state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StreamState {
    /// Events counted: all-time, or those inside the window.
    count: u64,
    sum: f64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "nanos::option"
    )]
    last: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    groups: HashMap<String, Group>,
    /// The group reported as the largest: the first to reach the largest count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    best: Option<String>,
    /// Group sizes → the groups of that size, for windowed `per` streams, whose groups
    /// also shrink.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sizes: BTreeMap<u64, BTreeSet<String>>,
    /// A windowed stream's events, oldest first: those from `inside` on are inside the
    /// window; the ones before left it less than [`CLOCK_SLACK`] ago. Empty for
    /// all-time streams.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty", with = "columns")]
    held: VecDeque<Held>,
    #[serde(default)]
    inside: usize,
    /// Numbers taken out of `sum` since it was last added up afresh.
    #[serde(default)]
    removed: usize,
}

/// A measurement read from a stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading<'s> {
    pub count: u64,
    pub sum: f64,
    pub last: Option<DateTime<Utc>>,
    /// For `per` streams, a value of the largest group.
    pub group: Option<&'s Value>,
}

impl StreamState {
    /// Folds one event of the stream's name that happened at `at`, with `now` the time
    /// it is recorded at.
    pub fn record(
        &mut self,
        spec: &StreamSpec,
        at: DateTime<Utc>,
        properties: &Map<String, Value>,
        now: DateTime<Utc>,
    ) {
        let boundary = spec.within.and_then(|w| w.boundary(now));
        if let Some(window) = spec.within {
            self.advance(window, now);
            if boundary.is_some_and(|b| at <= b - CLOCK_SLACK) {
                return;
            }
        }
        if !spec.matches(properties) {
            return;
        }
        let datum = match &spec.keep {
            Keep::Count | Keep::Last => Datum::Plain,
            Keep::Numbers(keys) => match keys
                .iter()
                .find_map(|k| properties.get(k).and_then(Value::as_f64))
            {
                Some(number) => Datum::Number(number),
                None => return,
            },
            Keep::Per(key) => match properties.get(key).and_then(group_key) {
                Some(group) => Datum::Group(Arc::from(group)),
                None => return,
            },
        };
        if self.last.is_none_or(|last| last < at) {
            self.last = Some(at);
        }
        if spec.within.is_none() {
            self.count_in(&datum, properties, spec);
            return;
        }
        let held = Held { at, datum };
        let position = if self.held.back().is_none_or(|newest| newest.at <= at) {
            self.held.len()
        } else {
            // Late: in place, after others of the same time.
            self.held.partition_point(|h| h.at <= at)
        };
        if boundary.is_some_and(|b| at <= b) {
            // Already out of the window: kept only in case the clock goes back.
            self.held.insert(position, held);
            self.inside += 1;
            return;
        }
        self.count_in(&held.datum, properties, spec);
        self.held.insert(position.max(self.inside), held);
    }

    /// An all-time stream of `count` events, the newest at `last`, set at once.
    pub fn set_all_time(&mut self, count: u64, last: DateTime<Utc>) {
        self.count = count;
        self.last = Some(last);
    }

    fn count_in(&mut self, datum: &Datum, properties: &Map<String, Value>, spec: &StreamSpec) {
        self.count += 1;
        match datum {
            Datum::Number(number) => self.sum += number,
            Datum::Group(group) => {
                let value = match &spec.keep {
                    Keep::Per(key) => properties.get(key).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                self.grow(group.to_string(), value);
            }
            Datum::Plain => {}
        }
    }

    /// Moves the window to `now`: events that left it stop counting, and after a
    /// clock set back, those that are inside again count again (for up to
    /// [`CLOCK_SLACK`]).
    pub fn advance(&mut self, window: Window, now: DateTime<Utc>) {
        let Some(boundary) = window.boundary(now) else {
            return;
        };
        while self.inside < self.held.len() && self.held[self.inside].at <= boundary {
            let datum = self.held[self.inside].datum.clone();
            self.inside += 1;
            self.count -= 1;
            match datum {
                Datum::Number(number) => {
                    self.sum -= number;
                    self.removed += 1;
                }
                Datum::Group(group) => self.shrink(&group),
                Datum::Plain => {}
            }
        }
        while self.inside > 0 && self.held[self.inside - 1].at > boundary {
            self.inside -= 1;
            let datum = self.held[self.inside].datum.clone();
            self.count += 1;
            match datum {
                Datum::Number(number) => self.sum += number,
                Datum::Group(group) => {
                    let value = self.group_value(&group);
                    self.grow(group.to_string(), value);
                }
                Datum::Plain => {}
            }
        }
        let forget = boundary - CLOCK_SLACK;
        while self.inside > 0 && self.held.front().is_some_and(|h| h.at <= forget) {
            self.held.pop_front();
            self.inside -= 1;
        }
        if self.count == 0 {
            self.sum = 0.0;
            self.removed = 0;
        } else if self.removed > self.held.len() {
            // Subtraction drifts; adding up afresh now and then keeps the sum exact to
            // rounding, at a cost shared by the removals that made it necessary.
            self.sum = self
                .held
                .iter()
                .skip(self.inside)
                .filter_map(|h| match h.datum {
                    Datum::Number(n) => Some(n),
                    _ => None,
                })
                .sum();
            self.removed = 0;
        }
    }

    /// The value a group is named by, when it comes back into the window.
    fn group_value(&self, key: &str) -> Value {
        if let Some(group) = self.groups.get(key) {
            return group.value.clone();
        }
        match key.split_at(1) {
            ("s", text) => Value::String(text.to_owned()),
            ("b", flag) => Value::Bool(flag == "true"),
            (_, bits) => u64::from_str_radix(bits, 16)
                .ok()
                .and_then(|bits| serde_json::Number::from_f64(f64::from_bits(bits)))
                .map_or(Value::Null, Value::Number),
        }
    }

    /// What the stream measures now (after [`StreamState::advance`] to now).
    pub fn reading(&self, spec: &StreamSpec) -> Reading<'_> {
        let mut reading = Reading {
            count: self.count,
            sum: self.sum,
            last: self.last,
            group: None,
        };
        if let Keep::Per(_) = spec.keep {
            let best = self.best.as_ref().and_then(|key| self.groups.get(key));
            reading.count = best.map_or(0, |g| g.count);
            reading.group = best.map(|g| &g.value);
        }
        reading
    }

    fn grow(&mut self, key: String, value: Value) {
        let group = self
            .groups
            .entry(key.clone())
            .or_insert(Group { count: 0, value });
        let before = group.count;
        group.count += 1;
        let after = group.count;
        move_size(&mut self.sizes, &key, before, after);
        let best = self
            .best
            .as_ref()
            .and_then(|b| self.groups.get(b))
            .map_or(0, |g| g.count);
        // Strictly larger: on a tie the group that got there first stays reported.
        if after > best {
            self.best = Some(key);
        }
    }

    fn shrink(&mut self, key: &str) {
        let Some(group) = self.groups.get_mut(key) else {
            return;
        };
        let before = group.count;
        group.count -= 1;
        let after = group.count;
        if after == 0 {
            self.groups.remove(key);
        }
        move_size(&mut self.sizes, key, before, after);
        if self.best.as_deref() == Some(key) {
            // One of the largest groups now; the first of them by value, so device and
            // server name the same one.
            self.best = self
                .sizes
                .last_key_value()
                .and_then(|(_, keys)| keys.first().cloned());
        }
    }
}

fn move_size(sizes: &mut BTreeMap<u64, BTreeSet<String>>, key: &str, before: u64, after: u64) {
    if before > 0 {
        if let Some(keys) = sizes.get_mut(&before) {
            keys.remove(key);
            if keys.is_empty() {
                sizes.remove(&before);
            }
        }
    }
    if after > 0 {
        sizes.entry(after).or_default().insert(key.to_owned());
    }
}

/// Groups are formed by strings, numbers and booleans; events without the property (or
/// with a null, list or object there) belong to no group. `1` and `1.0` are one group,
/// `"1"` another.
fn group_key(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(format!("s{s}")),
        // +0.0 folds -0.0 into 0.0 so both land in one group, as 1 and 1.0 do.
        Value::Number(n) => n.as_f64().map(|f| format!("n{:x}", (f + 0.0).to_bits())),
        Value::Bool(b) => Some(format!("b{b}")),
        _ => None,
    }
}

/// A windowed stream's events saved as columns: times as whole nanoseconds, each
/// after the first as the step from the one before, and the numbers or group keys
/// beside them (each key once). Tens of thousands of events read back in well under a
/// millisecond, where one JSON object each took milliseconds.
mod columns {
    use std::collections::{HashMap, VecDeque};
    use std::sync::Arc;

    use chrono::DateTime;
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Datum, Held};

    #[derive(Default, Serialize, Deserialize)]
    struct Columns {
        at: Vec<i64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        numbers: Vec<f64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keys: Vec<String>,
    }

    pub fn serialize<S: Serializer>(held: &VecDeque<Held>, s: S) -> Result<S::Ok, S::Error> {
        let mut columns = Columns::default();
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut previous = 0i64;
        for h in held {
            let at =
                h.at.timestamp_nanos_opt()
                    .ok_or_else(|| S::Error::custom("time out of range"))?;
            columns.at.push(at.wrapping_sub(previous));
            previous = at;
            match &h.datum {
                Datum::Plain => {}
                Datum::Number(n) => columns.numbers.push(*n),
                Datum::Group(key) => {
                    let next = index.len() as u32;
                    let i = *index.entry(key).or_insert_with(|| {
                        columns.keys.push(key.to_string());
                        next
                    });
                    columns.groups.push(i);
                }
            }
        }
        columns.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<Held>, D::Error> {
        let columns = Columns::deserialize(d)?;
        let n = columns.at.len();
        let beside = |len: usize| len == 0 || len == n;
        if !beside(columns.numbers.len()) || !beside(columns.groups.len()) {
            return Err(D::Error::custom("columns of different lengths"));
        }
        let keys: Vec<Arc<str>> = columns.keys.into_iter().map(Arc::from).collect();
        let mut held = VecDeque::with_capacity(n);
        let mut at = 0i64;
        for (i, step) in columns.at.into_iter().enumerate() {
            at = at.wrapping_add(step);
            let datum = if let Some(&n) = columns.numbers.get(i) {
                Datum::Number(n)
            } else if let Some(&g) = columns.groups.get(i) {
                let key = keys
                    .get(g as usize)
                    .ok_or_else(|| D::Error::custom("a group key out of range"))?;
                Datum::Group(key.clone())
            } else {
                Datum::Plain
            };
            held.push_back(Held {
                at: DateTime::from_timestamp_nanos(at),
                datum,
            });
        }
        Ok(held)
    }
}

/// Times as whole nanoseconds: compact, and exact for every time an event can carry.
mod nanos {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        match at.timestamp_nanos_opt() {
            Some(n) => s.serialize_i64(n),
            None => Err(serde::ser::Error::custom("time out of range")),
        }
    }

    pub mod option {
        use serde::Deserialize;

        use super::*;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Ok(Option::<i64>::deserialize(d)?.map(DateTime::from_timestamp_nanos))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::segments::Condition;
    use crate::segments::Test;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn spec(within: Option<Window>, keep: Keep) -> StreamSpec {
        StreamSpec {
            event: "E".into(),
            filters: vec![],
            within,
            keep,
        }
    }

    fn count(state: &StreamState, spec: &StreamSpec) -> u64 {
        state.reading(spec).count
    }

    #[test]
    fn a_window_counts_what_is_inside_and_lets_go_as_the_clock_moves() {
        let s = spec(Some(Window::hours(1)), Keep::Count);
        let mut state = StreamState::default();
        for minute in [0, 10, 20, 70] {
            state.record(&s, at(minute), &Map::new(), at(minute));
        }
        assert_eq!(count(&state, &s), 2, "0 left; 10, exactly an hour old, too");
        state.advance(Window::hours(1), at(80));
        assert_eq!(count(&state, &s), 1);
        // The clock set back: the events inside again count again.
        state.advance(Window::hours(1), at(15));
        assert_eq!(count(&state, &s), 4, "0, 10, 20 and the future 70");
        state.advance(Window::hours(1), at(80));
        assert_eq!(count(&state, &s), 1);
        // Beyond the slack the events are forgotten for good.
        let much_later = at(80) + CLOCK_SLACK + TimeDelta::hours(1);
        state.advance(Window::hours(1), much_later);
        assert!(state.held.is_empty());
        state.advance(Window::hours(1), at(15));
        assert_eq!(count(&state, &s), 0);
    }

    #[test]
    fn late_events_go_in_place_and_filters_and_numbers_decide_what_counts() {
        let mut s = spec(
            Some(Window::hours(2)),
            Keep::Numbers(vec!["revenue".into(), "total".into()]),
        );
        s.filters = vec![Condition::new("currency", Test::Equals(json!("EUR")))];
        let mut state = StreamState::default();
        let now = at(100);
        state.record(
            &s,
            at(90),
            &props(json!({"revenue": 10, "currency": "EUR"})),
            now,
        );
        state.record(
            &s,
            at(50),
            &props(json!({"total": 5.5, "currency": "EUR"})),
            now,
        );
        state.record(
            &s,
            at(60),
            &props(json!({"revenue": 99, "currency": "USD"})),
            now,
        );
        state.record(&s, at(70), &props(json!({"currency": "EUR"})), now);
        // Out of the window when it arrives: kept only in case the clock goes back.
        state.record(
            &s,
            at(-30),
            &props(json!({"revenue": 7, "currency": "EUR"})),
            now,
        );
        let times: Vec<_> = state.held.iter().map(|h| h.at).collect();
        assert_eq!(times, [at(-30), at(50), at(90)]);
        let reading = state.reading(&s);
        assert_eq!((reading.count, reading.sum), (2, 15.5));
        state.advance(Window::hours(2), at(171));
        assert_eq!(state.reading(&s).sum, 10.0);
        state.advance(Window::hours(2), at(211));
        assert_eq!(
            state.reading(&s).sum,
            0.0,
            "an empty window sums to exactly 0"
        );
    }

    #[test]
    fn sums_stay_exact_to_rounding_however_many_numbers_pass_through() {
        let s = spec(Some(Window::minutes(10)), Keep::Numbers(vec!["v".into()]));
        let mut state = StreamState::default();
        for minute in 0..10_000i64 {
            let v = if minute % 2 == 0 { 1e12 } else { 0.1 };
            state.record(&s, at(minute), &props(json!({ "v": v })), at(minute));
        }
        // Inside (9989, 9999]: five of each.
        let expected = 5.0 * 1e12 + 5.0 * 0.1;
        let sum = state.reading(&s).sum;
        assert!((sum - expected).abs() < 1e-3, "{sum} vs {expected}");
    }

    #[test]
    fn the_largest_group_shrinks_with_the_window_and_names_a_group_of_that_size() {
        let s = spec(Some(Window::hours(1)), Keep::Per("category".into()));
        let mut state = StreamState::default();
        let view = |state: &mut StreamState, minute: i64, category: Value| {
            state.record(
                &s,
                at(minute),
                &props(json!({ "category": category })),
                at(minute),
            );
        };
        view(&mut state, 0, json!("Shoes"));
        view(&mut state, 1, json!("Shoes"));
        view(&mut state, 2, json!("Hats"));
        view(&mut state, 3, json!(7));
        view(&mut state, 4, json!(7.0));
        view(&mut state, 5, json!(["not", "a", "group"]));
        let reading = state.reading(&s);
        assert_eq!((reading.count, reading.group), (2, Some(&json!("Shoes"))));
        state.advance(Window::hours(1), at(61));
        let reading = state.reading(&s);
        assert_eq!(
            (reading.count, reading.group),
            (2, Some(&json!(7))),
            "7 and 7.0 are one group"
        );
        state.advance(Window::hours(1), at(65));
        assert_eq!(state.reading(&s).count, 0);
        assert_eq!(state.reading(&s).group, None);
        state.advance(Window::hours(1), at(30));
        assert_eq!(state.reading(&s).count, 2, "back after a clock set back");
    }

    #[test]
    fn all_time_streams_keep_counting_and_the_last_time_is_the_latest() {
        let s = spec(None, Keep::Last);
        let mut state = StreamState::default();
        state.record(&s, at(10), &Map::new(), at(10));
        state.record(&s, at(5), &Map::new(), at(11));
        let reading = state.reading(&s);
        assert_eq!((reading.count, reading.last), (2, Some(at(10))));
        assert!(state.held.is_empty(), "nothing held for an all-time stream");
    }

    #[test]
    fn a_state_survives_a_round_trip_through_its_saved_form() {
        let s = spec(Some(Window::days(7)), Keep::Per("category".into()));
        let mut state = StreamState::default();
        for (minute, category) in [(0, "Shoes"), (1, "Hats"), (2, "Shoes")] {
            state.record(
                &s,
                at(minute),
                &props(json!({"category": category})),
                at(minute),
            );
        }
        let saved = serde_json::to_string(&state).unwrap();
        let restored: StreamState = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored, state);
        assert!(saved.len() < 400, "{saved}");
    }
}
