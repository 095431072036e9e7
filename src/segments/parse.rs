//! JSON → [`SegmentDefinition`], walking a `serde_json::Value` by hand so every shape
//! error carries the path of the offending field (serde's derive would only say
//! "invalid type" with a line and column). Range and format checks live in
//! `validate.rs`, so definitions built in Rust get the same checks.

use serde_json::{Map, Value};

use super::definition::*;
use super::duration::Window;
use super::error::{field, index, DefinitionError};
use super::validate::is_valid_id;
use crate::text::quote;

type Result<T> = std::result::Result<T, DefinitionError>;

pub(crate) const RULE_KINDS: [&str; 12] = [
    "all",
    "any",
    "not",
    "count",
    "sum",
    "average",
    "last",
    "inactive_for",
    "none_since_last",
    "trait",
    "permission",
    "segment",
];

const COMPARISON_KEYS: [&str; 5] = ["at_least", "at_most", "exactly", "more_than", "less_than"];

const TEST_KEYS: [&str; 11] = [
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "exists",
    "at_least",
    "at_most",
    "exactly",
    "more_than",
    "less_than",
];

/// Parses and shape-checks a definition; `validate` is the caller's next step.
pub(crate) fn parse_str(json: &str) -> Result<SegmentDefinition> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| DefinitionError::new("", format!("not valid JSON: {e}")))?;
    parse_value(&value)
}

pub(crate) fn parse_value(value: &Value) -> Result<SegmentDefinition> {
    let obj = Obj::new(value, "", "a segment definition object")?;
    // The version comes first: a newer document may well use fields this engine does
    // not know, and "unsupported version" is the error that explains them.
    let version = obj
        .get("schema")
        .ok_or_else(|| err("schema", "is required; this engine reads version 1"))?;
    match version.as_u64() {
        Some(SCHEMA_VERSION) => {}
        Some(other) => return Err(unsupported_version(other)),
        None => {
            let found = show(version);
            let problem = format!("expected a version number such as 1, found {found}");
            return Err(err("schema", problem));
        }
    }
    let id = obj.string("id")?;
    let tag = |e: DefinitionError| {
        if is_valid_id(id) {
            e.in_segment(id)
        } else {
            e
        }
    };
    obj.only(
        &["schema", "id", "name", "description", "rule"],
        "in a segment definition",
    )
    .map_err(tag)?;
    let name = obj.string("name").map_err(tag)?;
    let description = obj.opt_string("description").map_err(tag)?;
    let rule = parse_rule(obj.required("rule").map_err(tag)?, "rule").map_err(tag)?;
    Ok(SegmentDefinition {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.map(str::to_owned),
        rule,
    })
}

impl SegmentDefinition {
    /// Reads a definition from JSON and validates it; errors name the offending field.
    pub fn parse(json: &str) -> Result<SegmentDefinition> {
        let definition = parse_str(json)?;
        definition.validate()?;
        Ok(definition)
    }

    /// As [`SegmentDefinition::parse`], for JSON already parsed (a sync document, a
    /// database column).
    pub fn from_value(value: &Value) -> Result<SegmentDefinition> {
        let definition = parse_value(value)?;
        definition.validate()?;
        Ok(definition)
    }
}

pub(crate) fn parse_rule(value: &Value, path: &str) -> Result<Rule> {
    let obj = Obj::new(value, path, "a rule object such as {\"all\": [...]}")?;
    let kinds: Vec<&str> = obj
        .map
        .keys()
        .map(String::as_str)
        .filter(|k| RULE_KINDS.contains(k))
        .collect();
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(match obj.map.keys().next() {
                None => err(path, format!("empty rule; expected one of {}", list(&RULE_KINDS))),
                Some(key) => err(
                    field(path, key),
                    format!("is not a rule kind; expected one of {}", list(&RULE_KINDS)),
                ),
            })
        }
        [a, b, ..] => {
            return Err(err(
                path,
                format!(
                    "has both {} and {}; a rule object holds one kind, combine rules with \"all\" or \"any\"",
                    quote(a),
                    quote(b)
                ),
            ))
        }
    };
    let inner = field(path, kind);
    let body = obj.required(kind)?;
    let context = format!("in a {kind:?} rule");
    match kind {
        "all" | "any" => {
            obj.only(&[kind], &context)?;
            let items = array(body, &inner)?;
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_rule(item, &index(&inner, i)))
                .collect::<Result<Vec<_>>>()?;
            Ok(if kind == "all" {
                Rule::All(rules)
            } else {
                Rule::Any(rules)
            })
        }
        "not" => {
            obj.only(&["not"], &context)?;
            Ok(Rule::Not(Box::new(parse_rule(body, &inner)?)))
        }
        "count" => {
            obj.only(&with(kind, &COMPARISON_KEYS), &context)?;
            let q = Obj::new(
                body,
                &inner,
                "an object such as {\"event\": \"Product Added\"}",
            )?;
            q.only(&["event", "within", "where", "per"], "in a count")?;
            let query = parse_query(&q)?;
            let per = q.opt_string("per")?.map(str::to_owned);
            let compare = parse_comparison(&obj, kind)?;
            Ok(Rule::Count(CountRule {
                query,
                per,
                compare,
            }))
        }
        "sum" | "average" => {
            obj.only(&with(kind, &COMPARISON_KEYS), &context)?;
            let q = Obj::new(
                body,
                &inner,
                "an object such as {\"event\": \"Order Completed\", \"property\": \"revenue\"}",
            )?;
            q.only(
                &["event", "property", "within", "where"],
                &format!("in a {kind}"),
            )?;
            let query = parse_query(&q)?;
            let property = parse_keys(q.required("property")?, &q.path("property"))?;
            let compare = parse_comparison(&obj, kind)?;
            let rule = AggregateRule {
                query,
                property,
                compare,
            };
            Ok(if kind == "sum" {
                Rule::Sum(rule)
            } else {
                Rule::Average(rule)
            })
        }
        "last" => {
            obj.only(&["last", "older_than"], &context)?;
            let q = Obj::new(
                body,
                &inner,
                "an object such as {\"event\": \"Order Completed\"}",
            )?;
            q.only(&["event", "where"], "in a last")?;
            Ok(Rule::Last(LastRule {
                event: q.string("event")?.to_owned(),
                filters: parse_filters(q.get("where"), &q.path("where"))?,
                older_than: parse_window(obj.required("older_than")?, &obj.path("older_than"))?,
            }))
        }
        "inactive_for" => {
            obj.only(&[kind], &context)?;
            Ok(Rule::InactiveFor(parse_window(body, &inner)?))
        }
        "none_since_last" => {
            obj.only(&[kind], &context)?;
            let q = Obj::new(
                body,
                &inner,
                "an object such as {\"event\": \"Order Completed\", \"after\": \"Product Added\"}",
            )?;
            q.only(
                &["event", "after", "where", "after_where"],
                "in none_since_last",
            )?;
            Ok(Rule::NoneSinceLast(NoneSinceLastRule {
                event: q.string("event")?.to_owned(),
                filters: parse_filters(q.get("where"), &q.path("where"))?,
                after: q.string("after")?.to_owned(),
                after_filters: parse_filters(q.get("after_where"), &q.path("after_where"))?,
            }))
        }
        "trait" => Ok(Rule::Trait(parse_condition(
            &obj,
            "trait",
            "combine trait rules with \"all\"",
        )?)),
        "permission" => {
            obj.only(&[kind], &context)?;
            let p = Obj::new(
                body,
                &inner,
                "an object such as {\"channel\": \"push\", \"is\": \"opted_in\"}",
            )?;
            p.only(&["channel", "is"], "in a permission")?;
            let channel = p.string("channel")?.to_owned();
            let is_path = p.path("is");
            let is = match p.required("is")? {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_state(item, &index(&is_path, i)))
                    .collect::<Result<Vec<_>>>()?,
                single => vec![parse_state(single, &is_path)?],
            };
            Ok(Rule::Permission(PermissionRule { channel, is }))
        }
        "segment" => {
            obj.only(&[kind], &context)?;
            Ok(Rule::Segment(string(body, &inner)?.to_owned()))
        }
        _ => unreachable!("every entry of RULE_KINDS is handled above"),
    }
}

fn parse_query(q: &Obj) -> Result<EventQuery> {
    Ok(EventQuery {
        event: q.string("event")?.to_owned(),
        within: q
            .get("within")
            .map(|w| parse_window(w, &q.path("within")))
            .transpose()?,
        filters: parse_filters(q.get("where"), &q.path("where"))?,
    })
}

fn parse_comparison(obj: &Obj, kind: &str) -> Result<Comparison> {
    let key = one_of(
        obj,
        &COMPARISON_KEYS,
        || {
            format!(
                "a {kind:?} rule needs a comparison: {}",
                list(&COMPARISON_KEYS)
            )
        },
        "use one comparison (combine two rules with \"all\" for a range)",
    )?;
    let op = CompareOp::from_key(key).expect("COMPARISON_KEYS are CompareOp keys");
    let value = number(obj.required(key)?, &obj.path(key))?;
    Ok(Comparison { op, value })
}

/// The one key of `keys` the object holds; none or several is an error.
fn one_of<'k>(
    obj: &Obj,
    keys: &[&'k str],
    missing: impl FnOnce() -> String,
    use_one: &str,
) -> Result<&'k str> {
    let present: Vec<&'k str> = keys
        .iter()
        .copied()
        .filter(|k| obj.map.contains_key(*k))
        .collect();
    match present.as_slice() {
        [key] => Ok(key),
        [] => Err(err(obj.path, missing())),
        [a, b, ..] => Err(err(
            obj.path,
            format!("has both {} and {}; {use_one}", quote(a), quote(b)),
        )),
    }
}

fn parse_filters(value: Option<&Value>, path: &str) -> Result<Vec<Condition>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    array(value, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = index(path, i);
            let obj = Obj::new(
                item,
                &at,
                "a condition such as {\"property\": \"category\", \"equals\": \"Shoes\"}",
            )?;
            parse_condition(
                &obj,
                "property",
                "list several conditions to require them all",
            )
        })
        .collect()
}

/// A condition is `{<key_field>: key, <test>: operand}`, for `where` entries and for
/// trait rules alike.
fn parse_condition(obj: &Obj, key_field: &str, combine_hint: &str) -> Result<Condition> {
    let context = if key_field == "trait" {
        "in a \"trait\" rule".to_owned()
    } else {
        "in a condition".to_owned()
    };
    obj.only(&with(key_field, &TEST_KEYS), &context)?;
    let key = obj.string(key_field)?.to_owned();
    let test_key = one_of(
        obj,
        &TEST_KEYS,
        || format!("needs a test: one of {}", list(&TEST_KEYS)),
        &format!("use one test per condition ({combine_hint})"),
    )?;
    let at = obj.path(test_key);
    let operand = obj.required(test_key)?;
    let test = match test_key {
        "equals" => Test::Equals(scalar(operand, &at)?),
        "not_equals" => Test::NotEquals(scalar(operand, &at)?),
        "contains" => Test::Contains(scalar(operand, &at)?),
        "in" | "not_in" => {
            let values = array(operand, &at)?
                .iter()
                .enumerate()
                .map(|(i, v)| scalar(v, &index(&at, i)))
                .collect::<Result<Vec<_>>>()?;
            if test_key == "in" {
                Test::In(values)
            } else {
                Test::NotIn(values)
            }
        }
        "exists" => match operand {
            Value::Bool(b) => Test::Exists(*b),
            other => {
                return Err(err(
                    at,
                    format!("expected true or false, found {}", show(other)),
                ))
            }
        },
        op => Test::Compare(Comparison {
            op: CompareOp::from_key(op).expect("remaining TEST_KEYS are comparisons"),
            value: number(operand, &at)?,
        }),
    };
    Ok(Condition { key, test })
}

fn parse_keys(value: &Value, path: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| string(item, &index(path, i)).map(str::to_owned))
            .collect(),
        Value::String(key) => Ok(vec![key.clone()]),
        other => Err(err(
            path,
            format!(
                "expected a property key or a list of them, found {}",
                show(other)
            ),
        )),
    }
}

fn parse_window(value: &Value, path: &str) -> Result<Window> {
    Window::parse(string(value, path)?).map_err(|problem| err(path, problem))
}

fn parse_state(value: &Value, path: &str) -> Result<PermissionState> {
    let name = string(value, path)?;
    name.parse().map_err(|_| {
        err(
            path,
            format!(
                "{} is not a permission state; use subscribed, opted_in or unsubscribed",
                quote(name)
            ),
        )
    })
}

/// One JSON object being read, with the path it sits at.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: &'a str, what: &str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(err(path, format!("expected {what}, found {}", show(other)))),
        }
    }

    fn path(&self, key: &str) -> String {
        field(self.path, key)
    }

    /// Refuses unknown keys, so a typo is an error instead of a silently ignored filter.
    fn only(&self, allowed: &[&str], context: &str) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(err(
                self.path(key),
                format!("is not allowed {context}; expected {}", list(allowed)),
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key)
            .ok_or_else(|| err(self.path(key), "is required"))
    }

    fn string(&self, key: &str) -> Result<&'a str> {
        string(self.required(key)?, &self.path(key))
    }

    fn opt_string(&self, key: &str) -> Result<Option<&'a str>> {
        self.get(key)
            .map(|v| string(v, &self.path(key)))
            .transpose()
    }
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| err(path, format!("expected a string, found {}", show(value))))
}

fn number(value: &Value, path: &str) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| err(path, format!("expected a number, found {}", show(value))))
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| err(path, format!("expected a list, found {}", show(value))))
}

fn scalar(value: &Value, path: &str) -> Result<Value> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value.clone()),
        other => Err(err(
            path,
            format!(
                "expected a string, number or boolean, found {}",
                show(other)
            ),
        )),
    }
}

fn unsupported_version(version: u64) -> DefinitionError {
    let problem =
        format!("version {version} is not supported; this engine reads version {SCHEMA_VERSION}");
    err("schema", problem)
}

fn err(path: impl Into<String>, problem: impl Into<String>) -> DefinitionError {
    DefinitionError::new(path, problem)
}

/// Names a JSON value in an error: its kind, and the value itself when it is short.
fn show(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => return "a list".to_owned(),
        Value::Object(_) => return "an object".to_owned(),
    };
    let text = value.to_string();
    if text.chars().count() <= 40 {
        format!("{kind} ({text})")
    } else {
        kind.to_owned()
    }
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

fn with<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(first).chain(rest.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(rule: Value) -> String {
        json!({"schema": 1, "id": "s", "name": "S", "rule": rule}).to_string()
    }

    /// The path and problem of the error a document produces.
    fn error_of(json: &str) -> (String, String) {
        let e = parse_str(json).expect_err("should be refused");
        (e.path, e.problem)
    }

    fn rule_error(rule: Value) -> (String, String) {
        error_of(&doc(rule))
    }

    #[test]
    fn parses_the_cart_abandoner_example() {
        let def = parse_str(&doc(json!({"all": [
            {"count": {"event": "Product Added", "within": "24h"}, "at_least": 1},
            {"none_since_last": {"event": "Order Completed", "after": "Product Added"}}
        ]})))
        .unwrap();
        let Rule::All(rules) = &def.rule else {
            panic!("{:?}", def.rule)
        };
        assert_eq!(
            rules[0],
            Rule::count(
                EventQuery::new("Product Added").within(Window::hours(24)),
                Comparison::at_least(1.0)
            )
        );
        assert_eq!(
            rules[1],
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: "Order Completed".into(),
                filters: vec![],
                after: "Product Added".into(),
                after_filters: vec![],
            })
        );
    }

    #[test]
    fn parses_every_rule_kind() {
        let def = parse_str(&doc(json!({"any": [
            {"not": {"segment": "vip"}},
            {"count": {"event": "Product Viewed", "within": "7d", "per": "category",
                       "where": [{"property": "price", "more_than": 10}]}, "exactly": 3},
            {"sum": {"event": "Order Completed", "property": ["revenue", "total"]}, "at_least": 500},
            {"average": {"event": "Product Viewed", "property": "price", "within": "30m"}, "less_than": 20.5},
            {"last": {"event": "Order Completed", "where": [{"property": "currency", "in": ["EUR", "USD"]}]}, "older_than": "30d"},
            {"inactive_for": "2w"},
            {"none_since_last": {"event": "Order Completed", "after": "Product Added",
                                 "where": [{"property": "total", "exists": true}],
                                 "after_where": [{"property": "brand", "not_in": ["x", 1, true]}]}},
            {"trait": "plan", "not_equals": "free"},
            {"trait": "tags", "contains": "beta"},
            {"permission": {"channel": "push", "is": ["subscribed", "opted_in"]}},
            {"permission": {"channel": "email", "is": "unsubscribed"}}
        ]})))
        .unwrap();
        let Rule::Any(rules) = def.rule else { panic!() };
        assert_eq!(rules.len(), 11);
        assert_eq!(rules[0], Rule::Not(Box::new(Rule::Segment("vip".into()))));
        assert_eq!(
            rules[1],
            Rule::Count(CountRule {
                query: EventQuery::new("Product Viewed")
                    .within(Window::days(7))
                    .filter(Condition::new(
                        "price",
                        Test::Compare(Comparison::more_than(10.0))
                    )),
                per: Some("category".into()),
                compare: Comparison::exactly(3.0),
            })
        );
        assert_eq!(
            rules[2],
            Rule::Sum(AggregateRule {
                query: EventQuery::new("Order Completed"),
                property: vec!["revenue".into(), "total".into()],
                compare: Comparison::at_least(500.0),
            })
        );
        assert!(
            matches!(&rules[3], Rule::Average(a) if a.compare == Comparison::less_than(20.5) && a.property == ["price"])
        );
        assert!(
            matches!(&rules[4], Rule::Last(l) if l.older_than == Window::days(30)
            && l.filters[0].test == Test::In(vec![json!("EUR"), json!("USD")]))
        );
        assert_eq!(rules[5], Rule::InactiveFor(Window::weeks(2)));
        assert!(matches!(&rules[6], Rule::NoneSinceLast(n)
            if n.filters[0].test == Test::Exists(true)
            && n.after_filters[0].test == Test::NotIn(vec![json!("x"), json!(1), json!(true)])));
        assert_eq!(
            rules[7],
            Rule::Trait(Condition::new("plan", Test::NotEquals(json!("free"))))
        );
        assert_eq!(
            rules[8],
            Rule::Trait(Condition::new("tags", Test::Contains(json!("beta"))))
        );
        assert_eq!(
            rules[9],
            Rule::Permission(PermissionRule {
                channel: "push".into(),
                is: vec![PermissionState::Subscribed, PermissionState::OptedIn],
            })
        );
        assert!(
            matches!(&rules[10], Rule::Permission(p) if p.is == [PermissionState::Unsubscribed])
        );
    }

    #[test]
    fn errors_show_only_the_start_of_long_keys_and_values() {
        let (a, b) = ("a".repeat(5_000), "b".repeat(5_000));
        let (path, problem) = rule_error(json!({a.clone(): [], b.clone(): []}));
        assert!(path.len() < 100 && path.contains('…'), "{path}");
        assert!(problem.len() < 300, "{problem}");
        let (_, problem) = rule_error(json!({"all": [], "any": [], a.clone(): []}));
        assert!(problem.len() < 300, "{problem}");
        let (path, problem) =
            rule_error(json!({"count": {"event": "A", "within": a}, "at_least": 1}));
        assert_eq!(path, "rule.count.within");
        assert!(problem.len() < 200 && problem.contains('…'), "{problem}");
        let (path, _) = rule_error(json!({"trait": "plan", "equals": 1, b.clone(): 1}));
        assert!(path.len() < 200 && path.contains('…'), "{path}");
    }

    #[test]
    fn description_is_optional_and_kept() {
        let json = json!({"schema": 1, "id": "s", "name": "S", "description": "why", "rule": {"segment": "x"}});
        let def = parse_str(&json.to_string()).unwrap();
        assert_eq!(def.description.as_deref(), Some("why"));
    }

    #[test]
    fn refuses_documents_that_are_not_definitions() {
        let (path, problem) = error_of("{\"schema\": 1,");
        assert_eq!(path, "");
        assert!(problem.starts_with("not valid JSON: "), "{problem}");
        assert_eq!(
            error_of("[1]"),
            (
                "".into(),
                "expected a segment definition object, found a list".into()
            )
        );
    }

    #[test]
    fn schema_version_must_be_1_and_is_checked_before_anything_else() {
        let missing = json!({"id": "s", "name": "S", "rule": {"segment": "x"}}).to_string();
        assert_eq!(
            error_of(&missing),
            (
                "schema".into(),
                "is required; this engine reads version 1".into()
            )
        );
        let future =
            json!({"schema": 2, "id": "s", "name": "S", "rule": {"newfangled": {}}, "extra": 1});
        assert_eq!(
            error_of(&future.to_string()),
            (
                "schema".into(),
                "version 2 is not supported; this engine reads version 1".into()
            )
        );
        let text = json!({"schema": "1", "id": "s", "name": "S", "rule": {"segment": "x"}});
        assert_eq!(
            error_of(&text.to_string()),
            (
                "schema".into(),
                "expected a version number such as 1, found a string (\"1\")".into()
            )
        );
        let fraction = json!({"schema": 1.5, "id": "s", "name": "S", "rule": {"segment": "x"}});
        assert_eq!(error_of(&fraction.to_string()).0, "schema");
    }

    #[test]
    fn top_level_fields_are_required_typed_and_known() {
        let cases = [
            (json!({"schema": 1, "name": "S", "rule": {}}), "id", "is required"),
            (json!({"schema": 1, "id": 5, "name": "S", "rule": {}}), "id", "expected a string, found a number (5)"),
            (json!({"schema": 1, "id": "s", "rule": {}}), "name", "is required"),
            (json!({"schema": 1, "id": "s", "name": "S"}), "rule", "is required"),
            (json!({"schema": 1, "id": "s", "name": "S", "description": 1, "rule": {}}), "description", "expected a string, found a number (1)"),
            (
                json!({"schema": 1, "id": "s", "name": "S", "rule": {"segment": "x"}, "rules": []}),
                "rules",
                "is not allowed in a segment definition; expected schema, id, name, description, rule",
            ),
        ];
        for (json, path, problem) in cases {
            assert_eq!(
                error_of(&json.to_string()),
                (path.into(), problem.into()),
                "{json}"
            );
        }
    }

    #[test]
    fn errors_carry_the_segment_id_once_it_is_known() {
        let e = parse_str(&doc(json!({"nope": 1}))).unwrap_err();
        assert_eq!(e.segment.as_deref(), Some("s"));
        assert_eq!(
            e.to_string(),
            format!(
                "segment \"s\": rule.nope: is not a rule kind; expected one of {}",
                RULE_KINDS.join(", ")
            )
        );
        let bad_id = json!({"schema": 1, "id": "Bad Id", "name": "S"}).to_string();
        assert_eq!(parse_str(&bad_id).unwrap_err().segment, None);
    }

    #[test]
    fn rule_shape_errors_point_at_the_rule() {
        let kinds = RULE_KINDS.join(", ");
        let cases = [
            (json!("all"), "rule", "expected a rule object such as {\"all\": [...]}, found a string (\"all\")".to_owned()),
            (json!({}), "rule", format!("empty rule; expected one of {kinds}")),
            (json!({"al": []}), "rule.al", format!("is not a rule kind; expected one of {kinds}")),
            (
                json!({"count": {"event": "A"}, "sum": {}, "at_least": 1}),
                "rule",
                "has both \"count\" and \"sum\"; a rule object holds one kind, combine rules with \"all\" or \"any\"".to_owned(),
            ),
            (json!({"all": {}}), "rule.all", "expected a list, found an object".to_owned()),
            (json!({"all": [{"segment": "a"}, {"not": 3}]}), "rule.all[1].not", "expected a rule object such as {\"all\": [...]}, found a number (3)".to_owned()),
            (json!({"any": [{"segment": "a", "extra": 1}]}), "rule.any[0].extra", "is not allowed in a \"segment\" rule; expected segment".to_owned()),
            (json!({"segment": 7}), "rule.segment", "expected a string, found a number (7)".to_owned()),
            (json!({"inactive_for": 30}), "rule.inactive_for", "expected a string, found a number (30)".to_owned()),
        ];
        for (rule, path, problem) in cases {
            assert_eq!(rule_error(rule.clone()), (path.into(), problem), "{rule}");
        }
    }

    #[test]
    fn count_errors_point_at_the_field() {
        let cmp = COMPARISON_KEYS.join(", ");
        let cases = [
            (
                json!({"all": [{"segment": "a"}, {"count": {"event": "A", "within": "3x"}, "at_least": 1}]}),
                "rule.all[1].count.within",
                "\"3x\" is not a duration; use 30m, 24h or 7d".to_owned(),
            ),
            (json!({"count": {"within": "1d"}, "at_least": 1}), "rule.count.event", "is required".to_owned()),
            (json!({"count": "A", "at_least": 1}), "rule.count", "expected an object such as {\"event\": \"Product Added\"}, found a string (\"A\")".to_owned()),
            (
                json!({"count": {"event": "A", "withn": "1d"}, "at_least": 1}),
                "rule.count.withn",
                "is not allowed in a count; expected event, within, where, per".to_owned(),
            ),
            (json!({"count": {"event": "A"}}), "rule", format!("a \"count\" rule needs a comparison: {cmp}")),
            (
                json!({"count": {"event": "A"}, "at_least": 1, "at_most": 3}),
                "rule",
                "has both \"at_least\" and \"at_most\"; use one comparison (combine two rules with \"all\" for a range)".to_owned(),
            ),
            (json!({"count": {"event": "A"}, "at_least": "1"}), "rule.at_least", "expected a number, found a string (\"1\")".to_owned()),
            (
                json!({"count": {"event": "A"}, "at_least": 1, "equals": 1}),
                "rule.equals",
                format!("is not allowed in a \"count\" rule; expected count, {cmp}"),
            ),
            (json!({"count": {"event": "A", "per": 1}, "at_least": 1}), "rule.count.per", "expected a string, found a number (1)".to_owned()),
        ];
        for (rule, path, problem) in cases {
            assert_eq!(rule_error(rule.clone()), (path.into(), problem), "{rule}");
        }
    }

    #[test]
    fn aggregate_recency_and_since_errors_point_at_the_field() {
        let cases = [
            (
                json!({"sum": {"event": "A"}, "at_least": 1}),
                "rule.sum.property",
                "is required",
            ),
            (
                json!({"average": {"event": "A", "property": 3}, "at_least": 1}),
                "rule.average.property",
                "expected a property key or a list of them, found a number (3)",
            ),
            (
                json!({"sum": {"event": "A", "property": ["a", 2]}, "at_least": 1}),
                "rule.sum.property[1]",
                "expected a string, found a number (2)",
            ),
            (
                json!({"sum": {"event": "A", "property": "a", "per": "b"}, "at_least": 1}),
                "rule.sum.per",
                "is not allowed in a sum; expected event, property, within, where",
            ),
            (
                json!({"last": {"event": "A"}}),
                "rule.older_than",
                "is required",
            ),
            (
                json!({"last": {"event": "A"}, "older_than": "30"}),
                "rule.older_than",
                "\"30\" is not a duration; use 30m, 24h or 7d",
            ),
            (
                json!({"last": {"event": "A", "within": "1d"}, "older_than": "30d"}),
                "rule.last.within",
                "is not allowed in a last; expected event, where",
            ),
            (
                json!({"none_since_last": {"event": "A"}}),
                "rule.none_since_last.after",
                "is required",
            ),
            (
                json!({"none_since_last": {"event": "A", "after": "B", "after_where": {}}}),
                "rule.none_since_last.after_where",
                "expected a list, found an object",
            ),
        ];
        for (rule, path, problem) in cases {
            assert_eq!(
                rule_error(rule.clone()),
                (path.into(), problem.into()),
                "{rule}"
            );
        }
    }

    #[test]
    fn condition_errors_point_at_the_condition() {
        let tests = TEST_KEYS.join(", ");
        let filtered = |condition: Value| json!({"count": {"event": "A", "where": [{"property": "a", "exists": true}, condition]}, "at_least": 1});
        let cases = [
            (filtered(json!("x")), "rule.count.where[1]", "expected a condition such as {\"property\": \"category\", \"equals\": \"Shoes\"}, found a string (\"x\")".to_owned()),
            (filtered(json!({"equals": "x"})), "rule.count.where[1].property", "is required".to_owned()),
            (filtered(json!({"property": "a"})), "rule.count.where[1]", format!("needs a test: one of {tests}")),
            (
                filtered(json!({"property": "a", "equals": 1, "in": [1]})),
                "rule.count.where[1]",
                "has both \"equals\" and \"in\"; use one test per condition (list several conditions to require them all)".to_owned(),
            ),
            (filtered(json!({"property": "a", "equals": null})), "rule.count.where[1].equals", "expected a string, number or boolean, found null".to_owned()),
            (filtered(json!({"property": "a", "in": "x"})), "rule.count.where[1].in", "expected a list, found a string (\"x\")".to_owned()),
            (filtered(json!({"property": "a", "not_in": ["x", [1]]})), "rule.count.where[1].not_in[1]", "expected a string, number or boolean, found a list".to_owned()),
            (filtered(json!({"property": "a", "exists": "yes"})), "rule.count.where[1].exists", "expected true or false, found a string (\"yes\")".to_owned()),
            (filtered(json!({"property": "a", "at_most": "5"})), "rule.count.where[1].at_most", "expected a number, found a string (\"5\")".to_owned()),
            (filtered(json!({"property": "a", "eq": 1})), "rule.count.where[1].eq", format!("is not allowed in a condition; expected property, {tests}")),
            (json!({"trait": "plan"}), "rule", format!("needs a test: one of {tests}")),
            (
                json!({"trait": "plan", "equals": "a", "exists": true}),
                "rule",
                "has both \"equals\" and \"exists\"; use one test per condition (combine trait rules with \"all\")".to_owned(),
            ),
            (json!({"trait": "plan", "property": "x", "equals": 1}), "rule.property", format!("is not allowed in a \"trait\" rule; expected trait, {tests}")),
        ];
        for (rule, path, problem) in cases {
            assert_eq!(rule_error(rule.clone()), (path.into(), problem), "{rule}");
        }
    }

    #[test]
    fn permission_errors_point_at_the_field() {
        let cases = [
            (json!({"permission": "push"}), "rule.permission", "expected an object such as {\"channel\": \"push\", \"is\": \"opted_in\"}, found a string (\"push\")"),
            (json!({"permission": {"is": "opted_in"}}), "rule.permission.channel", "is required"),
            (json!({"permission": {"channel": "push"}}), "rule.permission.is", "is required"),
            (json!({"permission": {"channel": "push", "is": "optin"}}), "rule.permission.is", "\"optin\" is not a permission state; use subscribed, opted_in or unsubscribed"),
            (json!({"permission": {"channel": "push", "is": ["opted_in", 1]}}), "rule.permission.is[1]", "expected a string, found a number (1)"),
            (json!({"permission": {"channel": "push", "is": "opted_in", "state": 1}}), "rule.permission.state", "is not allowed in a permission; expected channel, is"),
        ];
        for (rule, path, problem) in cases {
            assert_eq!(
                rule_error(rule.clone()),
                (path.into(), problem.into()),
                "{rule}"
            );
        }
    }

    #[test]
    fn long_values_are_named_by_kind_only() {
        let long = "x".repeat(60);
        let (_, problem) = rule_error(json!({"inactive_for": {"a": long}}));
        assert_eq!(problem, "expected a string, found an object");
        let (_, problem) = rule_error(json!({"count": {"event": "A"}, "at_least": long}));
        assert_eq!(problem, "expected a number, found a string");
    }
}
