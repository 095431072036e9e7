//! The SDK's configuration for benchmarks that measure recording alone: nothing is
//! uploaded during a run unless `flush_at` events wait, and the queue keeps every event.

use std::path::Path;

use beckon::client::{BeckonConfig, FlushPolicy};
use beckon::store::QueueLimits;

pub fn quiet_config(dir: &Path, server_url: &str, app_key: &str, flush_at: i32) -> BeckonConfig {
    let mut config = BeckonConfig::new(dir.to_str().unwrap(), server_url, app_key);
    config.flush_policy = FlushPolicy {
        flush_at,
        flush_interval_ms: 3_600_000,
        ..Default::default()
    };
    config.queue_limits = QueueLimits {
        max_events: i64::MAX,
        max_bytes: i64::MAX,
        ..Default::default()
    };
    config
}
