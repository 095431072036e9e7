//! Failed `accept` calls: out of file descriptors (`EMFILE`, `ENFILE`) or memory, the
//! loop pauses instead of spinning, and the log gets one line per interval, not one per
//! failure.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

/// Pause after an accept failure that is not about one connection.
pub const PAUSE: Duration = Duration::from_millis(100);
/// At most one log line per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_report: Option<Instant>,
    unreported: u64,
}

impl AcceptErrors {
    /// Logs `err` unless another was logged within the interval; says whether the loop
    /// should pause.
    pub fn record(&mut self, err: &io::Error) -> bool {
        self.record_at(err, Instant::now())
    }

    fn record_at(&mut self, err: &io::Error, now: Instant) -> bool {
        let about_one_connection = is_connection_error(err);
        if self.should_report(now) {
            tracing::error!(
                error = %err,
                also_failed = self.unreported,
                "accepting a connection failed"
            );
            self.unreported = 0;
        } else {
            self.unreported += 1;
        }
        !about_one_connection
    }

    fn should_report(&mut self, now: Instant) -> bool {
        let due = self
            .last_report
            .is_none_or(|last| now.duration_since(last) >= REPORT_EVERY);
        if due {
            self.last_report = Some(now);
        }
        due
    }
}

/// Errors that concern the one connection being accepted (the client gave up first):
/// accepting the next one can go on at once.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_once_per_interval_and_pauses_on_resource_errors() {
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        let emfile = io::Error::from_raw_os_error(24);
        assert!(errors.record_at(&emfile, start));
        assert!(errors.record_at(&emfile, start + Duration::from_millis(10)));
        assert_eq!(errors.unreported, 1);
        errors.record_at(&emfile, start + REPORT_EVERY);
        assert_eq!(errors.unreported, 0, "reported again after the interval");

        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert!(
            !errors.record_at(&aborted, start + REPORT_EVERY),
            "no pause for one client's failure"
        );
    }
}
