//! The Beckon reference server: device batch upload and sync, admin events export,
//! segments and campaigns, health and readiness.
//!
//! `main.rs` is a thin command line over [`start`]; tests and benchmarks start the same
//! server in-process.

mod app;
mod auth;
mod catalog;
mod config;
mod database;
pub mod delivery;
pub mod dispatch;
mod encoding;
mod error;
mod etag;
mod evaluate;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod limits;
mod logging;
pub mod metrics;
mod paging;
mod rate_limit;
mod readiness;
mod routes;
pub mod sends;
mod serve;
mod server;
mod signal;
mod skew;
pub mod store;
mod sync_document;

pub use app::{router, AppState};
pub use config::{Cli, LogFormat, ServerConfig};
pub use database::check_database;
pub use error::ApiError;
pub use limits::{ConnectionLimits, Rate, RateLimits};
pub use logging::init_logging;
pub use server::{start, RunningServer, ServerError};
pub use signal::shutdown_signal;
