//! The bodies of Beckon's fuzz targets, one module per target (see FUZZING.md).
//!
//! `fuzz_targets/<name>.rs` hands libFuzzer's input to `<name>::run`; the corpus test
//! (`tests/corpus.rs`) replays `corpus/<name>/` through the same function with plain
//! `cargo test`, so a machine without nightly still runs every committed input.
//! Each body panics when an invariant of the code under test breaks.

pub mod gen;
pub mod http;

pub mod admin_query;
pub mod campaign;
pub mod consent;
pub mod deep_link;
pub mod device_answer;
pub mod identity_token;
pub mod provider_answer;
pub mod push_payload;
pub mod segment;
pub mod server_admin;
pub mod server_batch;
pub mod server_config;
pub mod server_send;
pub mod sync_document;
pub mod template;

/// A target's body: one input, checked; panics when an invariant breaks.
pub type Body = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/` file and `corpus/` folder) and body.
pub const TARGETS: &[(&str, Body)] = &[
    ("push_payload", push_payload::run),
    ("deep_link", deep_link::run),
    ("template", template::run),
    ("segment", segment::run),
    ("campaign", campaign::run),
    ("sync_document", sync_document::run),
    ("consent", consent::run),
    ("server_batch", server_batch::run),
    ("server_admin", server_admin::run),
    ("server_send", server_send::run),
    ("identity_token", identity_token::run),
    ("provider_answer", provider_answer::run),
    ("device_answer", device_answer::run),
    ("admin_query", admin_query::run),
    ("server_config", server_config::run),
];
