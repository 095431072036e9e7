//! Why a user is (or is not) in a segment: the clauses that decided, each with its path
//! and a sentence built from the same facts evaluation used.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::definition::*;
use super::duration::Window;
use super::error::{field, index};
use super::evaluate::{Ctx, Fact};
use super::history::UserHistory;
use super::summary::{Catalog, Plan, UserSummary};

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub segment: String,
    pub matched: bool,
    /// The clauses that decided: all of an `all` that holds, the first failing one of an
    /// `all` that does not; the first holding one of an `any`, all of one that fails.
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Where the clause sits in the definition (`rule.all[1]`).
    pub path: String,
    /// Whether this clause itself holds (a clause under `not` holds when the segment
    /// does not).
    pub holds: bool,
    pub sentence: String,
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.sentence)
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.matched { "in" } else { "not in" };
        write!(f, "{verdict} {:?} because ", self.segment)?;
        for (i, clause) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{clause}")?;
        }
        Ok(())
    }
}

/// Explains [`super::evaluate`]'s answer for the same inputs; `matched` always equals it.
pub fn explain(
    definition: &SegmentDefinition,
    history: &UserHistory,
    now: DateTime<Utc>,
) -> Explanation {
    let mut catalog = Catalog::default();
    let plan = catalog.plan(&definition.rule);
    let summary = UserSummary::fold(&catalog, history, now);
    let ctx = Ctx {
        summary: &summary,
        catalog: &catalog,
        members: &summary.memberships,
        now,
    };
    let (matched, clauses) = explain_rule(&ctx, &definition.rule, &plan, "rule");
    Explanation {
        segment: definition.id.clone(),
        matched,
        clauses,
    }
}

fn explain_rule(ctx: &Ctx, rule: &Rule, plan: &Plan, path: &str) -> (bool, Vec<Clause>) {
    match (rule, plan) {
        (Rule::All(rules), Plan::All(plans)) | (Rule::Any(rules), Plan::Any(plans)) => {
            let is_all = matches!(rule, Rule::All(_));
            let at = field(path, if is_all { "all" } else { "any" });
            let mut collected = Vec::new();
            for (i, (child, plan)) in rules.iter().zip(plans).enumerate() {
                let (holds, clauses) = explain_rule(ctx, child, plan, &index(&at, i));
                // The first failing child of `all` (holding child of `any`) decides alone.
                if holds != is_all {
                    return (holds, clauses);
                }
                collected.extend(clauses);
            }
            if collected.is_empty() {
                let kind = if is_all { "all" } else { "any" };
                collected.push(Clause {
                    path: path.to_owned(),
                    holds: is_all,
                    sentence: format!("an empty {kind:?} list"),
                });
            }
            (is_all, collected)
        }
        (Rule::Not(child), Plan::Not(plan)) => {
            let (holds, clauses) = explain_rule(ctx, child, plan, &field(path, "not"));
            (!holds, clauses)
        }
        (leaf, Plan::Leaf(streams)) => {
            let fact = ctx.measure(leaf, streams);
            let holds = ctx.decide(leaf, &fact);
            let clause = Clause {
                path: path.to_owned(),
                holds,
                sentence: sentence(leaf, &fact, ctx.now),
            };
            (holds, vec![clause])
        }
        _ => unreachable!("a plan has the shape of its rule"),
    }
}

fn sentence(rule: &Rule, fact: &Fact, now: DateTime<Utc>) -> String {
    match (rule, fact) {
        (Rule::Count(c), Fact::Count { value, group }) => {
            let what = events(&c.query.event, &c.query.filters);
            let span = span(c.query.within);
            let needs = comparison(&c.compare);
            match (&c.per, group) {
                (None, _) => format!("count of {what}{span} is {value} (needs {needs})"),
                (Some(per), Some(group)) => format!(
                    "largest count of {what}{span} for one {per} is {value}, for {} (needs {needs})",
                    show(group)
                ),
                (Some(per), None) => {
                    format!("largest count of {what}{span} for one {per} is {value} (needs {needs})")
                }
            }
        }
        (Rule::Sum(a) | Rule::Average(a), Fact::Aggregate(value)) => {
            let kind = if matches!(rule, Rule::Sum(_)) {
                "sum"
            } else {
                "average"
            };
            let property = a.property.join(" (or ");
            let closing = ")".repeat(a.property.len() - 1);
            let what = events(&a.query.event, &a.query.filters);
            let span = span(a.query.within);
            let needs = comparison(&a.compare);
            match value {
                Some(v) => format!(
                    "{kind} of {property}{closing} over {what}{span} is {} (needs {needs})",
                    number(*v)
                ),
                None => format!(
                    "{kind} of {property}{closing} over {what}{span} has no values (needs {needs})"
                ),
            }
        }
        (Rule::Last(l), Fact::Last(at)) => {
            let what = events(&l.event, &l.filters);
            match at {
                Some(t) => format!(
                    "last {what} was at {}, {} (needs older than {})",
                    stamp(*t),
                    age(*t, now),
                    l.older_than
                ),
                None => format!(
                    "{what} never happened (needs a last one older than {})",
                    l.older_than
                ),
            }
        }
        (Rule::InactiveFor(w), Fact::Newest(newest)) => match newest {
            Some((t, name)) => format!(
                "last event ({name:?}) was at {}, {} (needs none for {w})",
                stamp(*t),
                age(*t, now)
            ),
            None => "no events at all (inactivity needs some history)".to_owned(),
        },
        (Rule::NoneSinceLast(s), Fact::Since { after, since }) => {
            let what = events(&s.event, &s.filters);
            let after_what = events(&s.after, &s.after_filters);
            match (after, since) {
                (None, _) => format!("{after_what} never happened"),
                (Some(a), None) => format!("no {what} since the last {after_what} ({})", stamp(*a)),
                (Some(a), Some(_)) => {
                    format!(
                        "{what} happened after the last {after_what} ({})",
                        stamp(*a)
                    )
                }
            }
        }
        (Rule::Trait(c), Fact::Trait(value)) => {
            let needs = test(&c.test);
            match value {
                Some(v) => format!("trait {} is {} (needs: {needs})", c.key, show(v)),
                None => format!("trait {} is not set (needs: {needs})", c.key),
            }
        }
        (Rule::Permission(p), Fact::Permission(state)) => {
            let needs: Vec<&str> = p.is.iter().map(|s| s.as_str()).collect();
            let needs = needs.join(" or ");
            match state {
                Some(s) => format!("{} permission is {s} (needs {needs})", p.channel),
                None => format!(
                    "{} permission is not recorded, read as unsubscribed (needs {needs})",
                    p.channel
                ),
            }
        }
        (Rule::Segment(id), Fact::Member(true)) => format!("is a member of {id:?}"),
        (Rule::Segment(id), Fact::Member(false)) => format!("is not a member of {id:?}"),
        _ => unreachable!("measure returns the fact kind of its rule"),
    }
}

fn events(name: &str, filters: &[Condition]) -> String {
    if filters.is_empty() {
        return format!("{name:?}");
    }
    let conditions: Vec<String> = filters
        .iter()
        .map(|c| format!("{} {}", c.key, test(&c.test)))
        .collect();
    format!("{name:?} where {}", conditions.join(" and "))
}

fn span(within: Option<Window>) -> String {
    match within {
        Some(w) => format!(" within {w}"),
        None => " ever".to_owned(),
    }
}

fn test(test: &Test) -> String {
    let list = |values: &[Value]| {
        let shown: Vec<String> = values.iter().map(show).collect();
        format!("[{}]", shown.join(", "))
    };
    match test {
        Test::Equals(v) => format!("is {}", show(v)),
        Test::NotEquals(v) => format!("is not {}", show(v)),
        Test::In(values) => format!("is one of {}", list(values)),
        Test::NotIn(values) => format!("is none of {}", list(values)),
        Test::Contains(v) => format!("contains {}", show(v)),
        Test::Exists(true) => "is set".to_owned(),
        Test::Exists(false) => "is not set".to_owned(),
        Test::Compare(c) => comparison(c),
    }
}

fn comparison(c: &Comparison) -> String {
    let words = c.op.key().replace('_', " ");
    format!("{words} {}", number(c.value))
}

fn show(value: &Value) -> String {
    value.to_string()
}

/// Two decimals are plenty for a sentence; tiny non-zero values keep their digits.
fn number(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded == 0.0 && v != 0.0 {
        v.to_string()
    } else {
        (rounded + 0.0).to_string()
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t > now {
        return "in the future, read as now".to_owned();
    }
    let d = now.signed_duration_since(t);
    let (days, hours, minutes) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "less than a minute ago".to_owned(),
        (0, 0, m) => format!("{m}m ago"),
        (0, h, 0) => format!("{h}h ago"),
        (0, h, m) => format!("{h}h {m}m ago"),
        (d, 0, _) => format!("{d}d ago"),
        (d, h, _) => format!("{d}d {h}h ago"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::{json, Map};

    use super::super::evaluate::evaluate;
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn def(rule: Rule) -> SegmentDefinition {
        SegmentDefinition {
            id: "cart_abandoner".into(),
            name: "Cart abandoners".into(),
            description: None,
            rule,
        }
    }

    fn cart_abandoner() -> SegmentDefinition {
        def(Rule::All(vec![
            Rule::count(
                EventQuery::new("Product Added").within(Window::hours(24)),
                Comparison::at_least(1.0),
            ),
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: "Order Completed".into(),
                filters: vec![],
                after: "Product Added".into(),
                after_filters: vec![],
            }),
        ]))
    }

    fn sentences(e: &Explanation) -> Vec<String> {
        e.clauses.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_member_is_explained_by_every_clause_of_all() {
        let mut h = UserHistory::new();
        h.record("Product Added", at("2026-11-20T10:00:00Z"), Map::new());
        h.record("Product Added", at("2026-11-21T09:00:00Z"), Map::new());
        let e = explain(&cart_abandoner(), &h, now());
        assert!(e.matched);
        assert_eq!(
            sentences(&e),
            [
                "rule.all[0]: count of \"Product Added\" within 24h is 1 (needs at least 1)",
                "rule.all[1]: no \"Order Completed\" since the last \"Product Added\" (2026-11-21 09:00 UTC)",
            ]
        );
        assert!(e.clauses.iter().all(|c| c.holds));
        assert_eq!(
            e.to_string(),
            "in \"cart_abandoner\" because rule.all[0]: count of \"Product Added\" within 24h is 1 (needs at least 1); \
             rule.all[1]: no \"Order Completed\" since the last \"Product Added\" (2026-11-21 09:00 UTC)"
        );
    }

    #[test]
    fn a_non_member_is_explained_by_the_first_failing_clause() {
        let mut h = UserHistory::new();
        h.record("Product Added", at("2026-11-20T10:00:00Z"), Map::new());
        h.record("Order Completed", at("2026-11-20T10:30:00Z"), Map::new());
        let e = explain(&cart_abandoner(), &h, now() - TimeDelta::hours(1));
        assert!(!e.matched);
        assert_eq!(
            sentences(&e),
            ["rule.all[1]: \"Order Completed\" happened after the last \"Product Added\" (2026-11-20 10:00 UTC)"]
        );
        let e = explain(&cart_abandoner(), &h, now());
        assert_eq!(
            sentences(&e),
            ["rule.all[0]: count of \"Product Added\" within 24h is 0 (needs at least 1)"],
            "the window closed first"
        );
        assert!(!e.clauses[0].holds);
    }

    #[test]
    fn any_is_explained_by_the_first_holding_clause_or_all_failing_ones() {
        let rule = Rule::Any(vec![
            Rule::Segment("vip".into()),
            Rule::Not(Box::new(Rule::Segment("blocked".into()))),
        ]);
        let mut h = UserHistory::new();
        let e = explain(&def(rule.clone()), &h, now());
        assert!(e.matched);
        assert_eq!(
            sentences(&e),
            ["rule.any[1].not: is not a member of \"blocked\""]
        );
        assert!(!e.clauses[0].holds, "the clause under not is false");
        h.memberships.insert("blocked".into());
        let e = explain(&def(rule), &h, now());
        assert!(!e.matched);
        assert_eq!(
            sentences(&e),
            [
                "rule.any[0]: is not a member of \"vip\"",
                "rule.any[1].not: is a member of \"blocked\""
            ]
        );
        assert_eq!(
            e.to_string(),
            "not in \"cart_abandoner\" because rule.any[0]: is not a member of \"vip\"; rule.any[1].not: is a member of \"blocked\""
        );
    }

    #[test]
    fn every_leaf_kind_has_a_sentence() {
        let mut h = UserHistory::new();
        let p = |v: Value| v.as_object().unwrap().clone();
        h.record(
            "Product Viewed",
            at("2026-11-21T08:30:00Z"),
            p(json!({"category": "Shoes", "price": 30})),
        );
        h.record(
            "Product Viewed",
            at("2026-11-21T08:40:00Z"),
            p(json!({"category": "Shoes", "price": 20})),
        );
        h.record(
            "Order Completed",
            at("2026-10-07T07:00:00Z"),
            p(json!({"total": 612.5, "currency": "EUR"})),
        );
        h.traits = p(json!({"plan": "gold"}));
        h.set_permission("push", PermissionState::OptedIn);
        let per = Rule::Count(CountRule {
            query: EventQuery::new("Product Viewed").within(Window::days(7)),
            per: Some("category".into()),
            compare: Comparison::at_least(3.0),
        });
        let agg = |property: Vec<String>| AggregateRule {
            query: EventQuery::new("Order Completed").within(Window::days(365)),
            property,
            compare: Comparison::at_least(500.0),
        };
        let cases: Vec<(Rule, &str)> = vec![
            (per, "largest count of \"Product Viewed\" within 7d for one category is 2, for \"Shoes\" (needs at least 3)"),
            (
                Rule::count(
                    EventQuery::new("Product Viewed").filter(Condition::new("category", Test::In(vec![json!("Shoes"), json!("Hats")]))).filter(Condition::new("price", Test::Compare(Comparison::more_than(25.0)))),
                    Comparison::exactly(1.0),
                ),
                "count of \"Product Viewed\" where category is one of [\"Shoes\", \"Hats\"] and price more than 25 ever is 1 (needs exactly 1)",
            ),
            (Rule::Sum(agg(vec!["revenue".into(), "total".into()])), "sum of revenue (or total) over \"Order Completed\" within 365d is 612.5 (needs at least 500)"),
            (Rule::Average(agg(vec!["tax".into()])), "average of tax over \"Order Completed\" within 365d has no values (needs at least 500)"),
            (
                Rule::Last(LastRule { event: "Order Completed".into(), filters: vec![], older_than: Window::days(30) }),
                "last \"Order Completed\" was at 2026-10-07 07:00 UTC, 45d 3h ago (needs older than 30d)",
            ),
            (
                Rule::Last(LastRule { event: "Order Refunded".into(), filters: vec![], older_than: Window::days(30) }),
                "\"Order Refunded\" never happened (needs a last one older than 30d)",
            ),
            (Rule::InactiveFor(Window::days(30)), "last event (\"Product Viewed\") was at 2026-11-21 08:40 UTC, 1h 20m ago (needs none for 30d)"),
            (
                Rule::NoneSinceLast(NoneSinceLastRule { event: "Order Completed".into(), filters: vec![], after: "Product Added".into(), after_filters: vec![Condition::new("brand", Test::Exists(true))] }),
                "\"Product Added\" where brand is set never happened",
            ),
            (Rule::Trait(Condition::new("plan", Test::NotEquals(json!("free")))), "trait plan is \"gold\" (needs: is not \"free\")"),
            (Rule::Trait(Condition::new("age", Test::Compare(Comparison::at_least(18.0)))), "trait age is not set (needs: at least 18)"),
            (Rule::Permission(PermissionRule { channel: "push".into(), is: vec![PermissionState::OptedIn] }), "push permission is opted_in (needs opted_in)"),
            (
                Rule::Permission(PermissionRule { channel: "sms".into(), is: vec![PermissionState::Subscribed, PermissionState::OptedIn] }),
                "sms permission is not recorded, read as unsubscribed (needs subscribed or opted_in)",
            ),
        ];
        for (rule, expected) in cases {
            let d = def(rule);
            let e = explain(&d, &h, now());
            assert_eq!(e.clauses.len(), 1);
            assert_eq!(e.clauses[0].sentence, expected);
            assert_eq!(e.clauses[0].path, "rule");
            assert_eq!(e.matched, evaluate(&d, &h, now()));
        }
    }

    #[test]
    fn ages_are_short_and_future_events_say_so() {
        let t = now();
        assert_eq!(age(t, t), "less than a minute ago");
        assert_eq!(age(t - TimeDelta::seconds(59), t), "less than a minute ago");
        assert_eq!(age(t - TimeDelta::minutes(12), t), "12m ago");
        assert_eq!(age(t - TimeDelta::hours(5), t), "5h ago");
        assert_eq!(age(t - TimeDelta::minutes(5 * 60 + 3), t), "5h 3m ago");
        assert_eq!(age(t - TimeDelta::days(45), t), "45d ago");
        assert_eq!(age(t - TimeDelta::hours(31 * 24 + 2), t), "31d 2h ago");
        assert_eq!(
            age(t + TimeDelta::hours(1), t),
            "in the future, read as now"
        );
        assert_eq!(number(612.5), "612.5");
        assert_eq!(number(500.0), "500");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(0.001), "0.001");
        assert_eq!(number(-0.0), "0");
    }
}
