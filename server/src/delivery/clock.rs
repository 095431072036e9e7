//! The time source of token caches, injectable so tests can move it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub(crate) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub(crate) fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
