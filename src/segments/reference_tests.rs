//! Randomised checks of the indexed engine against a naive evaluator that scans every
//! event for every rule, written from the documented semantics and sharing no code
//! with `evaluate.rs` except `Comparison::holds` (the threshold arithmetic itself).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::*;

/// SplitMix64: tiny, seedable, and good enough to shake out disagreements.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: [&str; 5] = [
    "Product Viewed",
    "Product Added",
    "Order Completed",
    "Product Added to Wishlist",
    "Application Opened",
];
const WINDOWS: [Window; 7] = [
    Window::minutes(30),
    Window::hours(1),
    Window::hours(6),
    Window::hours(24),
    Window::days(3),
    Window::weeks(1),
    Window::days(30),
];
const KEYS: [&str; 7] = [
    "category", "price", "brand", "revenue", "total", "tags", "missing",
];

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn operand(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!("Shoes"),
        json!("Hats"),
        json!("Bags"),
        json!("Acme"),
        json!("sale"),
        json!("Sho"),
        json!(12),
        json!(12.0),
        json!(50.5),
        json!(true),
    ])
    .clone()
}

#[derive(Clone)]
struct Flat {
    name: &'static str,
    t: DateTime<Utc>,
    props: Map<String, Value>,
}

fn random_event(rng: &mut Rng) -> Flat {
    // A quarter of events land on a few shared instants, so equal timestamps across
    // names (the edge of "since") are common; the rest spread over 35 days back and
    // up to a week ahead of `base`.
    let minutes = if rng.chance(25) {
        -(rng.below(6) as i64) * 6 * 60
    } else {
        rng.below(4_000) as i64 * 15 - 35 * 24 * 60
    };
    let mut props = Map::new();
    if rng.chance(80) {
        props.insert(
            "category".into(),
            json!(rng.pick(&["Shoes", "Hats", "Bags"])),
        );
    }
    match rng.below(10) {
        0 => {
            props.insert("price".into(), json!("12"));
        }
        1..=6 => {
            props.insert("price".into(), json!(rng.below(400) as f64 / 2.0));
        }
        7 => {
            props.insert("price".into(), json!(12));
        }
        _ => {}
    }
    if rng.chance(50) {
        props.insert("revenue".into(), json!(rng.below(1_000) as f64 / 2.0));
    }
    if rng.chance(50) {
        props.insert("total".into(), json!(rng.below(1_000)));
    }
    match rng.below(4) {
        0 => {
            props.insert("brand".into(), json!("Acme"));
        }
        1 => {
            props.insert("brand".into(), Value::Null);
        }
        _ => {}
    }
    if rng.chance(30) {
        props.insert("tags".into(), json!(["sale", 12]));
    }
    Flat {
        name: NAMES[rng.below(NAMES.len() as u64) as usize],
        t: base() + TimeDelta::minutes(minutes),
        props,
    }
}

fn random_condition(rng: &mut Rng) -> Condition {
    let key = *rng.pick(&KEYS);
    let test = match rng.below(7) {
        0 => Test::Equals(operand(rng)),
        1 => Test::NotEquals(operand(rng)),
        2 => Test::In((0..1 + rng.below(3)).map(|_| operand(rng)).collect()),
        3 => Test::NotIn((0..1 + rng.below(3)).map(|_| operand(rng)).collect()),
        4 => Test::Contains(operand(rng)),
        5 => Test::Exists(rng.chance(50)),
        _ => Test::Compare(Comparison {
            op: *rng.pick(&CompareOp::ALL),
            value: rng.below(400) as f64 / 2.0,
        }),
    };
    Condition::new(key, test)
}

fn filters(rng: &mut Rng) -> Vec<Condition> {
    let n = [0, 0, 0, 1, 2][rng.below(5) as usize];
    (0..n).map(|_| random_condition(rng)).collect()
}

fn query(rng: &mut Rng) -> EventQuery {
    EventQuery {
        event: rng.pick(&NAMES).to_string(),
        within: rng.chance(70).then(|| *rng.pick(&WINDOWS)),
        filters: filters(rng),
    }
}

fn random_rule(rng: &mut Rng, depth: usize, segments: &[String]) -> Rule {
    if depth < 3 && rng.chance(30) {
        return match rng.below(3) {
            0 => Rule::All(
                (0..1 + rng.below(3))
                    .map(|_| random_rule(rng, depth + 1, segments))
                    .collect(),
            ),
            1 => Rule::Any(
                (0..1 + rng.below(3))
                    .map(|_| random_rule(rng, depth + 1, segments))
                    .collect(),
            ),
            _ => Rule::Not(Box::new(random_rule(rng, depth + 1, segments))),
        };
    }
    let count_cmp = |rng: &mut Rng| Comparison {
        op: *rng.pick(&CompareOp::ALL),
        value: rng.below(5) as f64,
    };
    let sum_cmp = |rng: &mut Rng| Comparison {
        op: *rng.pick(&CompareOp::ALL),
        value: rng.below(1_600) as f64 / 2.0,
    };
    let properties = |rng: &mut Rng| match rng.below(3) {
        0 => vec!["revenue".to_owned(), "total".to_owned()],
        1 => vec!["price".to_owned()],
        _ => vec!["total".to_owned()],
    };
    match rng.below(if segments.is_empty() { 9 } else { 10 }) {
        0 | 1 => Rule::Count(CountRule {
            query: query(rng),
            per: rng
                .chance(30)
                .then(|| rng.pick(&["category", "price", "brand"]).to_string()),
            compare: count_cmp(rng),
        }),
        2 => Rule::Sum(AggregateRule {
            query: query(rng),
            property: properties(rng),
            compare: sum_cmp(rng),
        }),
        3 => Rule::Average(AggregateRule {
            query: query(rng),
            property: properties(rng),
            compare: sum_cmp(rng),
        }),
        4 => Rule::Last(LastRule {
            event: rng.pick(&NAMES).to_string(),
            filters: filters(rng),
            older_than: *rng.pick(&WINDOWS),
        }),
        5 => Rule::InactiveFor(*rng.pick(&WINDOWS)),
        6 => {
            let event = *rng.pick(&NAMES);
            let after = loop {
                let after = *rng.pick(&NAMES);
                if after != event {
                    break after;
                }
            };
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: event.into(),
                filters: filters(rng),
                after: after.into(),
                after_filters: filters(rng),
            })
        }
        7 => Rule::Trait(random_condition(rng)),
        8 => Rule::Permission(PermissionRule {
            channel: rng.pick(&["push", "email"]).to_string(),
            is: {
                let mut is: Vec<PermissionState> = PermissionState::ALL
                    .into_iter()
                    .filter(|_| rng.chance(50))
                    .collect();
                is.push(*rng.pick(&PermissionState::ALL));
                is
            },
        }),
        _ => Rule::Segment(rng.pick(segments).clone()),
    }
}

fn random_traits(rng: &mut Rng) -> Map<String, Value> {
    let mut traits = Map::new();
    for key in KEYS {
        if rng.chance(40) {
            traits.insert(key.into(), operand(rng));
        }
    }
    traits
}

fn random_permissions(rng: &mut Rng) -> BTreeMap<String, PermissionState> {
    let mut permissions = BTreeMap::new();
    for channel in ["push", "email"] {
        if rng.chance(70) {
            permissions.insert(channel.to_owned(), *rng.pick(&PermissionState::ALL));
        }
    }
    permissions
}

/// The user as the naive evaluator sees it: a flat, unsorted list.
struct Naive<'a> {
    events: &'a [Flat],
    traits: &'a Map<String, Value>,
    permissions: &'a BTreeMap<String, PermissionState>,
    members: &'a BTreeSet<String>,
    now: DateTime<Utc>,
}

fn naive_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn naive_test(test: &Test, value: Option<&Value>) -> bool {
    let present = value.filter(|v| !v.is_null());
    match test {
        Test::Equals(x) => value.is_some_and(|v| naive_eq(v, x)),
        Test::NotEquals(x) => !naive_test(&Test::Equals(x.clone()), value),
        Test::In(xs) => xs
            .iter()
            .any(|x| naive_test(&Test::Equals(x.clone()), value)),
        Test::NotIn(xs) => !naive_test(&Test::In(xs.clone()), value),
        Test::Contains(x) => match value {
            Some(Value::String(s)) => x.as_str().is_some_and(|x| s.contains(x)),
            Some(Value::Array(items)) => items.iter().any(|i| naive_eq(i, x)),
            _ => false,
        },
        Test::Exists(wanted) => present.is_some() == *wanted,
        Test::Compare(c) => value.and_then(Value::as_f64).is_some_and(|v| c.holds(v)),
    }
}

impl Naive<'_> {
    fn within(&self, t: DateTime<Utc>, window: Option<Window>) -> bool {
        window.is_none_or(|w| self.now.signed_duration_since(t) < TimeDelta::seconds(w.seconds()))
    }

    fn older(&self, t: DateTime<Utc>, w: Window) -> bool {
        self.now.signed_duration_since(t) >= TimeDelta::seconds(w.seconds())
    }

    fn select(&self, name: &str, filters: &[Condition], within: Option<Window>) -> Vec<&Flat> {
        self.events
            .iter()
            .filter(|e| e.name == name && self.within(e.t, within))
            .filter(|e| {
                filters
                    .iter()
                    .all(|c| naive_test(&c.test, e.props.get(&c.key)))
            })
            .collect()
    }

    fn holds(&self, rule: &Rule) -> bool {
        match rule {
            Rule::All(rules) => rules.iter().all(|r| self.holds(r)),
            Rule::Any(rules) => rules.iter().any(|r| self.holds(r)),
            Rule::Not(r) => !self.holds(r),
            Rule::Count(c) => {
                let events = self.select(&c.query.event, &c.query.filters, c.query.within);
                let n = match &c.per {
                    None => events.len() as u64,
                    Some(per) => {
                        let mut groups: Vec<(Value, u64)> = Vec::new();
                        for e in &events {
                            let Some(v) = e
                                .props
                                .get(per)
                                .filter(|v| v.is_string() || v.is_number() || v.is_boolean())
                            else {
                                continue;
                            };
                            match groups.iter_mut().find(|(g, _)| naive_eq(g, v)) {
                                Some((_, n)) => *n += 1,
                                None => groups.push((v.clone(), 1)),
                            }
                        }
                        groups.iter().map(|(_, n)| *n).max().unwrap_or(0)
                    }
                };
                c.compare.holds(n as f64)
            }
            Rule::Sum(a) | Rule::Average(a) => {
                let values: Vec<f64> = self
                    .select(&a.query.event, &a.query.filters, a.query.within)
                    .iter()
                    .filter_map(|e| a.property.iter().find_map(|k| e.props.get(k)?.as_f64()))
                    .collect();
                let sum: f64 = values.iter().sum();
                match rule {
                    Rule::Sum(_) => a.compare.holds(sum),
                    _ => !values.is_empty() && a.compare.holds(sum / values.len() as f64),
                }
            }
            Rule::Last(l) => self
                .select(&l.event, &l.filters, None)
                .iter()
                .map(|e| e.t)
                .max()
                .is_some_and(|t| self.older(t, l.older_than)),
            Rule::InactiveFor(w) => self
                .events
                .iter()
                .map(|e| e.t)
                .max()
                .is_some_and(|t| self.older(t, *w)),
            Rule::NoneSinceLast(s) => match self
                .select(&s.after, &s.after_filters, None)
                .iter()
                .map(|e| e.t)
                .max()
            {
                None => false,
                Some(last) => !self
                    .select(&s.event, &s.filters, None)
                    .iter()
                    .any(|e| e.t >= last),
            },
            Rule::Trait(c) => naive_test(&c.test, self.traits.get(&c.key)),
            Rule::Permission(p) => p.is.contains(
                self.permissions
                    .get(&p.channel)
                    .unwrap_or(&PermissionState::Subscribed),
            ),
            Rule::Segment(id) => self.members.contains(id),
        }
    }
}

fn indexed(events: &[Flat]) -> UserHistory {
    let mut h = UserHistory::new();
    for e in events {
        h.record(e.name, e.t, e.props.clone());
    }
    h
}

fn definition(id: &str, rule: Rule) -> SegmentDefinition {
    SegmentDefinition {
        id: id.into(),
        name: id.into(),
        description: None,
        rule,
    }
}

#[test]
fn the_index_agrees_with_a_naive_scan_on_random_histories() {
    let mut rng = Rng(0x5EED);
    let segments = vec!["seg_a".to_owned(), "seg_b".to_owned()];
    let (mut checked, mut inside) = (0usize, 0usize);
    for _ in 0..400 {
        let events: Vec<Flat> = (0..rng.below(40)).map(|_| random_event(&mut rng)).collect();
        let mut h = indexed(&events);
        h.traits = random_traits(&mut rng);
        h.permissions = random_permissions(&mut rng);
        h.memberships = segments
            .iter()
            .filter(|_| rng.chance(50))
            .cloned()
            .collect();
        let rules: Vec<Rule> = (0..10)
            .map(|_| random_rule(&mut rng, 0, &segments))
            .collect();
        let mut nows = vec![
            base(),
            base() - TimeDelta::days(10),
            base() + TimeDelta::days(40),
        ];
        // Land exactly on window edges: an event's time plus a window the rules use.
        for _ in 0..3 {
            if let Some(e) = events.get(rng.below(events.len().max(1) as u64) as usize) {
                nows.push(e.t + rng.pick(&WINDOWS).as_delta());
            }
        }
        for rule in &rules {
            let def = definition("subject", rule.clone());
            assert_eq!(def.validate(), Ok(()), "{rule:?}");
            for &now in &nows {
                let naive = Naive {
                    events: &events,
                    traits: &h.traits,
                    permissions: &h.permissions,
                    members: &h.memberships,
                    now,
                }
                .holds(rule);
                let fast = evaluate(&def, &h, now);
                assert_eq!(
                    fast,
                    naive,
                    "now {now}\nrule {}\nevents {}",
                    def.rule.to_value(),
                    dump(&events)
                );
                assert_eq!(
                    explain(&def, &h, now).matched,
                    fast,
                    "explain disagrees: {}",
                    def.rule.to_value()
                );
                checked += 1;
                inside += usize::from(fast);
            }
        }
    }
    // Guards against a generator so lopsided that agreement proves nothing.
    assert!(
        inside > checked / 5 && inside < checked * 4 / 5,
        "{inside} of {checked} inside"
    );
}

fn dump(events: &[Flat]) -> String {
    events
        .iter()
        .map(|e| format!("\n  {} {} {}", e.t, e.name, Value::Object(e.props.clone())))
        .collect()
}

/// Builds a random acyclic set (each segment may refer to earlier ones), handed to
/// `SegmentSet::new` shuffled so it must find the order itself.
fn random_set(rng: &mut Rng) -> (Vec<SegmentDefinition>, SegmentSet) {
    let mut defs: Vec<SegmentDefinition> = Vec::new();
    for i in 0..8 {
        let earlier: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
        defs.push(definition(&format!("s{i}"), random_rule(rng, 0, &earlier)));
    }
    let mut shuffled = defs.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let set = SegmentSet::new(shuffled).expect("random sets are valid");
    (defs, set)
}

#[test]
fn incremental_refresh_matches_a_naive_full_evaluation() {
    let mut rng = Rng(0xC0FFEE);
    let mut steps = 0;
    for _ in 0..60 {
        let (defs, set) = random_set(&mut rng);
        let mut stream: Vec<Flat> = (0..60).map(|_| random_event(&mut rng)).collect();
        stream.sort_by_key(|e| e.t);
        // Mostly in order, sometimes late: arrival order is not timestamp order.
        for i in 0..stream.len() {
            if rng.chance(20) {
                let j = rng.below(stream.len() as u64) as usize;
                stream.swap(i, j);
            }
        }
        // The device's summary, kept up to date one change at a time, and the history
        // the server would fold from scratch.
        let mut u = UserSummary::new(set.catalog());
        let mut h = UserHistory::new();
        let mut now = base() - TimeDelta::days(36);
        let mut latest = now;
        set.refresh(&mut u, now, Trigger::Everything);
        let mut seen: Vec<Flat> = Vec::new();
        for e in stream {
            let before = now;
            now = if rng.chance(10) {
                // The clock set back, to less than windows keep events for before the
                // latest time seen.
                (now - TimeDelta::minutes(rng.below(2_800) as i64))
                    .max(latest - TimeDelta::minutes(2_800))
            } else {
                now.max(e.t) + TimeDelta::minutes(rng.below(600) as i64)
            };
            latest = latest.max(now);
            if now != before {
                set.refresh(&mut u, now, Trigger::Clock);
            }
            if rng.chance(10) {
                u.traits = random_traits(&mut rng);
                set.refresh(&mut u, now, Trigger::Traits);
            }
            if rng.chance(10) {
                u.permissions = random_permissions(&mut rng);
                set.refresh(&mut u, now, Trigger::Permissions);
            }
            u.record(set.catalog(), e.name, e.t, &e.props, now);
            h.record(e.name, e.t, e.props.clone());
            seen.push(e.clone());
            set.refresh(&mut u, now, Trigger::Event(e.name));

            let mut expected = BTreeSet::new();
            for def in &defs {
                let naive = Naive {
                    events: &seen,
                    traits: &u.traits,
                    permissions: &u.permissions,
                    members: &expected,
                    now,
                };
                if naive.holds(&def.rule) {
                    expected.insert(def.id.clone());
                }
            }
            assert_eq!(
                u.memberships,
                expected,
                "after {} at {now}\n{}",
                e.name,
                defs.iter()
                    .map(|d| format!("{}: {}", d.id, d.rule.to_value()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            h.traits = u.traits.clone();
            h.permissions = u.permissions.clone();
            h.memberships = u.memberships.clone();
            assert_eq!(set.evaluate_all(&h, now), expected);
            steps += 1;
        }
    }
    assert_eq!(steps, 60 * 60);
}

/// A heavy user: 10,000 events over the last year.
fn heavy_user() -> UserHistory {
    let mut rng = Rng(10_000);
    let mut h = UserHistory::new();
    let categories = ["Shoes", "Hats", "Bags", "Shirts"];
    for i in 0..10_000i64 {
        let t = base() - TimeDelta::minutes(365 * 24 * 60 - i * 52);
        let name = match rng.below(20) {
            0..=11 => "Product Viewed",
            12..=15 => "Application Opened",
            16..=17 => "Product Added",
            18 => "Product Added to Wishlist",
            _ => "Order Completed",
        };
        let props = json!({"category": rng.pick(&categories), "price": rng.below(200), "revenue": rng.below(300)});
        h.record(name, t, props.as_object().unwrap().clone());
    }
    h
}

#[test]
fn builtins_on_a_heavy_user_touch_few_entries() {
    let h = heavy_user();
    let set = SegmentSet::new(templates::builtin()).unwrap();
    let (members, record) = history::probe::during(|| set.evaluate_all(&h, base()));
    // Only the almost-buyer's week of views and a year of orders are scanned.
    assert!(record.scanned < 1_200, "scanned {} entries", record.scanned);
    assert!(members.contains("repeat_customer"));
    assert!(members.contains("high_spender"));
}

/// Timing on the reference workload; run with
/// `cargo test --release --lib segments::reference_tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing: meaningful only in release builds"]
fn timing() {
    let h = heavy_user();
    let set = SegmentSet::new(templates::builtin()).unwrap();
    let runs = 200;
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(set.evaluate_all(&h, base()));
    }
    let full = start.elapsed() / runs;
    let mut u = set.summarize(&h, base());
    set.refresh(&mut u, base(), Trigger::Everything);
    let start = Instant::now();
    for i in 0..runs {
        let now = base() + TimeDelta::seconds(i64::from(i));
        u.record(set.catalog(), "Product Added", now, &Map::new(), now);
        std::hint::black_box(set.refresh(&mut u, now, Trigger::Event("Product Added")));
    }
    let incremental = start.elapsed() / runs;
    println!("full evaluation of {} built-ins over 10,000 events: {full:?}; after one event: {incremental:?}", set.len());
    assert!(full.as_millis() < 20);
    assert!(incremental.as_micros() < 1_000);
}
