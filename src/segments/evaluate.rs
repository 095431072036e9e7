//! Deciding membership. Each leaf rule first measures a [`Fact`] from the user's summary (its
//! streams, traits, permissions), then decides from it; `explain` words the same facts, so an
//! explanation can never disagree with the decision it explains.
//!
//! Time: an event inside a window is one strictly after `now - window`; "older than"
//! is the complement (at or before `now - window`). Events timestamped after `now` (a
//! device clock set back) are therefore inside every window and older than nothing:
//! they read as happening now. Orderings between events ("since the last X") use the
//! events' own timestamps, which do not depend on `now`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Number, Value};

use super::definition::*;
use super::duration::Window;
use super::history::UserHistory;
use super::summary::{Catalog, Plan, UserSummary};

/// Whether the user described by `history` is in the segment at `now`. Segment
/// references read `history.memberships`.
pub fn evaluate(definition: &SegmentDefinition, history: &UserHistory, now: DateTime<Utc>) -> bool {
    let mut catalog = Catalog::default();
    let plan = catalog.plan(&definition.rule);
    let summary = UserSummary::fold(&catalog, history, now);
    Ctx {
        summary: &summary,
        catalog: &catalog,
        members: &summary.memberships,
        now,
    }
    .holds(&definition.rule, &plan)
}

pub(crate) struct Ctx<'a> {
    pub summary: &'a UserSummary,
    pub catalog: &'a Catalog,
    pub members: &'a BTreeSet<String>,
    pub now: DateTime<Utc>,
}

/// What a leaf rule measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fact<'a> {
    /// A count, and with `per` the value of the largest group.
    Count {
        value: u64,
        group: Option<&'a Value>,
    },
    /// A sum or average; `None` when an average has no values to average.
    Aggregate(Option<f64>),
    /// When the last matching event happened.
    Last(Option<DateTime<Utc>>),
    /// The newest event of any name.
    Newest(Option<(DateTime<Utc>, &'a str)>),
    /// The last `after` event, and the last `event`, when it is at or after it.
    Since {
        after: Option<DateTime<Utc>>,
        since: Option<DateTime<Utc>>,
    },
    Trait(Option<&'a Value>),
    Permission(Option<PermissionState>),
    Member(bool),
}

impl<'a> Ctx<'a> {
    pub fn holds(&self, rule: &Rule, plan: &Plan) -> bool {
        match (rule, plan) {
            (Rule::All(rules), Plan::All(plans)) => {
                rules.iter().zip(plans).all(|(r, p)| self.holds(r, p))
            }
            (Rule::Any(rules), Plan::Any(plans)) => {
                rules.iter().zip(plans).any(|(r, p)| self.holds(r, p))
            }
            (Rule::Not(rule), Plan::Not(plan)) => !self.holds(rule, plan),
            (leaf, Plan::Leaf(streams)) => self.decide(leaf, &self.measure(leaf, streams)),
            _ => unreachable!("a plan has the shape of its rule"),
        }
    }

    /// Measures a leaf rule from its streams; combinators have no fact of their own.
    pub fn measure(&self, rule: &Rule, streams: &[usize]) -> Fact<'a> {
        let s = self.summary;
        let reading = |i: usize| s.reading(self.catalog, streams[i]);
        match rule {
            Rule::Count(_) => {
                let r = reading(0);
                Fact::Count {
                    value: r.count,
                    group: r.group,
                }
            }
            Rule::Sum(_) => Fact::Aggregate(Some(reading(0).sum)),
            Rule::Average(_) => {
                let r = reading(0);
                Fact::Aggregate((r.count > 0).then(|| r.sum / r.count as f64))
            }
            Rule::Last(_) => Fact::Last(reading(0).last),
            Rule::InactiveFor(_) => Fact::Newest(s.newest()),
            Rule::NoneSinceLast(_) => {
                let after = reading(0).last;
                let since = reading(1)
                    .last
                    .filter(|event| after.is_some_and(|after| *event >= after));
                Fact::Since { after, since }
            }
            Rule::Trait(condition) => Fact::Trait(s.traits.get(&condition.key)),
            Rule::Permission(p) => Fact::Permission(s.permission(&p.channel)),
            Rule::Segment(id) => Fact::Member(self.members.contains(id)),
            Rule::All(_) | Rule::Any(_) | Rule::Not(_) => {
                unreachable!("combinators are decided from their children")
            }
        }
    }

    pub fn decide(&self, rule: &Rule, fact: &Fact) -> bool {
        match (rule, fact) {
            (Rule::Count(c), Fact::Count { value, .. }) => c.compare.holds(*value as f64),
            (Rule::Sum(a) | Rule::Average(a), Fact::Aggregate(v)) => {
                v.is_some_and(|v| a.compare.holds(v))
            }
            (Rule::Last(l), Fact::Last(at)) => {
                at.is_some_and(|t| older_than(t, l.older_than, self.now))
            }
            (Rule::InactiveFor(w), Fact::Newest(newest)) => {
                newest.is_some_and(|(t, _)| older_than(t, *w, self.now))
            }
            (Rule::NoneSinceLast(_), Fact::Since { after, since }) => {
                after.is_some() && since.is_none()
            }
            (Rule::Trait(c), Fact::Trait(value)) => test_holds(&c.test, *value),
            (Rule::Permission(p), Fact::Permission(state)) => {
                // A channel never set is subscribed, as everywhere consent is read.
                p.is.contains(&state.unwrap_or(PermissionState::Subscribed))
            }
            (Rule::Segment(_), Fact::Member(member)) => *member,
            _ => unreachable!("measure returns the fact kind of its rule"),
        }
    }
}

/// At or before `now - window`; never true of an event after `now`.
pub(crate) fn older_than(t: DateTime<Utc>, window: Window, now: DateTime<Utc>) -> bool {
    window.boundary(now).is_some_and(|boundary| t <= boundary)
}

/// Whether a property or trait value passes a test. Missing values fail every test
/// except the negative ones (`not_equals`, `not_in`, `exists: false`).
pub(crate) fn test_holds(test: &Test, value: Option<&Value>) -> bool {
    match test {
        Test::Equals(expected) => value.is_some_and(|v| json_eq(v, expected)),
        Test::NotEquals(expected) => !value.is_some_and(|v| json_eq(v, expected)),
        Test::In(list) => value.is_some_and(|v| list.iter().any(|x| json_eq(v, x))),
        Test::NotIn(list) => !value.is_some_and(|v| list.iter().any(|x| json_eq(v, x))),
        Test::Contains(needle) => match (value, needle) {
            (Some(Value::String(hay)), Value::String(needle)) => hay.contains(needle.as_str()),
            (Some(Value::Array(items)), needle) => items.iter().any(|x| json_eq(x, needle)),
            _ => false,
        },
        Test::Exists(wanted) => value.is_some_and(|v| !v.is_null()) == *wanted,
        Test::Compare(c) => value.and_then(Value::as_f64).is_some_and(|v| c.holds(v)),
    }
}

/// JSON equality where `1` equals `1.0` (apps send prices both ways), but large
/// integers are compared exactly rather than through a lossy float.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    let int = |n: &Number| n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (int(x), int(y)) {
        (Some(a), Some(b)) => a == b,
        _ => x.as_f64() == y.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::{json, Map};

    use super::super::history::probe;
    use super::super::summary::{Catalog, Plan, UserSummary};
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn ago(minutes: i64) -> DateTime<Utc> {
        now() - TimeDelta::minutes(minutes)
    }

    const HOUR: i64 = 60;
    const DAY: i64 = 24 * HOUR;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn def(rule: Rule) -> SegmentDefinition {
        SegmentDefinition {
            id: "s".into(),
            name: "S".into(),
            description: None,
            rule,
        }
    }

    fn holds(rule: Rule, h: &UserHistory) -> bool {
        evaluate(&def(rule), h, now())
    }

    /// Measures one leaf rule over `h` at `now()` and hands the fact to `check`.
    fn with_fact<T>(rule: &Rule, h: &UserHistory, check: impl FnOnce(Fact) -> T) -> T {
        let mut catalog = Catalog::default();
        let Plan::Leaf(streams) = catalog.plan(rule) else {
            panic!("a leaf rule")
        };
        let summary = UserSummary::fold(&catalog, h, now());
        let ctx = Ctx {
            summary: &summary,
            catalog: &catalog,
            members: &summary.memberships,
            now: now(),
        };
        check(ctx.measure(rule, &streams))
    }

    fn count(event: &str, within: Option<Window>, cmp: Comparison) -> Rule {
        let mut q = EventQuery::new(event);
        q.within = within;
        Rule::count(q, cmp)
    }

    fn history(events: &[(&str, i64, Value)]) -> UserHistory {
        let mut h = UserHistory::new();
        for (name, minutes_ago, p) in events {
            h.record(name, ago(*minutes_ago), props(p.clone()));
        }
        h
    }

    #[test]
    fn window_includes_events_strictly_after_its_start() {
        let rule = || {
            count(
                "Product Added",
                Some(Window::hours(24)),
                Comparison::at_least(1.0),
            )
        };
        assert!(holds(
            rule(),
            &history(&[("Product Added", DAY - 1, json!({}))])
        ));
        assert!(
            !holds(rule(), &history(&[("Product Added", DAY, json!({}))])),
            "exactly 24h old is outside"
        );
        assert!(!holds(
            rule(),
            &history(&[("Product Added", DAY + 1, json!({}))])
        ));
        assert!(holds(rule(), &history(&[("Product Added", 0, json!({}))])));
        let seconds = history(&[]);
        let mut h = seconds;
        h.record(
            "Product Added",
            now() - TimeDelta::hours(24) + TimeDelta::seconds(1),
            Map::new(),
        );
        assert!(holds(rule(), &h), "one second inside");
    }

    #[test]
    fn counts_compare_at_and_around_thresholds() {
        let h = history(&[
            ("A", 10, json!({})),
            ("A", 20, json!({})),
            ("A", 3 * DAY, json!({})),
            ("B", 1, json!({})),
        ]);
        let in_day = Some(Window::days(1));
        assert!(holds(count("A", in_day, Comparison::at_least(2.0)), &h));
        assert!(!holds(count("A", in_day, Comparison::at_least(3.0)), &h));
        assert!(holds(count("A", in_day, Comparison::at_most(2.0)), &h));
        assert!(!holds(count("A", in_day, Comparison::at_most(1.0)), &h));
        assert!(holds(count("A", in_day, Comparison::exactly(2.0)), &h));
        assert!(!holds(count("A", in_day, Comparison::exactly(3.0)), &h));
        assert!(
            holds(count("A", None, Comparison::exactly(3.0)), &h),
            "no window is all time"
        );
        assert!(holds(count("A", None, Comparison::more_than(2.0)), &h));
        assert!(!holds(count("A", None, Comparison::more_than(3.0)), &h));
        assert!(holds(count("A", None, Comparison::less_than(4.0)), &h));
        assert!(!holds(count("A", None, Comparison::less_than(3.0)), &h));
        assert!(
            holds(count("Never", None, Comparison::exactly(0.0)), &h),
            "never did X"
        );
        assert!(!holds(count("B", None, Comparison::exactly(0.0)), &h));
    }

    #[test]
    fn filters_select_events_by_property() {
        let h = history(&[
            (
                "V",
                1,
                json!({"category": "Shoes", "brand": "Acme", "price": 50, "tags": ["sale", "new"]}),
            ),
            (
                "V",
                2,
                json!({"category": "Hats", "price": 20.0, "brand": null}),
            ),
            ("V", 3, json!({"category": "Shoe care", "price": "15"})),
        ]);
        let n = |c: Condition| {
            let rule = Rule::count(EventQuery::new("V").filter(c), Comparison::at_least(0.0));
            with_fact(&rule, &h, |fact| match fact {
                Fact::Count { value, .. } => value,
                other => panic!("{other:?}"),
            })
        };
        let c = |key: &str, test: Test| Condition::new(key, test);
        assert_eq!(n(c("category", Test::Equals(json!("Shoes")))), 1);
        assert_eq!(n(c("category", Test::NotEquals(json!("Shoes")))), 2);
        assert_eq!(
            n(c("brand", Test::NotEquals(json!("Acme")))),
            2,
            "missing and null differ from Acme"
        );
        assert_eq!(
            n(c("category", Test::In(vec![json!("Shoes"), json!("Hats")]))),
            2
        );
        assert_eq!(
            n(c(
                "category",
                Test::NotIn(vec![json!("Shoes"), json!("Hats")])
            )),
            1
        );
        assert_eq!(
            n(c("category", Test::Contains(json!("Shoe")))),
            2,
            "substring, case-sensitive"
        );
        assert_eq!(n(c("category", Test::Contains(json!("shoe")))), 0);
        assert_eq!(
            n(c("tags", Test::Contains(json!("sale")))),
            1,
            "element of a list"
        );
        assert_eq!(n(c("price", Test::Contains(json!(5)))), 0);
        assert_eq!(n(c("brand", Test::Exists(true))), 1, "null does not exist");
        assert_eq!(n(c("brand", Test::Exists(false))), 2);
        assert_eq!(n(c("price", Test::Equals(json!(20)))), 1, "20 equals 20.0");
        assert_eq!(
            n(c("price", Test::Compare(Comparison::at_least(20.0)))),
            2,
            "a numeric string is not a number"
        );
        assert_eq!(n(c("price", Test::Compare(Comparison::more_than(20.0)))), 1);
        assert_eq!(n(c("price", Test::Compare(Comparison::at_most(20.0)))), 1);
        assert_eq!(n(c("price", Test::Compare(Comparison::less_than(20.0)))), 0);
        assert_eq!(n(c("missing", Test::Compare(Comparison::at_most(1e9)))), 0);
    }

    #[test]
    fn json_equality_is_numeric_but_exact_for_large_integers() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!(-3), &json!(-3.0)));
        assert!(!json_eq(
            &json!(9_007_199_254_740_993u64),
            &json!(9_007_199_254_740_992u64)
        ));
        assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_eq(&json!("1"), &json!(1)));
        assert!(!json_eq(&json!(true), &json!(1)));
    }

    #[test]
    fn per_counts_the_largest_group() {
        let h = history(&[
            ("V", 1, json!({"category": "Shoes"})),
            ("V", 2, json!({"category": "Hats"})),
            ("V", 3, json!({"category": "Shoes"})),
            ("V", 4, json!({"category": "Hats"})),
            ("V", 5, json!({"category": "Hats"})),
            ("V", 6, json!({})),
            ("V", 7, json!({"category": null})),
            ("V", 8 * DAY, json!({"category": "Shoes"})),
        ]);
        let per = |within: Option<Window>, cmp: Comparison| {
            Rule::Count(CountRule {
                query: EventQuery {
                    event: "V".into(),
                    within,
                    filters: vec![],
                },
                per: Some("category".into()),
                compare: cmp,
            })
        };
        let week = Some(Window::days(7));
        assert!(holds(per(week, Comparison::at_least(3.0)), &h));
        assert!(!holds(per(week, Comparison::at_least(4.0)), &h));
        assert!(
            holds(per(None, Comparison::exactly(3.0)), &h),
            "Shoes and Hats tie at 3"
        );
        with_fact(&per(week, Comparison::at_least(1.0)), &h, |fact| {
            assert_eq!(
                fact,
                Fact::Count {
                    value: 3,
                    group: Some(&json!("Hats"))
                }
            )
        });
        with_fact(&per(None, Comparison::at_least(1.0)), &h, |fact| {
            assert_eq!(
                fact,
                Fact::Count {
                    value: 3,
                    group: Some(&json!("Hats"))
                },
                "on a tie, the group that got there first (Hats' third view precedes Shoes')"
            )
        });
        assert!(
            holds(per(Some(Window::minutes(1)), Comparison::exactly(0.0)), &h),
            "no groups counts 0"
        );
        let numbers = history(&[
            ("V", 1, json!({"size": 42})),
            ("V", 2, json!({"size": 42.0})),
            ("V", 3, json!({"size": "42"})),
        ]);
        let by_size = Rule::Count(CountRule {
            query: EventQuery::new("V"),
            per: Some("size".into()),
            compare: Comparison::exactly(2.0),
        });
        assert!(
            holds(by_size, &numbers),
            "42 and 42.0 group together; \"42\" does not"
        );
    }

    fn aggregate(sum: bool, property: &[&str], within: Option<Window>, cmp: Comparison) -> Rule {
        let rule = AggregateRule {
            query: EventQuery {
                event: "Order Completed".into(),
                within,
                filters: vec![],
            },
            property: property.iter().map(|p| p.to_string()).collect(),
            compare: cmp,
        };
        if sum {
            Rule::Sum(rule)
        } else {
            Rule::Average(rule)
        }
    }

    #[test]
    fn sums_and_averages_use_the_first_numeric_property() {
        let h = history(&[
            ("Order Completed", 1, json!({"revenue": 250.1})),
            ("Order Completed", 2, json!({"total": 249.9})),
            (
                "Order Completed",
                3,
                json!({"revenue": "100", "total": 100}),
            ),
            ("Order Completed", 4, json!({"currency": "EUR"})),
            ("Order Completed", 40 * DAY, json!({"revenue": 1000})),
        ]);
        let keys = ["revenue", "total"];
        let month = Some(Window::days(30));
        assert!(holds(
            aggregate(true, &keys, month, Comparison::at_least(600.0)),
            &h
        ));
        assert!(!holds(
            aggregate(true, &keys, month, Comparison::more_than(600.0)),
            &h
        ));
        assert!(holds(
            aggregate(true, &keys, month, Comparison::exactly(600.0)),
            &h
        ));
        assert!(holds(
            aggregate(true, &["revenue"], month, Comparison::exactly(250.1)),
            &h
        ));
        assert!(holds(
            aggregate(true, &keys, None, Comparison::at_least(1600.0)),
            &h
        ));
        assert!(
            holds(
                aggregate(false, &keys, month, Comparison::exactly(200.0)),
                &h
            ),
            "three numeric values average 200"
        );
        assert!(
            !holds(
                aggregate(false, &["nothing"], None, Comparison::at_most(1e9)),
                &h
            ),
            "no values: no average"
        );
        assert!(
            holds(
                aggregate(true, &["nothing"], None, Comparison::exactly(0.0)),
                &h
            ),
            "an empty sum is 0"
        );
        assert!(holds(
            aggregate(
                true,
                &keys,
                Some(Window::minutes(1)),
                Comparison::at_most(0.0)
            ),
            &history(&[])
        ));
    }

    fn last(older_than: Window) -> Rule {
        Rule::Last(LastRule {
            event: "Order Completed".into(),
            filters: vec![],
            older_than,
        })
    }

    #[test]
    fn last_is_older_than_at_and_after_the_boundary() {
        let rule = || last(Window::days(30));
        assert!(!holds(rule(), &history(&[])), "never is not 'older than'");
        assert!(holds(
            rule(),
            &history(&[("Order Completed", 30 * DAY, json!({}))])
        ));
        assert!(holds(
            rule(),
            &history(&[("Order Completed", 31 * DAY, json!({}))])
        ));
        assert!(!holds(
            rule(),
            &history(&[("Order Completed", 30 * DAY - 1, json!({}))])
        ));
        let recent_too = history(&[
            ("Order Completed", 40 * DAY, json!({})),
            ("Order Completed", DAY, json!({})),
        ]);
        assert!(!holds(rule(), &recent_too), "the last one decides");
        let filtered = Rule::Last(LastRule {
            event: "Order Completed".into(),
            filters: vec![Condition::new("currency", Test::Equals(json!("EUR")))],
            older_than: Window::days(30),
        });
        let h = history(&[
            ("Order Completed", 40 * DAY, json!({"currency": "EUR"})),
            ("Order Completed", DAY, json!({"currency": "USD"})),
        ]);
        assert!(holds(filtered, &h));
    }

    #[test]
    fn inactivity_needs_history_and_counts_any_event() {
        let rule = || Rule::InactiveFor(Window::days(30));
        assert!(!holds(rule(), &history(&[])));
        assert!(holds(
            rule(),
            &history(&[("A", 30 * DAY, json!({})), ("B", 45 * DAY, json!({}))])
        ));
        assert!(!holds(
            rule(),
            &history(&[("A", 45 * DAY, json!({})), ("B", 30 * DAY - 1, json!({}))])
        ));
    }

    fn abandoned() -> Rule {
        Rule::NoneSinceLast(NoneSinceLastRule {
            event: "Order Completed".into(),
            filters: vec![],
            after: "Product Added".into(),
            after_filters: vec![],
        })
    }

    #[test]
    fn none_since_last_looks_after_the_last_occurrence() {
        assert!(!holds(abandoned(), &history(&[])), "nothing added");
        assert!(!holds(
            abandoned(),
            &history(&[("Order Completed", 5, json!({}))])
        ));
        assert!(holds(
            abandoned(),
            &history(&[("Product Added", 5, json!({}))])
        ));
        assert!(
            holds(
                abandoned(),
                &history(&[
                    ("Order Completed", 6, json!({})),
                    ("Product Added", 5, json!({}))
                ])
            ),
            "ordered before adding"
        );
        assert!(!holds(
            abandoned(),
            &history(&[
                ("Product Added", 6, json!({})),
                ("Order Completed", 5, json!({}))
            ])
        ));
        assert!(
            !holds(
                abandoned(),
                &history(&[
                    ("Product Added", 5, json!({})),
                    ("Order Completed", 5, json!({}))
                ])
            ),
            "same instant counts as since"
        );
        assert!(
            holds(
                abandoned(),
                &history(&[
                    ("Product Added", 9, json!({})),
                    ("Order Completed", 8, json!({})),
                    ("Product Added", 1, json!({}))
                ])
            ),
            "added again after ordering"
        );
    }

    #[test]
    fn none_since_last_applies_both_filter_lists() {
        let rule = Rule::NoneSinceLast(NoneSinceLastRule {
            event: "Order Completed".into(),
            filters: vec![Condition::new(
                "total",
                Test::Compare(Comparison::more_than(0.0)),
            )],
            after: "Product Added".into(),
            after_filters: vec![Condition::new("category", Test::Equals(json!("Shoes")))],
        });
        let h = history(&[
            ("Product Added", 10, json!({"category": "Shoes"})),
            ("Product Added", 5, json!({"category": "Hats"})),
            ("Order Completed", 7, json!({"total": 0})),
        ]);
        assert!(
            holds(rule.clone(), &h),
            "a zero order does not count; the Hats add does not start the since"
        );
        let mut h = h;
        h.record("Order Completed", ago(8), props(json!({"total": 5})));
        assert!(!holds(rule, &h));
    }

    #[test]
    fn traits_permissions_and_memberships() {
        let mut h = history(&[]);
        h.traits = props(json!({"plan": "gold", "age": 30, "tags": ["vip"]}));
        h.set_permission("push", PermissionState::OptedIn);
        h.set_permission("email", PermissionState::Subscribed);
        h.memberships.insert("high_spender".into());
        assert!(holds(
            Rule::Trait(Condition::new("plan", Test::Equals(json!("gold")))),
            &h
        ));
        assert!(!holds(
            Rule::Trait(Condition::new("plan", Test::Equals(json!("Gold")))),
            &h
        ));
        assert!(holds(
            Rule::Trait(Condition::new(
                "age",
                Test::Compare(Comparison::at_least(30.0))
            )),
            &h
        ));
        assert!(!holds(
            Rule::Trait(Condition::new(
                "age",
                Test::Compare(Comparison::more_than(30.0))
            )),
            &h
        ));
        assert!(holds(
            Rule::Trait(Condition::new("tags", Test::Contains(json!("vip")))),
            &h
        ));
        assert!(holds(
            Rule::Trait(Condition::new("email", Test::Exists(false))),
            &h
        ));
        let perm = |channel: &str, is: &[PermissionState]| {
            Rule::Permission(PermissionRule {
                channel: channel.into(),
                is: is.to_vec(),
            })
        };
        use PermissionState::*;
        assert!(holds(perm("push", &[OptedIn]), &h));
        assert!(!holds(perm("push", &[Subscribed]), &h));
        assert!(holds(perm("email", &[Subscribed, OptedIn]), &h));
        assert!(
            holds(perm("sms", &[Subscribed]), &h),
            "a channel never set reads as subscribed"
        );
        assert!(!holds(perm("sms", &[Unsubscribed, OptedIn]), &h));
        assert!(holds(Rule::Segment("high_spender".into()), &h));
        assert!(!holds(Rule::Segment("vip".into()), &h));
    }

    #[test]
    fn combinators_combine() {
        let h = history(&[("A", 1, json!({}))]);
        let yes = || count("A", None, Comparison::at_least(1.0));
        let no = || count("B", None, Comparison::at_least(1.0));
        assert!(holds(Rule::All(vec![yes(), yes()]), &h));
        assert!(!holds(Rule::All(vec![yes(), no()]), &h));
        assert!(holds(Rule::Any(vec![no(), yes()]), &h));
        assert!(!holds(Rule::Any(vec![no(), no()]), &h));
        assert!(holds(Rule::Not(Box::new(no())), &h));
        assert!(!holds(Rule::Not(Box::new(yes())), &h));
        assert!(
            holds(Rule::All(vec![]), &h),
            "unvalidated empty all is vacuously true, not a panic"
        );
        assert!(!holds(Rule::Any(vec![]), &h));
    }

    #[test]
    fn future_events_read_as_happening_now() {
        let h = history(&[
            ("Product Added", -3 * DAY, json!({})),
            ("Order Completed", -DAY, json!({"total": 10})),
        ]);
        assert!(holds(
            count(
                "Product Added",
                Some(Window::minutes(1)),
                Comparison::exactly(1.0)
            ),
            &h
        ));
        assert!(
            !holds(last(Window::minutes(1)), &h),
            "a future order is not old"
        );
        assert!(!holds(Rule::InactiveFor(Window::minutes(1)), &h));
        assert!(holds(
            aggregate(
                true,
                &["total"],
                Some(Window::hours(1)),
                Comparison::exactly(10.0)
            ),
            &h
        ));
        assert!(
            holds(abandoned(), &h),
            "ordering between events still uses their own times"
        );
    }

    #[test]
    fn extreme_clocks_never_panic() {
        let h = history(&[("A", 0, json!({"x": 1}))]);
        let rules = [
            count("A", Some(Window::days(400)), Comparison::at_least(1.0)),
            last(Window::weeks(u32::MAX)),
            Rule::InactiveFor(Window::days(1)),
            aggregate(
                false,
                &["x"],
                Some(Window::minutes(1)),
                Comparison::at_least(0.0),
            ),
        ];
        for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, now()] {
            for rule in &rules {
                let _ = evaluate(&def(rule.clone()), &h, t);
            }
        }
        assert!(evaluate(
            &def(count(
                "A",
                Some(Window::days(400)),
                Comparison::exactly(1.0)
            )),
            &h,
            DateTime::<Utc>::MIN_UTC
        ));
    }

    #[test]
    fn rules_touch_only_the_events_they_name_and_windows_only_their_window() {
        let mut h = UserHistory::new();
        for i in 0..10_000 {
            h.record("Product Viewed", ago(i), Map::new());
            if i % 10 == 0 {
                h.record("Product Added", ago(i), Map::new());
            }
        }
        let windowed = def(Rule::All(vec![
            count(
                "Product Added",
                Some(Window::hours(24)),
                Comparison::at_least(1.0),
            ),
            count(
                "Product Viewed",
                Some(Window::hours(1)),
                Comparison::at_least(1.0),
            ),
            count("Order Completed", None, Comparison::exactly(0.0)),
            count("Product Viewed", None, Comparison::at_least(1.0)),
            abandoned(),
            last(Window::days(30)),
        ]));
        let (_, record) = probe::during(|| evaluate(&windowed, &h, now()));
        assert_eq!(
            record.scanned,
            144 + 60,
            "a window folds only its own events (a day's adds, an hour's views); \
             all-time counts, last and since read a group's length and end"
        );
        let looked: BTreeSet<String> = record.names.into_iter().collect();
        assert!(
            looked.is_subset(&windowed.referenced_events()),
            "{looked:?}"
        );
        let filtered = def(Rule::count(
            EventQuery::new("Product Added")
                .within(Window::hours(24))
                .filter(Condition::new("category", Test::Exists(true))),
            Comparison::at_least(1.0),
        ));
        let (_, record) = probe::during(|| evaluate(&filtered, &h, now()));
        assert_eq!(
            record.scanned, 144,
            "only the day's 144 adds are folded, not 11,000 events"
        );
        assert_eq!(record.names, ["Product Added"]);
    }
}
