//! Definition → JSON, the inverse of `parse.rs`, plus the serde impls built on the two.
//! Serde's derive is not used because the JSON puts a count's comparison beside the
//! `count` key (`{"count": {...}, "at_least": 1}`), and because deserializing through
//! `parse.rs` gives errors with paths.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Number, Value};

use super::definition::*;
use super::validate::test_key;

impl SegmentDefinition {
    /// The definition as JSON, in the shape [`SegmentDefinition::parse`] reads.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("schema".into(), json!(SCHEMA_VERSION));
        out.insert("id".into(), json!(self.id));
        out.insert("name".into(), json!(self.name));
        if let Some(description) = &self.description {
            out.insert("description".into(), json!(description));
        }
        out.insert("rule".into(), self.rule.to_value());
        Value::Object(out)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

impl Rule {
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        match self {
            Rule::All(rules) => {
                out.insert("all".into(), rules.iter().map(Rule::to_value).collect());
            }
            Rule::Any(rules) => {
                out.insert("any".into(), rules.iter().map(Rule::to_value).collect());
            }
            Rule::Not(rule) => {
                out.insert("not".into(), rule.to_value());
            }
            Rule::Count(c) => {
                let mut q = query(&c.query);
                if let Some(per) = &c.per {
                    q.insert("per".into(), json!(per));
                }
                out.insert("count".into(), Value::Object(q));
                out.insert(c.compare.op.key().into(), number(c.compare.value));
            }
            Rule::Sum(a) | Rule::Average(a) => {
                let mut q = query(&a.query);
                q.insert("property".into(), one_or_many(&a.property, |k| json!(k)));
                let kind = if matches!(self, Rule::Sum(_)) {
                    "sum"
                } else {
                    "average"
                };
                out.insert(kind.into(), Value::Object(q));
                out.insert(a.compare.op.key().into(), number(a.compare.value));
            }
            Rule::Last(l) => {
                let mut q = Map::new();
                q.insert("event".into(), json!(l.event));
                put_filters(&mut q, "where", &l.filters);
                out.insert("last".into(), Value::Object(q));
                out.insert("older_than".into(), json!(l.older_than.to_string()));
            }
            Rule::InactiveFor(w) => {
                out.insert("inactive_for".into(), json!(w.to_string()));
            }
            Rule::NoneSinceLast(s) => {
                let mut q = Map::new();
                q.insert("event".into(), json!(s.event));
                q.insert("after".into(), json!(s.after));
                put_filters(&mut q, "where", &s.filters);
                put_filters(&mut q, "after_where", &s.after_filters);
                out.insert("none_since_last".into(), Value::Object(q));
            }
            Rule::Trait(c) => return condition(c, "trait"),
            Rule::Permission(p) => {
                let is = one_or_many(&p.is, |s| json!(s.as_str()));
                out.insert("permission".into(), json!({"channel": p.channel, "is": is}));
            }
            Rule::Segment(id) => {
                out.insert("segment".into(), json!(id));
            }
        }
        Value::Object(out)
    }
}

fn query(q: &EventQuery) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("event".into(), json!(q.event));
    if let Some(w) = q.within {
        out.insert("within".into(), json!(w.to_string()));
    }
    put_filters(&mut out, "where", &q.filters);
    out
}

fn put_filters(out: &mut Map<String, Value>, key: &str, filters: &[Condition]) {
    if !filters.is_empty() {
        let list = filters.iter().map(|c| condition(c, "property")).collect();
        out.insert(key.into(), Value::Array(list));
    }
}

fn condition(c: &Condition, key_field: &str) -> Value {
    let operand = match &c.test {
        Test::Equals(v) | Test::NotEquals(v) | Test::Contains(v) => v.clone(),
        Test::In(values) | Test::NotIn(values) => Value::Array(values.clone()),
        Test::Exists(b) => Value::Bool(*b),
        Test::Compare(cmp) => number(cmp.value),
    };
    let mut out = Map::new();
    out.insert(key_field.into(), json!(c.key));
    out.insert(test_key(&c.test).into(), operand);
    Value::Object(out)
}

/// A single item is written bare, the way people write it by hand.
fn one_or_many<T>(items: &[T], each: impl Fn(&T) -> Value) -> Value {
    match items {
        [one] => each(one),
        many => many.iter().map(each).collect(),
    }
}

/// Whole numbers are written as integers (`1`, not `1.0`).
fn number(v: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT {
        json!(v as i64)
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

impl Serialize for SegmentDefinition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// Parses and validates, with the same path-bearing errors as [`SegmentDefinition::parse`].
impl<'de> Deserialize<'de> for SegmentDefinition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        SegmentDefinition::from_value(&value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::super::duration::Window;
    use super::*;

    fn every_kind() -> SegmentDefinition {
        SegmentDefinition::parse(
            &json!({"schema": 1, "id": "everything", "name": "Everything", "description": "all kinds",
                "rule": {"any": [
                    {"not": {"segment": "vip"}},
                    {"all": [{"inactive_for": "30d"}, {"trait": "plan", "in": ["gold", "silver"]}]},
                    {"count": {"event": "Product Viewed", "within": "7d", "per": "category",
                               "where": [{"property": "price", "more_than": 10.5}, {"property": "brand", "exists": false}]}, "exactly": 3},
                    {"sum": {"event": "Order Completed", "property": ["revenue", "total"], "within": "365d"}, "at_least": 500},
                    {"average": {"event": "Product Viewed", "property": "price"}, "less_than": 20.25},
                    {"last": {"event": "Order Completed", "where": [{"property": "currency", "not_equals": "USD"}]}, "older_than": "2w"},
                    {"none_since_last": {"event": "Order Completed", "after": "Product Added",
                                         "where": [{"property": "tags", "contains": "gift"}],
                                         "after_where": [{"property": "qty", "at_most": 3}]}},
                    {"trait": "age", "at_least": 18},
                    {"permission": {"channel": "push", "is": ["subscribed", "opted_in"]}},
                    {"permission": {"channel": "email", "is": "opted_in"}}
                ]}})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        let def = every_kind();
        let again = SegmentDefinition::parse(&def.to_json()).unwrap();
        assert_eq!(again, def);
        assert_eq!(again.to_value(), def.to_value());
    }

    #[test]
    fn writes_the_shape_people_write_by_hand() {
        let def = SegmentDefinition {
            id: "cart".into(),
            name: "Cart".into(),
            description: None,
            rule: Rule::All(vec![
                Rule::count(
                    EventQuery::new("Product Added").within(Window::hours(24)),
                    Comparison::at_least(1.0),
                ),
                Rule::Permission(PermissionRule {
                    channel: "push".into(),
                    is: vec![PermissionState::OptedIn],
                }),
            ]),
        };
        assert_eq!(
            def.to_value(),
            json!({"schema": 1, "id": "cart", "name": "Cart", "rule": {"all": [
                {"count": {"event": "Product Added", "within": "24h"}, "at_least": 1},
                {"permission": {"channel": "push", "is": "opted_in"}}
            ]}})
        );
        let text = def.to_json();
        assert!(
            text.contains("\"at_least\":1") && !text.contains("1.0"),
            "whole numbers stay integers: {text}"
        );
    }

    #[test]
    fn serde_reads_and_writes_through_the_same_parser() {
        let def = every_kind();
        let text = serde_json::to_string(&def).unwrap();
        let back: SegmentDefinition = serde_json::from_str(&text).unwrap();
        assert_eq!(back, def);
        let rule_text = serde_json::to_string(&def.rule).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&rule_text).unwrap(),
            def.rule.to_value()
        );
        let err = serde_json::from_str::<SegmentDefinition>(
            r#"{"schema": 1, "id": "s", "name": "S", "rule": {"count": {"event": "A", "within": "3x"}, "at_least": 1}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "segment \"s\": rule.count.within: \"3x\" is not a duration; use 30m, 24h or 7d"
        );
        let invalid = serde_json::from_str::<SegmentDefinition>(
            r#"{"schema": 1, "id": "s", "name": "S", "rule": {"all": []}}"#,
        )
        .unwrap_err();
        assert!(
            invalid
                .to_string()
                .contains("rule.all: must list at least one rule"),
            "{invalid}"
        );
    }

    #[test]
    fn large_and_fractional_numbers_stay_exact() {
        assert_eq!(number(3.0), json!(3));
        assert_eq!(number(0.5), json!(0.5));
        assert_eq!(number(1e300), json!(1e300));
    }
}
