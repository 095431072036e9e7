//! Checks a definition's values (ids, names, windows, thresholds, keys, sizes) and a set
//! of definitions (unique ids, references that exist, no cycles). Paths match the JSON
//! the definition was written as, so an error reads the same whether the definition was
//! parsed or built in Rust.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::definition::*;
use super::duration::Window;
use super::error::{field, index, DefinitionError};
use crate::protocol::{check_key, check_name};
use crate::text::quote;

type Result<T> = std::result::Result<T, DefinitionError>;

/// Deepest nesting of `all` / `any` / `not`. Real audiences stay within 3–4 levels; the
/// cap keeps hostile definitions from exhausting the stack on device or server.
pub const MAX_RULE_DEPTH: usize = 16;
/// Most rules (leaves and combinators) in one definition.
pub const MAX_RULES: usize = 256;
/// Most conditions in one `where` list, and most values in one `in` list.
pub const MAX_CONDITIONS: usize = 32;
pub const MAX_LIST_VALUES: usize = 1_000;
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Longest string operand of a condition, in bytes.
pub const MAX_OPERAND_BYTES: usize = 1_024;
/// Punctuation allowed in display names besides letters, digits and spaces.
const NAME_PUNCTUATION: &str = "-_.,'&()/+:!?#%";

pub(crate) fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl SegmentDefinition {
    /// Checks everything about this definition that does not need the others
    /// (references are checked by [`super::SegmentSet::new`]).
    pub fn validate(&self) -> Result<()> {
        check_definition(self)
    }
}

/// Everything about one definition that can be checked without the others.
pub(crate) fn check_definition(def: &SegmentDefinition) -> Result<()> {
    let tag = |e: DefinitionError| {
        if is_valid_id(&def.id) {
            e.in_segment(&def.id)
        } else {
            e
        }
    };
    check_id("id", &def.id)?;
    check_display_name(&def.name).map_err(tag)?;
    if let Some(description) = &def.description {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(tag(err(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            )));
        }
        if description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(tag(err(
                "description",
                "must not contain control characters other than newlines",
            )));
        }
    }
    let mut walker = Walker {
        own_id: &def.id,
        rules: 0,
    };
    walker.rule(&def.rule, "rule", 1).map_err(tag)
}

fn check_id(path: &str, id: &str) -> Result<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(err(
            path,
            format!(
                "{} is not a valid segment id; use 1 to {MAX_ID_CHARS} lowercase letters, digits or underscores",
                quote(id)
            ),
        ))
    }
}

fn check_display_name(name: &str) -> Result<()> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Err(err("name", "must not be empty"));
    }
    if chars > MAX_NAME_CHARS {
        return Err(err(
            "name",
            format!("is {chars} characters, over the {MAX_NAME_CHARS}-character limit"),
        ));
    }
    if name.trim() != name {
        return Err(err("name", "must not start or end with spaces"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == ' ' || NAME_PUNCTUATION.contains(*c)))
    {
        return Err(err(
            "name",
            format!("contains {c:?}; use letters, digits, spaces and {NAME_PUNCTUATION}"),
        ));
    }
    Ok(())
}

struct Walker<'a> {
    own_id: &'a str,
    rules: usize,
}

impl Walker<'_> {
    fn rule(&mut self, rule: &Rule, path: &str, depth: usize) -> Result<()> {
        self.rules += 1;
        if self.rules > MAX_RULES {
            return Err(err(
                path,
                format!("the definition has more than {MAX_RULES} rules"),
            ));
        }
        if depth > MAX_RULE_DEPTH {
            return Err(err(
                path,
                format!("rules nest deeper than {MAX_RULE_DEPTH} levels"),
            ));
        }
        match rule {
            Rule::All(rules) | Rule::Any(rules) => {
                let kind = if matches!(rule, Rule::All(_)) {
                    "all"
                } else {
                    "any"
                };
                let at = field(path, kind);
                if rules.is_empty() {
                    return Err(err(at, "must list at least one rule"));
                }
                for (i, child) in rules.iter().enumerate() {
                    self.rule(child, &index(&at, i), depth + 1)?;
                }
                Ok(())
            }
            Rule::Not(child) => self.rule(child, &field(path, "not"), depth + 1),
            Rule::Count(count) => {
                let at = field(path, "count");
                check_query(&count.query, &at)?;
                if let Some(per) = &count.per {
                    key(&field(&at, "per"), per)?;
                }
                check_threshold(&count.compare, path, true)
            }
            Rule::Sum(agg) | Rule::Average(agg) => {
                let at = field(
                    path,
                    if matches!(rule, Rule::Sum(_)) {
                        "sum"
                    } else {
                        "average"
                    },
                );
                check_query(&agg.query, &at)?;
                let property = field(&at, "property");
                if agg.property.is_empty() {
                    return Err(err(property, "must name at least one property"));
                }
                if agg.property.len() > MAX_CONDITIONS {
                    return Err(err(
                        property,
                        format!("lists more than {MAX_CONDITIONS} properties"),
                    ));
                }
                for (i, k) in agg.property.iter().enumerate() {
                    // A single key is written as a plain string, so only lists get an index.
                    let at = if agg.property.len() == 1 {
                        property.clone()
                    } else {
                        index(&property, i)
                    };
                    key(&at, k)?;
                }
                check_threshold(&agg.compare, path, false)
            }
            Rule::Last(last) => {
                let at = field(path, "last");
                event(&field(&at, "event"), &last.event)?;
                check_filters(&last.filters, &field(&at, "where"))?;
                window(&field(path, "older_than"), &last.older_than)
            }
            Rule::InactiveFor(w) => window(&field(path, "inactive_for"), w),
            Rule::NoneSinceLast(since) => {
                let at = field(path, "none_since_last");
                event(&field(&at, "event"), &since.event)?;
                event(&field(&at, "after"), &since.after)?;
                // The last `after` would then always count as "since" and the rule could
                // never hold.
                if since.event == since.after {
                    return Err(err(
                        field(&at, "after"),
                        "must name a different event than \"event\"",
                    ));
                }
                check_filters(&since.filters, &field(&at, "where"))?;
                check_filters(&since.after_filters, &field(&at, "after_where"))
            }
            Rule::Trait(condition) => check_condition(condition, path, "trait"),
            Rule::Permission(permission) => {
                let at = field(path, "permission");
                let channel = &permission.channel;
                let channel_ok = (1..=32).contains(&channel.len())
                    && channel
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !channel_ok {
                    return Err(err(
                        field(&at, "channel"),
                        format!(
                            "{} is not a channel; use 1 to 32 lowercase letters, digits or underscores, such as push or email",
                            quote(channel)
                        ),
                    ));
                }
                if permission.is.is_empty() {
                    return Err(err(field(&at, "is"), "must name at least one state"));
                }
                Ok(())
            }
            Rule::Segment(id) => {
                let at = field(path, "segment");
                check_id(&at, id)?;
                if id == self.own_id {
                    return Err(err(at, "a segment cannot contain itself"));
                }
                Ok(())
            }
        }
    }
}

fn check_query(query: &EventQuery, path: &str) -> Result<()> {
    event(&field(path, "event"), &query.event)?;
    if let Some(w) = &query.within {
        window(&field(path, "within"), w)?;
    }
    check_filters(&query.filters, &field(path, "where"))
}

fn check_filters(filters: &[Condition], path: &str) -> Result<()> {
    if filters.len() > MAX_CONDITIONS {
        return Err(err(
            path,
            format!("lists more than {MAX_CONDITIONS} conditions"),
        ));
    }
    for (i, condition) in filters.iter().enumerate() {
        check_condition(condition, &index(path, i), "property")?;
    }
    Ok(())
}

/// `key_field` is where the key is written: `property` in a `where` entry, `trait` in
/// a trait rule; the test sits beside it.
fn check_condition(condition: &Condition, path: &str, key_field: &str) -> Result<()> {
    key(&field(path, key_field), &condition.key)?;
    let at = field(path, test_key(&condition.test));
    match &condition.test {
        Test::Equals(v) | Test::NotEquals(v) | Test::Contains(v) => operand(&at, v),
        Test::In(values) | Test::NotIn(values) => {
            if values.is_empty() {
                return Err(err(at, "must list at least one value"));
            }
            if values.len() > MAX_LIST_VALUES {
                return Err(err(at, format!("lists more than {MAX_LIST_VALUES} values")));
            }
            values
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| operand(&index(&at, i), v))
        }
        Test::Exists(_) => Ok(()),
        Test::Compare(c) => {
            if c.value.is_finite() {
                Ok(())
            } else {
                Err(err(at, "must be a finite number"))
            }
        }
    }
}

pub(crate) fn test_key(test: &Test) -> &'static str {
    match test {
        Test::Equals(_) => "equals",
        Test::NotEquals(_) => "not_equals",
        Test::In(_) => "in",
        Test::NotIn(_) => "not_in",
        Test::Contains(_) => "contains",
        Test::Exists(_) => "exists",
        Test::Compare(c) => c.op.key(),
    }
}

fn operand(path: &str, value: &Value) -> Result<()> {
    match value {
        Value::String(s) if s.len() > MAX_OPERAND_BYTES => Err(err(
            path,
            format!("is longer than {MAX_OPERAND_BYTES} bytes"),
        )),
        Value::String(_) | Value::Bool(_) => Ok(()),
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        _ => Err(err(path, "must be a string, a finite number or a boolean")),
    }
}

/// Thresholds of counts and aggregates sit beside the rule kind (`rule.at_least`).
fn check_threshold(compare: &Comparison, path: &str, whole: bool) -> Result<()> {
    let at = field(path, compare.op.key());
    let v = compare.value;
    if !v.is_finite() {
        return Err(err(at, "must be a finite number"));
    }
    if v < 0.0 {
        return Err(err(at, format!("must not be negative, found {v}")));
    }
    if whole && v.fract() != 0.0 {
        return Err(err(
            at,
            format!("must be a whole number of events, found {v}"),
        ));
    }
    Ok(())
}

fn event(path: &str, name: &str) -> Result<()> {
    check_name(path, name).map_err(|e| err(e.field, format!("event name {}", e.problem)))
}

fn key(path: &str, key: &str) -> Result<()> {
    // The protocol's messages start with "keys"/"key"; say "key" once, at this path.
    check_key(path, key).map_err(|e| {
        let problem = e
            .problem
            .strip_prefix("keys ")
            .or_else(|| e.problem.strip_prefix("key "))
            .unwrap_or(&e.problem);
        err(path, format!("key {problem}"))
    })
}

fn window(path: &str, w: &Window) -> Result<()> {
    w.check().map_err(|problem| err(path, problem))
}

fn err(path: impl Into<String>, problem: impl Into<String>) -> DefinitionError {
    DefinitionError::new(path, problem)
}

/// Checks a whole set: each definition, unique ids, references that exist, no cycles.
/// Returns the definitions' indices in evaluation order (every segment after the
/// segments it refers to), or every problem found.
pub(crate) fn check_set(
    defs: &[SegmentDefinition],
) -> std::result::Result<Vec<usize>, Vec<DefinitionError>> {
    let mut errors: Vec<DefinitionError> = defs
        .iter()
        .filter_map(|d| check_definition(d).err())
        .collect();
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, def) in defs.iter().enumerate() {
        if let Some(first) = by_id.insert(&def.id, i) {
            by_id.insert(&def.id, first);
            errors.push(
                err(
                    "id",
                    format!("is used by more than one definition (positions {first} and {i})"),
                )
                .in_segment(&def.id),
            );
        }
    }
    let refs: Vec<Vec<(String, String)>> = defs.iter().map(|d| segment_refs(&d.rule)).collect();
    for (def, refs) in defs.iter().zip(&refs) {
        for (id, path) in refs {
            if is_valid_id(id) && !by_id.contains_key(id.as_str()) {
                errors.push(
                    err(
                        path.clone(),
                        format!("{} is not a defined segment", quote(id)),
                    )
                    .in_segment(&def.id),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let edges: Vec<Vec<(usize, &str)>> = refs
        .iter()
        .map(|refs| {
            refs.iter()
                .map(|(id, path)| (by_id[id.as_str()], path.as_str()))
                .collect()
        })
        .collect();
    topological_order(defs, &edges)
}

/// Depth-first order with the usual three colours; a grey node reached again closes a
/// cycle, reported once with its whole loop.
fn topological_order(
    defs: &[SegmentDefinition],
    edges: &[Vec<(usize, &str)>],
) -> std::result::Result<Vec<usize>, Vec<DefinitionError>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; defs.len()];
    let mut order = Vec::with_capacity(defs.len());
    let mut errors = Vec::new();
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for root in 0..defs.len() {
        if colour[root] != Colour::White {
            continue;
        }
        // Iterative, so a long chain of references cannot overflow the stack.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        colour[root] = Colour::Grey;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&(target, path)) = edges[node].get(*next) {
                *next += 1;
                match colour[target] {
                    Colour::White => {
                        colour[target] = Colour::Grey;
                        stack.push((target, 0));
                    }
                    Colour::Grey => {
                        let start = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|(n, _)| *n).collect();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if reported.insert(key) {
                            cycle.push(target);
                            let names: Vec<&str> =
                                cycle.iter().map(|&n| defs[n].id.as_str()).collect();
                            errors.push(
                                err(
                                    path,
                                    format!("refers back to itself through {}", names.join(" → ")),
                                )
                                .in_segment(&defs[node].id),
                            );
                        }
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                order.push(node);
                stack.pop();
            }
        }
    }
    if errors.is_empty() {
        Ok(order)
    } else {
        Err(errors)
    }
}

/// Every `{"segment": id}` in a rule, with its path.
pub(crate) fn segment_refs(rule: &Rule) -> Vec<(String, String)> {
    fn walk(rule: &Rule, path: &str, out: &mut Vec<(String, String)>) {
        match rule {
            Rule::All(rules) | Rule::Any(rules) => {
                let at = field(
                    path,
                    if matches!(rule, Rule::All(_)) {
                        "all"
                    } else {
                        "any"
                    },
                );
                for (i, child) in rules.iter().enumerate() {
                    walk(child, &index(&at, i), out);
                }
            }
            Rule::Not(child) => walk(child, &field(path, "not"), out),
            Rule::Segment(id) => out.push((id.clone(), field(path, "segment"))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(rule, "rule", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(id: &str, rule: Rule) -> SegmentDefinition {
        SegmentDefinition {
            id: id.into(),
            name: "A segment".into(),
            description: None,
            rule,
        }
    }

    fn count(event: &str) -> Rule {
        Rule::count(EventQuery::new(event), Comparison::at_least(1.0))
    }

    fn error(d: &SegmentDefinition) -> (String, String) {
        let e = check_definition(d).expect_err("should be refused");
        (e.path, e.problem)
    }

    #[test]
    fn a_sound_definition_passes() {
        assert_eq!(
            check_definition(&def("cart_abandoner_2", count("Product Added"))),
            Ok(())
        );
    }

    #[test]
    fn ids_are_lowercase_words_of_at_most_64() {
        for bad in [
            "",
            "Cart",
            "cart-abandoner",
            "cart abandoner",
            "é",
            &"a".repeat(65),
        ] {
            let (path, problem) = error(&def(bad, count("A")));
            assert_eq!(path, "id");
            assert_eq!(
                problem,
                format!("{bad:?} is not a valid segment id; use 1 to 64 lowercase letters, digits or underscores")
            );
        }
        assert!(check_definition(&def(&"a".repeat(64), count("A"))).is_ok());
        assert!(check_definition(&def("0_9", count("A"))).is_ok());
    }

    #[test]
    fn names_have_a_sane_charset_and_length() {
        let named = |name: &str| SegmentDefinition {
            name: name.into(),
            ..def("s", count("A"))
        };
        assert!(
            check_definition(&named("Käufer (30 Tage) – no: wait")).is_err(),
            "en dash is not allowed"
        );
        assert!(check_definition(&named("Käufer (30 Tage), high-value #1: 50% off!")).is_ok());
        assert!(check_definition(&named("購入者")).is_ok());
        let cases = [
            ("", "must not be empty".to_owned()),
            ("   ", "must not be empty".to_owned()),
            (" padded", "must not start or end with spaces".to_owned()),
            (
                "a\nb",
                "contains '\\n'; use letters, digits, spaces and -_.,'&()/+:!?#%".to_owned(),
            ),
            (
                "<script>",
                "contains '<'; use letters, digits, spaces and -_.,'&()/+:!?#%".to_owned(),
            ),
            (
                &"n".repeat(101),
                "is 101 characters, over the 100-character limit".to_owned(),
            ),
        ];
        for (name, problem) in cases {
            let e = check_definition(&named(name)).unwrap_err();
            assert_eq!((e.path.as_str(), e.problem), ("name", problem), "{name:?}");
            assert_eq!(e.segment.as_deref(), Some("s"));
        }
        assert!(check_definition(&named(&"n".repeat(100))).is_ok());
    }

    #[test]
    fn descriptions_are_bounded_and_printable() {
        let described = |d: &str| SegmentDefinition {
            description: Some(d.into()),
            ..def("s", count("A"))
        };
        assert!(check_definition(&described("two\nlines")).is_ok());
        assert_eq!(error(&described("tab\there")).0, "description");
        assert_eq!(error(&described(&"d".repeat(1001))).0, "description");
    }

    #[test]
    fn windows_must_be_positive_and_at_most_400_days() {
        let within = |w: Window| {
            def(
                "s",
                Rule::All(vec![
                    count("A"),
                    Rule::count(EventQuery::new("B").within(w), Comparison::at_least(1.0)),
                ]),
            )
        };
        assert_eq!(
            error(&within(Window::days(0))),
            (
                "rule.all[1].count.within".into(),
                "\"0d\" must be longer than zero".into()
            )
        );
        assert_eq!(
            error(&within(Window::days(401))),
            (
                "rule.all[1].count.within".into(),
                "\"401d\" is longer than the 400-day limit".into()
            )
        );
        assert!(check_definition(&within(Window::days(400))).is_ok());
        let last = def(
            "s",
            Rule::Last(LastRule {
                event: "A".into(),
                filters: vec![],
                older_than: Window::weeks(60),
            }),
        );
        assert_eq!(error(&last).0, "rule.older_than");
        assert_eq!(
            error(&def("s", Rule::InactiveFor(Window::minutes(0)))).0,
            "rule.inactive_for"
        );
    }

    #[test]
    fn thresholds_are_finite_non_negative_and_whole_for_counts() {
        let counted = |c: Comparison| def("s", Rule::count(EventQuery::new("A"), c));
        assert_eq!(
            error(&counted(Comparison::at_least(-1.0))),
            (
                "rule.at_least".into(),
                "must not be negative, found -1".into()
            )
        );
        assert_eq!(
            error(&counted(Comparison::exactly(1.5))),
            (
                "rule.exactly".into(),
                "must be a whole number of events, found 1.5".into()
            )
        );
        assert_eq!(
            error(&counted(Comparison::at_most(f64::INFINITY))),
            ("rule.at_most".into(), "must be a finite number".into())
        );
        assert_eq!(
            error(&counted(Comparison::less_than(f64::NAN))).1,
            "must be a finite number"
        );
        assert!(check_definition(&counted(Comparison::exactly(0.0))).is_ok());
        let summed = |c: Comparison| {
            def(
                "s",
                Rule::Sum(AggregateRule {
                    query: EventQuery::new("A"),
                    property: vec!["total".into()],
                    compare: c,
                }),
            )
        };
        assert!(check_definition(&summed(Comparison::at_least(499.5))).is_ok());
        assert_eq!(
            error(&summed(Comparison::more_than(-0.5))).0,
            "rule.more_than"
        );
    }

    #[test]
    fn event_names_and_property_keys_must_be_usable() {
        assert_eq!(
            error(&def("s", count(""))),
            (
                "rule.count.event".into(),
                "event name must not be empty".into()
            )
        );
        assert_eq!(
            error(&def("s", count(&"e".repeat(129)))).1,
            "event name is 129 bytes, over the 128-byte limit"
        );
        let filtered = |c: Condition| {
            def(
                "s",
                Rule::count(
                    EventQuery::new("A")
                        .filter(Condition::new("ok", Test::Exists(true)))
                        .filter(c),
                    Comparison::at_least(1.0),
                ),
            )
        };
        assert_eq!(
            error(&filtered(Condition::new("", Test::Exists(true)))),
            (
                "rule.count.where[1].property".into(),
                "key must not be empty".into()
            )
        );
        let per = def(
            "s",
            Rule::Count(CountRule {
                query: EventQuery::new("A"),
                per: Some(String::new()),
                compare: Comparison::at_least(1.0),
            }),
        );
        assert_eq!(error(&per).0, "rule.count.per");
        let no_property = def(
            "s",
            Rule::Average(AggregateRule {
                query: EventQuery::new("A"),
                property: vec![],
                compare: Comparison::at_least(1.0),
            }),
        );
        assert_eq!(
            error(&no_property),
            (
                "rule.average.property".into(),
                "must name at least one property".into()
            )
        );
        let second_empty = def(
            "s",
            Rule::Sum(AggregateRule {
                query: EventQuery::new("A"),
                property: vec!["revenue".into(), String::new()],
                compare: Comparison::at_least(1.0),
            }),
        );
        assert_eq!(error(&second_empty).0, "rule.sum.property[1]");
        let since = def(
            "s",
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: "A".into(),
                filters: vec![],
                after: " ".into(),
                after_filters: vec![],
            }),
        );
        assert_eq!(error(&since).0, "rule.none_since_last.after");
        let same = def(
            "s",
            Rule::NoneSinceLast(NoneSinceLastRule {
                event: "A".into(),
                filters: vec![],
                after: "A".into(),
                after_filters: vec![],
            }),
        );
        assert_eq!(
            error(&same),
            (
                "rule.none_since_last.after".into(),
                "must name a different event than \"event\"".into()
            )
        );
        let trait_key = def("s", Rule::Trait(Condition::new("", Test::Exists(true))));
        assert_eq!(error(&trait_key).0, "rule.trait");
    }

    #[test]
    fn condition_operands_are_checked() {
        let filtered = |t: Test| {
            def(
                "s",
                Rule::count(
                    EventQuery::new("A").filter(Condition::new("k", t)),
                    Comparison::at_least(1.0),
                ),
            )
        };
        assert_eq!(
            error(&filtered(Test::In(vec![]))),
            (
                "rule.count.where[0].in".into(),
                "must list at least one value".into()
            )
        );
        assert_eq!(
            error(&filtered(Test::NotIn(vec![json!(1), json!(null)]))).0,
            "rule.count.where[0].not_in[1]"
        );
        assert_eq!(
            error(&filtered(Test::Equals(json!({"a": 1})))).1,
            "must be a string, a finite number or a boolean"
        );
        assert_eq!(
            error(&filtered(Test::Contains(json!("x".repeat(1025))))).1,
            "is longer than 1024 bytes"
        );
        assert_eq!(
            error(&filtered(Test::Compare(Comparison::at_least(f64::NAN)))).0,
            "rule.count.where[0].at_least"
        );
        assert!(
            check_definition(&filtered(Test::Compare(Comparison::at_least(-5.0)))).is_ok(),
            "filters may compare with negative numbers"
        );
        assert_eq!(
            error(&filtered(Test::In(vec![json!(1); 1001]))).1,
            "lists more than 1000 values"
        );
        let trait_rule = def(
            "s",
            Rule::Trait(Condition::new("plan", Test::Equals(json!([])))),
        );
        assert_eq!(error(&trait_rule).0, "rule.equals");
    }

    #[test]
    fn combinators_need_children_and_bounded_depth_and_size() {
        assert_eq!(
            error(&def("s", Rule::Any(vec![]))),
            ("rule.any".into(), "must list at least one rule".into())
        );
        assert_eq!(
            error(&def("s", Rule::Not(Box::new(Rule::All(vec![]))))).0,
            "rule.not.all"
        );
        let mut deep = count("A");
        for _ in 0..MAX_RULE_DEPTH - 1 {
            deep = Rule::Not(Box::new(deep));
        }
        assert!(check_definition(&def("s", deep.clone())).is_ok());
        let deeper = Rule::Not(Box::new(deep));
        let (path, problem) = error(&def("s", deeper));
        assert_eq!(problem, "rules nest deeper than 16 levels");
        assert_eq!(path, format!("rule{}", ".not".repeat(MAX_RULE_DEPTH)));
        let wide = Rule::Any(vec![count("A"); MAX_RULES]);
        assert_eq!(
            error(&def("s", wide)),
            (
                "rule.any[255]".into(),
                "the definition has more than 256 rules".into()
            )
        );
    }

    #[test]
    fn permissions_need_a_channel_and_a_state() {
        let perm = |channel: &str, is: Vec<PermissionState>| {
            def(
                "s",
                Rule::Permission(PermissionRule {
                    channel: channel.into(),
                    is,
                }),
            )
        };
        assert!(check_definition(&perm("in_app", vec![PermissionState::OptedIn])).is_ok());
        assert_eq!(
            error(&perm("Push", vec![PermissionState::OptedIn])).0,
            "rule.permission.channel"
        );
        assert_eq!(
            error(&perm("", vec![PermissionState::OptedIn])).0,
            "rule.permission.channel"
        );
        assert_eq!(
            error(&perm("push", vec![])),
            (
                "rule.permission.is".into(),
                "must name at least one state".into()
            )
        );
    }

    #[test]
    fn segment_references_must_be_ids_and_not_the_segment_itself() {
        assert_eq!(
            error(&def("s", Rule::Segment("High".into()))).0,
            "rule.segment"
        );
        assert_eq!(
            error(&def(
                "s",
                Rule::Any(vec![count("A"), Rule::Segment("s".into())])
            )),
            (
                "rule.any[1].segment".into(),
                "a segment cannot contain itself".into()
            )
        );
    }

    fn set_errors(defs: &[SegmentDefinition]) -> Vec<String> {
        check_set(defs)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn sets_order_dependencies_first() {
        let defs = [
            def(
                "c",
                Rule::All(vec![Rule::Segment("b".into()), Rule::Segment("a".into())]),
            ),
            def("a", count("A")),
            def("b", Rule::Not(Box::new(Rule::Segment("a".into())))),
        ];
        let order = check_set(&defs).unwrap();
        let ids: Vec<&str> = order.iter().map(|&i| defs[i].id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn sets_refuse_duplicate_ids_and_missing_references() {
        let defs = [
            def("a", count("A")),
            def(
                "a",
                Rule::Any(vec![count("B"), Rule::Segment("ghost".into())]),
            ),
        ];
        assert_eq!(
            set_errors(&defs),
            [
                "segment \"a\": id: is used by more than one definition (positions 0 and 1)",
                "segment \"a\": rule.any[1].segment: \"ghost\" is not a defined segment",
            ]
        );
    }

    #[test]
    fn sets_report_each_invalid_definition() {
        let defs = [def("a", Rule::All(vec![])), def("B", count("A"))];
        assert_eq!(
            set_errors(&defs),
            [
                "segment \"a\": rule.all: must list at least one rule",
                "id: \"B\" is not a valid segment id; use 1 to 64 lowercase letters, digits or underscores",
            ]
        );
    }

    #[test]
    fn sets_refuse_cycles_and_name_the_loop_once() {
        let defs = [
            def("a", Rule::All(vec![count("A"), Rule::Segment("b".into())])),
            def("b", Rule::Not(Box::new(Rule::Segment("c".into())))),
            def("c", Rule::Any(vec![Rule::Segment("a".into()), count("C")])),
            def("d", Rule::Segment("a".into())),
        ];
        assert_eq!(
            set_errors(&defs),
            ["segment \"c\": rule.any[0].segment: refers back to itself through a → b → c → a"]
        );
        let two_loops = [
            def("a", Rule::Segment("b".into())),
            def("b", Rule::Segment("a".into())),
            def("c", Rule::Segment("d".into())),
            def("d", Rule::Segment("c".into())),
        ];
        assert_eq!(set_errors(&two_loops).len(), 2);
    }

    #[test]
    fn long_reference_chains_do_not_overflow() {
        let n = 5_000;
        let defs: Vec<_> = (0..n)
            .map(|i| {
                if i + 1 == n {
                    def(&format!("s{i}"), count("A"))
                } else {
                    def(&format!("s{i}"), Rule::Segment(format!("s{}", i + 1)))
                }
            })
            .collect();
        let order = check_set(&defs).unwrap();
        assert_eq!(order.first(), Some(&(n - 1)));
        assert_eq!(order.last(), Some(&0));
    }
}
