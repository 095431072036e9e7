//! Syncing definitions: `GET /v1/sync` brings down the segment definitions, in-app
//! campaigns and settings the server holds (DESIGN.md §2, step 4).
//!
//! - [`SyncedDefinitions::parse`] reads a whole document with the engines the server
//!   uses and refuses it whole if any part is invalid (pure, also available to the
//!   server and tools without the `sdk` feature).
//! - The upload worker, which owns the runtime and the HTTP transport, syncs at start,
//!   when the app comes to the foreground, on a timer and on an explicit `sync()`,
//!   with a conditional request (`If-None-Match`) so an unchanged document costs a 304.
//! - The same attempt brings down the user's channel permissions
//!   (`GET /v1/permissions`) and merges them into the device's.
//! - A valid document that differs from the stored one is saved as the last good copy,
//!   then handed to the SDK. An invalid one is refused and counted; the device keeps
//!   running on its last good copy, or on [`SyncedDefinitions::builtin`] before the
//!   first successful sync.

mod document;
#[cfg(feature = "sdk")]
mod last_good;
#[cfg(feature = "sdk")]
mod permissions;
#[cfg(feature = "sdk")]
mod report;
#[cfg(feature = "sdk")]
pub mod schedule;
#[cfg(feature = "sdk")]
mod syncer;

pub use document::{SyncDocumentError, SyncedDefinitions};
#[cfg(feature = "sdk")]
pub use last_good::load_last_good;
#[cfg(feature = "sdk")]
pub use permissions::ConsentLink;
#[cfg(feature = "sdk")]
pub use report::{SyncOutcome, SyncReport};
#[cfg(feature = "sdk")]
pub(crate) use syncer::Syncer;

/// The `documents` row holding the last good sync document.
pub const SYNC_DOCUMENT: &str = "sync";

/// Receives new definitions after a sync stored them. Runs on the upload worker's
/// thread: it should hand the definitions over and return, and must not wait for the
/// worker (a `sync()` or `flush()` from inside it would only time out).
#[cfg(feature = "sdk")]
pub type OnSynced = Box<dyn Fn(SyncedDefinitions) + Send>;
