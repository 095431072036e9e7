//! Text that comes from outside the SDK (pushes, campaigns, route patterns, the app's
//! arguments, product data), read and checked by one set of rules wherever it
//! arrives. A leaf: nothing here knows about messages, pushes or the store.
//!
//! - [`url`]: reading links and the safety rules every link must pass;
//! - [`quote`]: showing outside input in error messages, cut to a readable length;
//! - [`json`]: reading JSON without letting a repeated key through.

pub mod json;
pub mod quote;
pub mod url;

pub use quote::{clip, clip_quoted_spans, quote};
