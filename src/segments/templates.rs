//! Built-in segments, as parameterised definitions. They are ordinary definitions: the
//! server can store them, send them to devices and show them as JSON. Change `id` and
//! `name` on the result to keep several variants (two spending tiers) side by side.

use serde_json::Value;

use super::definition::*;
use super::duration::Window;

const PRODUCT_VIEWED: &str = "Product Viewed";
const PRODUCT_ADDED: &str = "Product Added";
const ADDED_TO_WISHLIST: &str = "Product Added to Wishlist";
const ORDER_COMPLETED: &str = "Order Completed";

fn definition(id: &str, name: &str, description: String, rule: Rule) -> SegmentDefinition {
    SegmentDefinition {
        id: id.to_owned(),
        name: name.to_owned(),
        description: Some(description),
        rule,
    }
}

fn orders(compare: Comparison) -> Rule {
    Rule::count(EventQuery::new(ORDER_COMPLETED), compare)
}

/// Added something to the cart within `within` and has not ordered since the last add.
pub fn cart_abandoner(within: Window) -> SegmentDefinition {
    definition(
        "cart_abandoner",
        "Cart abandoners",
        format!(
            "Added a product to the cart within {within} and has not completed an order since."
        ),
        Rule::All(vec![
            Rule::count(
                EventQuery::new(PRODUCT_ADDED).within(within),
                Comparison::at_least(1.0),
            ),
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: ORDER_COMPLETED.into(),
                filters: vec![],
                after: PRODUCT_ADDED.into(),
                after_filters: vec![],
            }),
        ]),
    )
}

/// Within `within`: viewed products of one category at least `min_views` times, or
/// added one to a wishlist; and added nothing to the cart.
pub fn almost_buyer(min_views: u32, within: Window) -> SegmentDefinition {
    definition(
        "almost_buyer",
        "Almost buyers",
        format!(
            "Within {within}, viewed products of one category at least {min_views} times or added one to a wishlist, but added nothing to the cart."
        ),
        Rule::All(vec![
            Rule::Any(vec![
                Rule::Count(CountRule {
                    query: EventQuery::new(PRODUCT_VIEWED).within(within),
                    per: Some("category".into()),
                    compare: Comparison::at_least(f64::from(min_views)),
                }),
                Rule::count(
                    EventQuery::new(ADDED_TO_WISHLIST).within(within),
                    Comparison::at_least(1.0),
                ),
            ]),
            Rule::count(
                EventQuery::new(PRODUCT_ADDED).within(within),
                Comparison::exactly(0.0),
            ),
        ]),
    )
}

/// At least two completed orders, ever.
pub fn repeat_customer() -> SegmentDefinition {
    definition(
        "repeat_customer",
        "Repeat customers",
        "Completed at least two orders.".into(),
        orders(Comparison::at_least(2.0)),
    )
}

/// Exactly one completed order, ever.
pub fn first_time_customer() -> SegmentDefinition {
    definition(
        "first_time_customer",
        "First-time customers",
        "Completed exactly one order.".into(),
        orders(Comparison::exactly(1.0)),
    )
}

/// Has some history, but no event of any kind for `days` days. Id `inactive_{days}d`.
pub fn inactive(days: u32) -> SegmentDefinition {
    definition(
        &format!("inactive_{days}d"),
        &format!("Inactive for {days} days"),
        format!("Has used the app, but recorded no event for {days} days."),
        Rule::InactiveFor(Window::days(days)),
    )
}

/// Order `revenue` (or `total` where an order has no revenue) adds up to at least
/// `threshold` within `within`, or ever. Amounts are summed as sent, whatever their
/// currency: apps selling in several currencies should send converted amounts.
pub fn high_spender(threshold: f64, within: Option<Window>) -> SegmentDefinition {
    let span = within.map_or_else(|| "ever".to_owned(), |w| format!("within {w}"));
    definition(
        "high_spender",
        "High spenders",
        format!(
            "Completed orders worth at least {} in total {span}.",
            Value::from(threshold)
        ),
        Rule::Sum(AggregateRule {
            query: EventQuery {
                event: ORDER_COMPLETED.into(),
                within,
                filters: vec![],
            },
            property: vec!["revenue".into(), "total".into()],
            compare: Comparison::at_least(threshold),
        }),
    )
}

/// The built-in segments with their default parameters.
pub fn builtin() -> Vec<SegmentDefinition> {
    vec![
        cart_abandoner(Window::hours(24)),
        almost_buyer(3, Window::days(7)),
        repeat_customer(),
        first_time_customer(),
        inactive(30),
        inactive(60),
        inactive(90),
        high_spender(500.0, Some(Window::days(365))),
    ]
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use serde_json::{json, Map};

    use super::super::evaluate::evaluate;
    use super::super::explain::explain;
    use super::super::history::UserHistory;
    use super::super::set::{SegmentSet, Trigger};
    use super::super::summary::UserSummary;
    use super::*;
    use crate::events::TYPED_EVENT_NAMES;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_template_is_valid_round_trips_and_uses_vocabulary_events() {
        let set = SegmentSet::new(builtin()).expect("built-ins form a valid set");
        assert_eq!(set.len(), 8);
        for def in builtin() {
            assert_eq!(def.validate(), Ok(()), "{}", def.id);
            assert_eq!(SegmentDefinition::parse(&def.to_json()).unwrap(), def);
            for name in def.referenced_events() {
                assert!(
                    TYPED_EVENT_NAMES.contains(&name.as_str()),
                    "{name} is not in the vocabulary"
                );
            }
        }
        assert!(
            inactive(401).validate().is_err(),
            "parameters are validated like any definition"
        );
        assert!(high_spender(-1.0, None).validate().is_err());
        assert!(almost_buyer(0, Window::days(0)).validate().is_err());
    }

    #[test]
    fn every_json_example_in_the_readme_is_a_valid_definition() {
        let readme = include_str!("README.md");
        let examples: Vec<SegmentDefinition> = readme
            .split("```json\n")
            .skip(1)
            .map(|block| block.split("```").next().unwrap())
            .map(|json| SegmentDefinition::parse(json).unwrap_or_else(|e| panic!("{e}\n{json}")))
            .collect();
        assert_eq!(examples.len(), 3);
        assert_eq!(examples[0].rule, cart_abandoner(Window::hours(24)).rule);
        assert_eq!(examples[1].rule, almost_buyer(3, Window::days(7)).rule);
        let mut set = builtin();
        set.push(examples[2].clone());
        assert!(SegmentSet::new(set).is_ok());
    }

    #[test]
    fn the_cart_abandoner_example_is_what_the_template_builds() {
        let written = SegmentDefinition::parse(
            r#"{"schema": 1, "id": "cart_abandoner", "name": "Cart abandoners",
                "rule": {"all": [
                    {"count": {"event": "Product Added", "within": "24h"}, "at_least": 1},
                    {"none_since_last": {"event": "Order Completed", "after": "Product Added"}}
                ]}}"#,
        )
        .unwrap();
        assert_eq!(written.rule, cart_abandoner(Window::hours(24)).rule);
    }

    #[test]
    fn cart_abandoner_enters_on_add_and_leaves_on_order_or_when_the_window_closes() {
        let def = cart_abandoner(Window::hours(24));
        let set = SegmentSet::new(vec![def.clone()]).unwrap();
        let mut h = UserHistory::new();
        let mut u = UserSummary::new(set.catalog());
        let record = |h: &mut UserHistory, u: &mut UserSummary, name: &str, at| {
            h.record(name, at, Map::new());
            u.record(set.catalog(), name, at, &Map::new(), at);
        };
        let t0 = start();
        record(&mut h, &mut u, "Product Viewed", t0);
        assert!(!evaluate(&def, &h, t0));
        record(&mut h, &mut u, "Product Added", t0 + TimeDelta::minutes(5));
        let changes = set.refresh(
            &mut u,
            t0 + TimeDelta::minutes(5),
            Trigger::Event("Product Added"),
        );
        assert_eq!(changes.len(), 1);
        assert!(changes[0].entered);
        record(&mut h, &mut u, "Order Completed", t0 + TimeDelta::hours(1));
        let changes = set.refresh(
            &mut u,
            t0 + TimeDelta::hours(1),
            Trigger::Event("Order Completed"),
        );
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].entered, "ordering leaves the segment");
        let e = explain(&def, &h, t0 + TimeDelta::hours(1));
        assert_eq!(
            e.clauses[0].to_string(),
            "rule.all[1]: \"Order Completed\" happened after the last \"Product Added\" (2026-11-01 09:05 UTC)"
        );
        h.record("Product Added", t0 + TimeDelta::hours(2), Map::new());
        assert!(
            evaluate(&def, &h, t0 + TimeDelta::hours(2)),
            "a new add after the order"
        );
        assert!(evaluate(
            &def,
            &h,
            t0 + TimeDelta::hours(26) - TimeDelta::seconds(1)
        ));
        assert!(
            !evaluate(&def, &h, t0 + TimeDelta::hours(26)),
            "the window closed"
        );
    }

    #[test]
    fn inactive_30_enters_after_30_days_without_events() {
        let def = inactive(30);
        let mut h = UserHistory::new();
        assert!(!evaluate(&def, &h, start()), "no history is not inactivity");
        h.record("Application Opened", start(), Map::new());
        h.record("Product Viewed", start() + TimeDelta::hours(2), Map::new());
        let last = start() + TimeDelta::hours(2);
        assert!(!evaluate(
            &def,
            &h,
            last + TimeDelta::days(30) - TimeDelta::seconds(1)
        ));
        assert!(evaluate(&def, &h, last + TimeDelta::days(30)));
        assert_eq!(
            explain(&def, &h, last + TimeDelta::days(30)).to_string(),
            "in \"inactive_30d\" because rule: last event (\"Product Viewed\") was at 2026-11-01 11:00 UTC, 30d ago (needs none for 30d)"
        );
        let set = SegmentSet::new(vec![inactive(30), inactive(60), inactive(90)]).unwrap();
        let later = last + TimeDelta::days(61);
        let mut u = set.summarize(&h, later);
        set.refresh(&mut u, later, Trigger::Everything);
        assert_eq!(
            u.memberships.iter().map(String::as_str).collect::<Vec<_>>(),
            ["inactive_30d", "inactive_60d"]
        );
        u.record(set.catalog(), "Cart Viewed", later, &Map::new(), later);
        let changes = set.refresh(&mut u, later, Trigger::Event("Cart Viewed"));
        assert_eq!(changes.len(), 2, "any event ends inactivity");
        assert!(u.memberships.is_empty());
    }

    #[test]
    fn almost_buyer_needs_repeated_interest_in_one_category_or_a_wishlist_and_no_add() {
        let def = almost_buyer(3, Window::days(7));
        let t0 = start();
        let mut h = UserHistory::new();
        let view = |h: &mut UserHistory, minutes: i64, category: &str| {
            h.record(
                "Product Viewed",
                t0 + TimeDelta::minutes(minutes),
                props(json!({"category": category})),
            );
        };
        view(&mut h, 0, "Shoes");
        view(&mut h, 1, "Hats");
        view(&mut h, 2, "Shoes");
        let now = t0 + TimeDelta::hours(1);
        assert!(
            !evaluate(&def, &h, now),
            "three views, but not of one category"
        );
        view(&mut h, 3, "Shoes");
        assert!(evaluate(&def, &h, now));
        assert_eq!(
            explain(&def, &h, now).clauses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "rule.all[0].any[0]: largest count of \"Product Viewed\" within 7d for one category is 3, for \"Shoes\" (needs at least 3)",
                "rule.all[1]: count of \"Product Added\" within 7d is 0 (needs exactly 0)",
            ]
        );
        h.record(
            "Product Added",
            t0 + TimeDelta::minutes(30),
            props(json!({"category": "Shoes"})),
        );
        assert!(
            !evaluate(&def, &h, now),
            "adding to the cart leaves the segment"
        );
        assert!(
            !evaluate(&def, &h, t0 + TimeDelta::days(8)),
            "nothing left in the window"
        );

        let mut wished = UserHistory::new();
        wished.record("Product Added to Wishlist", t0, Map::new());
        assert!(evaluate(&def, &wished, now), "a wishlist add is enough");
        assert!(
            !evaluate(&def, &wished, t0 + TimeDelta::days(7)),
            "but only within the window"
        );
    }

    #[test]
    fn customers_by_number_of_orders() {
        let (first, repeat) = (first_time_customer(), repeat_customer());
        let mut h = UserHistory::new();
        let now = start() + TimeDelta::days(1);
        assert!(!evaluate(&first, &h, now));
        assert!(!evaluate(&repeat, &h, now));
        h.record("Order Completed", start(), Map::new());
        assert!(evaluate(&first, &h, now));
        assert!(!evaluate(&repeat, &h, now));
        h.record(
            "Order Completed",
            start() - TimeDelta::days(300),
            Map::new(),
        );
        assert!(!evaluate(&first, &h, now));
        assert!(evaluate(&repeat, &h, now), "orders count however long ago");
        assert_eq!(
            explain(&repeat, &h, now).to_string(),
            "in \"repeat_customer\" because rule: count of \"Order Completed\" ever is 2 (needs at least 2)"
        );
    }

    #[test]
    fn high_spender_sums_revenue_or_total_within_the_window() {
        let def = high_spender(500.0, Some(Window::days(365)));
        let now = start();
        let mut h = UserHistory::new();
        h.record(
            "Order Completed",
            now - TimeDelta::days(10),
            props(json!({"revenue": 300, "total": 330})),
        );
        h.record(
            "Order Completed",
            now - TimeDelta::days(20),
            props(json!({"total": 199.99})),
        );
        h.record(
            "Order Completed",
            now - TimeDelta::days(400),
            props(json!({"revenue": 1000})),
        );
        assert!(!evaluate(&def, &h, now));
        assert_eq!(
            explain(&def, &h, now).clauses[0].sentence,
            "sum of revenue (or total) over \"Order Completed\" within 365d is 499.99 (needs at least 500)"
        );
        h.record(
            "Order Completed",
            now - TimeDelta::days(1),
            props(json!({"revenue": 0.01})),
        );
        assert!(evaluate(&def, &h, now), "exactly 500 is enough");
        assert!(
            !evaluate(&def, &h, now + TimeDelta::days(356)),
            "the 300 ages out"
        );
        assert!(
            evaluate(&high_spender(1500.0, None), &h, now),
            "ever includes the old order"
        );
    }
}
