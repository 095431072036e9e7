use std::path::PathBuf;
use std::time::Duration;

use super::ClientError;
use crate::net::{batch_url, RetryPolicy};
use crate::protocol::{check_id, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};
use crate::segments::MAX_WINDOW_DAYS;
use crate::store::{HistoryLimits, QueueLimits, DEFAULT_HISTORY_DAYS};
use crate::upload::UploadConfig;

/// How Beckon is set up by the app.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct BeckonConfig {
    /// A directory private to the app (Android `filesDir`, iOS Application Support).
    pub data_dir: String,
    /// The Beckon server, e.g. `https://beckon.shop.example`.
    pub server_url: String,
    /// The app's key, sent with every upload.
    pub app_key: String,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub flush_policy: FlushPolicy,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub queue_limits: QueueLimits,
    /// How often to sync segment definitions and campaigns while the app runs, besides
    /// at start and on foreground; 0 turns the timer off. At least 60 otherwise.
    #[cfg_attr(feature = "ffi", uniffi(default = 900))]
    pub sync_interval_seconds: i32,
    /// How many days of events the device keeps for segment rules added later (1 to
    /// 400). Rules already synced read aggregates that keep counting older events.
    #[cfg_attr(feature = "ffi", uniffi(default = 180))]
    pub history_days: i32,
}

/// The default for [`BeckonConfig::sync_interval_seconds`]: 15 minutes.
const DEFAULT_SYNC_INTERVAL_SECONDS: i32 = 900;
/// The longest `data_dir`: Linux's and Android's `PATH_MAX` (iOS's is shorter, and the
/// system refuses longer paths itself).
const MAX_DATA_DIR_BYTES: usize = 4096;
/// The shortest sync interval a fleet of devices may use against one server.
const MIN_SYNC_INTERVAL_SECONDS: i32 = 60;

/// When and how queued events are uploaded (DESIGN.md §4 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct FlushPolicy {
    /// Upload once this many events are queued.
    #[cfg_attr(feature = "ffi", uniffi(default = 20))]
    pub flush_at: i32,
    /// Upload at least this often while events are queued.
    #[cfg_attr(feature = "ffi", uniffi(default = 30000))]
    pub flush_interval_ms: i64,
    #[cfg_attr(feature = "ffi", uniffi(default = 500))]
    pub max_batch_events: i32,
    #[cfg_attr(feature = "ffi", uniffi(default = 512000))]
    pub max_batch_bytes: i32,
    #[cfg_attr(feature = "ffi", uniffi(default = 15000))]
    pub request_timeout_ms: i64,
    /// First retry delay; it doubles on each failure up to `retry_max_ms`.
    #[cfg_attr(feature = "ffi", uniffi(default = 500))]
    pub retry_base_ms: i64,
    #[cfg_attr(feature = "ffi", uniffi(default = 300000))]
    pub retry_max_ms: i64,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self {
            flush_at: 20,
            flush_interval_ms: 30_000,
            max_batch_events: MAX_BATCH_EVENTS as i32,
            max_batch_bytes: MAX_BATCH_BYTES as i32,
            request_timeout_ms: 15_000,
            retry_base_ms: 500,
            retry_max_ms: 300_000,
        }
    }
}

/// Room left in a batch for the envelope around the events (`sent_at`, commas).
const BATCH_ENVELOPE_BYTES: usize = 1024;

/// A configuration that passed validation, in the types the SDK's parts use.
pub(crate) struct Settings {
    pub data_dir: PathBuf,
    pub upload: UploadConfig,
    pub history: HistoryLimits,
}

impl BeckonConfig {
    pub fn new(
        data_dir: impl Into<String>,
        server_url: impl Into<String>,
        app_key: impl Into<String>,
    ) -> Self {
        Self {
            data_dir: data_dir.into(),
            server_url: server_url.into(),
            app_key: app_key.into(),
            flush_policy: FlushPolicy::default(),
            queue_limits: QueueLimits::default(),
            sync_interval_seconds: DEFAULT_SYNC_INTERVAL_SECONDS,
            history_days: DEFAULT_HISTORY_DAYS as i32,
        }
    }

    pub(crate) fn validate(&self) -> Result<Settings, ClientError> {
        let invalid = |what: String| Err(ClientError::InvalidConfig(what));
        if self.data_dir.trim().is_empty() {
            return invalid("data_dir must not be empty".into());
        }
        if self.data_dir.len() > MAX_DATA_DIR_BYTES {
            return invalid(format!(
                "data_dir: is {} bytes, over the {MAX_DATA_DIR_BYTES}-byte limit of a path",
                self.data_dir.len()
            ));
        }
        batch_url(&self.server_url).map_err(|e| ClientError::InvalidConfig(e.to_string()))?;
        check_id("app_key", &self.app_key)
            .map_err(|e| ClientError::InvalidConfig(e.to_string()))?;
        let p = &self.flush_policy;
        if !(1..=MAX_BATCH_EVENTS as i32).contains(&p.max_batch_events) {
            return invalid(format!(
                "flush_policy.max_batch_events must be 1 to {MAX_BATCH_EVENTS}"
            ));
        }
        if p.flush_at < 1 {
            return invalid("flush_policy.flush_at must be at least 1".into());
        }
        let min_batch = (MAX_EVENT_BYTES + BATCH_ENVELOPE_BYTES) as i32;
        if !(min_batch..=MAX_BATCH_BYTES as i32).contains(&p.max_batch_bytes) {
            return invalid(format!(
                "flush_policy.max_batch_bytes must be {min_batch} to {MAX_BATCH_BYTES}"
            ));
        }
        if p.flush_interval_ms < 100 || p.request_timeout_ms < 100 {
            return invalid("flush_policy intervals and timeouts must be at least 100 ms".into());
        }
        if p.retry_base_ms <= 0 || p.retry_max_ms < p.retry_base_ms {
            return invalid(
                "flush_policy.retry_base_ms must be positive and at most retry_max_ms".into(),
            );
        }
        let q = &self.queue_limits;
        if q.max_events < 1 || q.max_bytes < MAX_EVENT_BYTES as i64 || q.max_age_seconds < 60 {
            return invalid(format!(
                "queue_limits need max_events ≥ 1, max_bytes ≥ {MAX_EVENT_BYTES} and max_age_seconds ≥ 60"
            ));
        }
        let sync_interval = match self.sync_interval_seconds {
            0 => None,
            s if s >= MIN_SYNC_INTERVAL_SECONDS => Some(Duration::from_secs(s as u64)),
            _ => {
                return invalid(format!(
                    "sync_interval_seconds must be 0 (no timer) or at least {MIN_SYNC_INTERVAL_SECONDS}"
                ))
            }
        };
        if !(1..=MAX_WINDOW_DAYS as i32).contains(&self.history_days) {
            return invalid(format!(
                "history_days must be 1 to {MAX_WINDOW_DAYS}, not {}",
                self.history_days
            ));
        }
        Ok(Settings {
            data_dir: PathBuf::from(&self.data_dir),
            history: HistoryLimits::days(self.history_days.into()),
            upload: UploadConfig {
                server_url: self.server_url.clone(),
                app_key: self.app_key.clone(),
                flush_at: p.flush_at as u64,
                flush_interval: Duration::from_millis(p.flush_interval_ms as u64),
                request_timeout: Duration::from_millis(p.request_timeout_ms as u64),
                max_batch_events: p.max_batch_events as usize,
                max_batch_bytes: p.max_batch_bytes as usize - BATCH_ENVELOPE_BYTES,
                retry: RetryPolicy {
                    base: Duration::from_millis(p.retry_base_ms as u64),
                    cap: Duration::from_millis(p.retry_max_ms as u64),
                    ..RetryPolicy::default()
                },
                sync_interval,
                http: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BeckonConfig {
        BeckonConfig::new("/tmp/beckon", "https://beckon.shop.example", "app-key")
    }

    #[test]
    fn the_defaults_are_valid_and_follow_the_design() {
        let settings = config().validate().unwrap();
        assert_eq!(settings.upload.flush_at, 20);
        assert_eq!(settings.upload.flush_interval, Duration::from_secs(30));
        assert_eq!(settings.upload.max_batch_events, 500);
        assert_eq!(settings.upload.retry, RetryPolicy::default());
        assert_eq!(
            settings.upload.sync_interval,
            Some(Duration::from_secs(900))
        );
        let mut no_timer = config();
        no_timer.sync_interval_seconds = 0;
        assert_eq!(no_timer.validate().unwrap().upload.sync_interval, None);
    }

    #[test]
    fn each_bad_setting_is_named() {
        type Breaks = fn(&mut BeckonConfig);
        let cases: Vec<(Breaks, &str)> = vec![
            (|c| c.data_dir = " ".into(), "data_dir"),
            (|c| c.data_dir = "d".repeat(4097), "data_dir: is 4097 bytes"),
            (
                |c| c.server_url = "beckon.shop.example".into(),
                "server URL",
            ),
            (|c| c.app_key = "".into(), "app_key"),
            (|c| c.flush_policy.flush_at = 0, "flush_at"),
            (
                |c| c.flush_policy.max_batch_events = 501,
                "max_batch_events",
            ),
            (|c| c.flush_policy.max_batch_bytes = 1000, "max_batch_bytes"),
            (|c| c.flush_policy.request_timeout_ms = 0, "timeouts"),
            (|c| c.flush_policy.retry_max_ms = 1, "retry_base_ms"),
            (|c| c.queue_limits.max_events = 0, "queue_limits"),
            (|c| c.sync_interval_seconds = 59, "sync_interval_seconds"),
            (|c| c.sync_interval_seconds = -1, "sync_interval_seconds"),
        ];
        for (breaks, named) in cases {
            let mut c = config();
            breaks(&mut c);
            let message = c.validate().err().expect("should be rejected").to_string();
            assert!(message.contains(named), "{message} should name {named}");
        }
    }
}
