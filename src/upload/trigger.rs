//! When the queue is worth uploading, as a plain function (DESIGN.md §3).

use std::time::Duration;

/// Whether the queue should be uploaded now rather than waiting for the next trigger.
pub fn should_flush(
    queued: u64,
    flush_at: u64,
    since_last_attempt: Duration,
    interval: Duration,
) -> bool {
    queued > 0 && (queued >= flush_at || since_last_attempt >= interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_on_count_or_interval_never_when_empty() {
        let interval = Duration::from_secs(30);
        assert!(should_flush(20, 20, Duration::ZERO, interval));
        assert!(!should_flush(19, 20, Duration::from_secs(29), interval));
        assert!(should_flush(1, 20, Duration::from_secs(30), interval));
        assert!(!should_flush(0, 20, Duration::from_secs(3600), interval));
    }
}
