//! Beckon: the Rust core of a mobile engagement SDK for e-commerce apps.
//!
//! The modules below are plain Rust; `ffi` is the thin uniffi facade apps call from
//! Kotlin and Swift. The reference server uses the shared modules without `ffi`.

#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!();

// Lets test fixtures shared with the integration tests name the crate `beckon` here too.
#[cfg(test)]
extern crate self as beckon;

pub mod common;
pub mod consent;
pub mod events;
pub mod messages;
pub mod protocol;
pub mod push;
pub mod segments;
pub mod sync;
pub mod text;

#[cfg(feature = "sdk")]
pub mod client;
#[cfg(feature = "sdk")]
pub mod net;
#[cfg(feature = "sdk")]
pub mod store;
#[cfg(feature = "sdk")]
pub mod upload;

#[cfg(feature = "ffi")]
mod ffi;
