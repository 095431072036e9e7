//! Behavioural segments: the rules engine shared by the device and the server
//! (DESIGN.md, "One engine").
//!
//! A segment is data: a versioned JSON definition (documented in `README.md` beside
//! this file) read by [`SegmentDefinition::parse`], checked as a set by
//! [`SegmentSet::new`], and evaluated over a [`UserHistory`] by [`evaluate`] or, with
//! dependencies and incremental re-evaluation, by [`SegmentSet::refresh`] over a
//! [`UserSummary`]: per-rule aggregates kept up to date one event at a time, so the
//! device's work per event does not grow with the history. [`explain`]
//! says which clause decided. [`templates`] holds the built-in segments.
//!
//! Everything here is pure: plain functions over plain data, no I/O, threads or
//! clocks. The caller passes `now`, so device and server give the same answer for the
//! same history at the same instant.

mod definition;
mod duration;
mod error;
mod evaluate;
mod explain;
mod history;
mod on_device;
mod parse;
mod serialize;
mod set;
mod streams;
mod summary;
pub mod templates;
mod validate;

#[cfg(test)]
mod reference_tests;

pub use definition::{
    AggregateRule, CompareOp, Comparison, Condition, CountRule, Dependencies, EventQuery, LastRule,
    NoneSinceLastRule, PermissionRule, PermissionState, Rule, SegmentDefinition, Test,
    SCHEMA_VERSION,
};
pub use duration::{TimeUnit, Window, MAX_WINDOW_DAYS};
pub use error::DefinitionError;
pub use evaluate::evaluate;
pub use explain::{explain, Clause, Explanation};
pub use history::{
    is_device_report, is_membership_report, Activity, Entry, UserHistory, SCREEN_EVENT,
};
pub use on_device::DeviceSegments;
pub use set::{MembershipChange, SegmentSet, Trigger};
pub use summary::{Catalog, Recorded, SummarySnapshot, UserSummary};
pub use validate::{
    MAX_CONDITIONS, MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_LIST_VALUES, MAX_NAME_CHARS,
    MAX_OPERAND_BYTES, MAX_RULES, MAX_RULE_DEPTH,
};
