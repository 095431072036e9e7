//! The typed form of a segment definition. The JSON shape is documented in README.md;
//! `parse.rs` reads it (with error paths) and `serialize.rs` writes it back.

use std::collections::BTreeSet;

use serde_json::Value;

use super::duration::Window;

/// The only schema version this engine reads. A definition written for a later version
/// is refused rather than half-understood, so device and server never disagree silently.
pub const SCHEMA_VERSION: u64 = 1;

/// A named audience and the rule that decides who is in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDefinition {
    /// Lowercase `[a-z0-9_]{1,64}`; other definitions refer to it with `{"segment": id}`.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub rule: Rule,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Every rule holds (`{"all": [..]}`).
    All(Vec<Rule>),
    /// At least one rule holds (`{"any": [..]}`).
    Any(Vec<Rule>),
    Not(Box<Rule>),
    /// How many matching events, compared with a number.
    Count(CountRule),
    /// Total of a numeric property over matching events.
    Sum(AggregateRule),
    /// Mean of a numeric property over matching events that have it.
    Average(AggregateRule),
    /// The last matching event happened, and at least this long ago.
    Last(LastRule),
    /// The user has some history and no event of any name for this long.
    InactiveFor(Window),
    /// `after` happened, and no `event` since its last occurrence.
    NoneSinceLast(NoneSinceLastRule),
    /// A test on one of the user's traits.
    Trait(Condition),
    Permission(PermissionRule),
    /// Membership in another segment, by id.
    Segment(String),
}

/// Which events a count or aggregate looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    pub event: String,
    /// `None` means all of the user's history.
    pub within: Option<Window>,
    /// All must hold (`"where"` in JSON).
    pub filters: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CountRule {
    pub query: EventQuery,
    /// Count per value of this property and compare the largest group: "viewed the same
    /// category 3 times", not "viewed 3 products".
    pub per: Option<String>,
    pub compare: Comparison,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRule {
    pub query: EventQuery,
    /// The first of these keys holding a number is used, so `["revenue", "total"]` works
    /// for apps that send only one of the two.
    pub property: Vec<String>,
    pub compare: Comparison,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LastRule {
    pub event: String,
    pub filters: Vec<Condition>,
    pub older_than: Window,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoneSinceLastRule {
    /// The event that must not have happened since (the order).
    pub event: String,
    pub filters: Vec<Condition>,
    /// The event whose last occurrence starts the "since" (the add to cart).
    pub after: String,
    pub after_filters: Vec<Condition>,
}

/// A test on one property of an event, or one trait of the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    /// Substring of a string, or element of an array.
    Contains(Value),
    /// Present and not null (`true`), or absent or null (`false`).
    Exists(bool),
    /// Numeric comparison; values that are not numbers never match.
    Compare(Comparison),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub op: CompareOp,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    AtLeast,
    AtMost,
    Exactly,
    MoreThan,
    LessThan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PermissionRule {
    pub channel: String,
    /// Holds when the channel's state is any of these.
    pub is: Vec<PermissionState>,
}

/// A channel's permission state: the consent layer's own type.
pub use crate::consent::PermissionState;

impl CompareOp {
    pub const ALL: [CompareOp; 5] = [
        CompareOp::AtLeast,
        CompareOp::AtMost,
        CompareOp::Exactly,
        CompareOp::MoreThan,
        CompareOp::LessThan,
    ];

    /// The JSON key, which is also how explanations phrase it.
    pub fn key(self) -> &'static str {
        match self {
            CompareOp::AtLeast => "at_least",
            CompareOp::AtMost => "at_most",
            CompareOp::Exactly => "exactly",
            CompareOp::MoreThan => "more_than",
            CompareOp::LessThan => "less_than",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.key() == key)
    }
}

impl Comparison {
    pub const fn at_least(value: f64) -> Self {
        Self {
            op: CompareOp::AtLeast,
            value,
        }
    }
    pub const fn at_most(value: f64) -> Self {
        Self {
            op: CompareOp::AtMost,
            value,
        }
    }
    pub const fn exactly(value: f64) -> Self {
        Self {
            op: CompareOp::Exactly,
            value,
        }
    }
    pub const fn more_than(value: f64) -> Self {
        Self {
            op: CompareOp::MoreThan,
            value,
        }
    }
    pub const fn less_than(value: f64) -> Self {
        Self {
            op: CompareOp::LessThan,
            value,
        }
    }

    /// Compares with a relative tolerance, so that a sum of prices written with cents
    /// (250.1 + 249.9) meets "at least 500" even though binary floats cannot hold it
    /// exactly. Counts are small integers, for which the tolerance never matters.
    pub fn holds(&self, measured: f64) -> bool {
        let scale = measured.abs().max(self.value.abs()).max(1.0);
        let equal = (measured - self.value).abs() <= 1e-9 * scale;
        match self.op {
            CompareOp::AtLeast => equal || measured > self.value,
            CompareOp::AtMost => equal || measured < self.value,
            CompareOp::Exactly => equal,
            CompareOp::MoreThan => !equal && measured > self.value,
            CompareOp::LessThan => !equal && measured < self.value,
        }
    }
}

impl EventQuery {
    pub fn new(event: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            within: None,
            filters: Vec::new(),
        }
    }

    pub fn within(mut self, window: Window) -> Self {
        self.within = Some(window);
        self
    }

    pub fn filter(mut self, condition: Condition) -> Self {
        self.filters.push(condition);
        self
    }
}

impl Condition {
    pub fn new(key: impl Into<String>, test: Test) -> Self {
        Self {
            key: key.into(),
            test,
        }
    }
}

impl Rule {
    pub fn count(query: EventQuery, compare: Comparison) -> Self {
        Rule::Count(CountRule {
            query,
            per: None,
            compare,
        })
    }

    /// Calls `visit` on this rule and every rule inside it, parents first.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Rule)) {
        visit(self);
        match self {
            Rule::All(rules) | Rule::Any(rules) => rules.iter().for_each(|r| r.walk(visit)),
            Rule::Not(rule) => rule.walk(visit),
            _ => {}
        }
    }
}

/// What can change a definition's outcome, so the device re-evaluates only what an
/// event, a clock tick, a trait or a permission change can affect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Event names whose arrival can change the outcome.
    pub events: BTreeSet<String>,
    /// Whether an event of *any* name can change it (inactivity rules).
    pub every_event: bool,
    /// Whether the outcome can change with the clock alone (windows, recency).
    pub time_sensitive: bool,
    pub traits: BTreeSet<String>,
    pub channels: BTreeSet<String>,
    /// Other segments this one's outcome depends on directly.
    pub segments: BTreeSet<String>,
}

impl SegmentDefinition {
    pub fn dependencies(&self) -> Dependencies {
        let mut deps = Dependencies::default();
        self.rule.walk(&mut |rule| match rule {
            Rule::All(_) | Rule::Any(_) | Rule::Not(_) => {}
            Rule::Count(CountRule { query, .. })
            | Rule::Sum(AggregateRule { query, .. })
            | Rule::Average(AggregateRule { query, .. }) => {
                deps.events.insert(query.event.clone());
                deps.time_sensitive |= query.within.is_some();
            }
            Rule::Last(last) => {
                deps.events.insert(last.event.clone());
                deps.time_sensitive = true;
            }
            Rule::InactiveFor(_) => {
                deps.every_event = true;
                deps.time_sensitive = true;
            }
            Rule::NoneSinceLast(rule) => {
                deps.events.insert(rule.event.clone());
                deps.events.insert(rule.after.clone());
            }
            Rule::Trait(condition) => {
                deps.traits.insert(condition.key.clone());
            }
            Rule::Permission(rule) => {
                deps.channels.insert(rule.channel.clone());
            }
            Rule::Segment(id) => {
                deps.segments.insert(id.clone());
            }
        });
        deps
    }

    /// Event names this definition's own rule reads. Inactivity rules read every event
    /// (see [`SegmentDefinition::watches_every_event`]); segment references are followed
    /// by [`super::SegmentSet`], not here.
    pub fn referenced_events(&self) -> BTreeSet<String> {
        self.dependencies().events
    }

    pub fn watches_every_event(&self) -> bool {
        self.dependencies().every_event
    }

    /// Whether the outcome can change with the clock alone.
    pub fn time_sensitive(&self) -> bool {
        self.dependencies().time_sensitive
    }

    pub fn referenced_segments(&self) -> BTreeSet<String> {
        self.dependencies().segments
    }

    /// Whether recording an event of this name can change this definition's own outcome.
    pub fn is_affected_by_event(&self, name: &str) -> bool {
        let deps = self.dependencies();
        deps.every_event || deps.events.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_hold_at_and_around_their_threshold() {
        let cases = [
            (Comparison::at_least(2.0), [false, true, true]),
            (Comparison::at_most(2.0), [true, true, false]),
            (Comparison::exactly(2.0), [false, true, false]),
            (Comparison::more_than(2.0), [false, false, true]),
            (Comparison::less_than(2.0), [true, false, false]),
        ];
        for (cmp, expected) in cases {
            let got = [cmp.holds(1.0), cmp.holds(2.0), cmp.holds(3.0)];
            assert_eq!(got, expected, "{cmp:?}");
        }
    }

    #[test]
    fn float_sums_meet_thresholds_despite_rounding() {
        let sum = 0.1 + 0.2;
        assert_ne!(sum, 0.3);
        assert!(Comparison::at_least(0.3).holds(sum));
        assert!(Comparison::exactly(0.3).holds(sum));
        assert!(!Comparison::more_than(0.3).holds(sum));
        assert!(!Comparison::at_least(500.0).holds(499.99));
    }

    fn definition(rule: Rule) -> SegmentDefinition {
        SegmentDefinition {
            id: "s".into(),
            name: "S".into(),
            description: None,
            rule,
        }
    }

    #[test]
    fn dependencies_collect_events_clock_traits_channels_and_segments() {
        let def = definition(Rule::All(vec![
            Rule::count(
                EventQuery::new("Product Added").within(Window::hours(24)),
                Comparison::at_least(1.0),
            ),
            Rule::Not(Box::new(Rule::NoneSinceLast(NoneSinceLastRule {
                event: "Order Completed".into(),
                filters: vec![],
                after: "Checkout Started".into(),
                after_filters: vec![],
            }))),
            Rule::Trait(Condition::new("plan", Test::Exists(true))),
            Rule::Permission(PermissionRule {
                channel: "push".into(),
                is: vec![PermissionState::OptedIn],
            }),
            Rule::Segment("vip".into()),
        ]));
        let deps = def.dependencies();
        assert_eq!(
            deps.events.iter().map(String::as_str).collect::<Vec<_>>(),
            ["Checkout Started", "Order Completed", "Product Added"]
        );
        assert!(deps.time_sensitive);
        assert!(!deps.every_event);
        assert!(deps.traits.contains("plan"));
        assert!(deps.channels.contains("push"));
        assert_eq!(
            def.referenced_segments(),
            BTreeSet::from(["vip".to_owned()])
        );
        assert!(def.is_affected_by_event("Order Completed"));
        assert!(!def.is_affected_by_event("Product Viewed"));
    }

    #[test]
    fn only_windows_recency_and_inactivity_make_a_rule_time_sensitive() {
        let all_time = definition(Rule::count(
            EventQuery::new("Order Completed"),
            Comparison::at_least(2.0),
        ));
        assert!(!all_time.time_sensitive());
        let since = definition(Rule::NoneSinceLast(NoneSinceLastRule {
            event: "Order Completed".into(),
            filters: vec![],
            after: "Product Added".into(),
            after_filters: vec![],
        }));
        assert!(!since.time_sensitive());
        let last = definition(Rule::Last(LastRule {
            event: "Order Completed".into(),
            filters: vec![],
            older_than: Window::days(30),
        }));
        assert!(last.time_sensitive());
        let inactive = definition(Rule::InactiveFor(Window::days(30)));
        assert!(inactive.time_sensitive());
        assert!(inactive.watches_every_event());
        assert!(inactive.is_affected_by_event("Anything"));
        assert!(inactive.referenced_events().is_empty());
    }
}
