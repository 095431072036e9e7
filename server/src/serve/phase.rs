//! Where a connection stands, and how long it may stay there.
//!
//! Two observers move the phase: the socket wrapper ([`super::io`]) sees the first byte
//! of a request arrive, the service wrapper ([`super::service`]) sees the request's
//! header complete and its response body finish. The watchdog in
//! [`super::connection`] closes the connection once the phase outlives its timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::limits::ConnectionLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No request under way: the connection just opened, or its last response is sent.
    Waiting,
    /// A request's first bytes arrived, its header is not complete.
    ReadingHead,
    /// The header is complete; the request is being handled or its response sent.
    Busy,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Waiting, Phase::ReadingHead, Phase::Busy];

    /// The `phase` label of `connections_timed_out` when this phase runs out of time.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Waiting => "idle",
            Phase::ReadingHead => "header",
            Phase::Busy => "request",
        }
    }

    fn timeout(self, limits: &ConnectionLimits) -> Duration {
        match self {
            Phase::Waiting => limits.idle_timeout,
            Phase::ReadingHead => limits.header_timeout,
            Phase::Busy => limits.request_timeout,
        }
    }

    fn code(self) -> u64 {
        self as u64
    }
}

/// The phase and when it began, in one atomic word so the socket and the service can
/// both move it without a lock: milliseconds since the connection opened, shifted left
/// by two, plus the phase.
#[derive(Debug)]
pub struct PhaseClock {
    opened: Instant,
    state: AtomicU64,
}

impl PhaseClock {
    /// A connection opened now, waiting for its first request.
    pub fn new() -> Self {
        Self {
            opened: Instant::now(),
            state: AtomicU64::new(Phase::Waiting.code()),
        }
    }

    /// Bytes arrived: a request starts unless one is already under way.
    pub fn bytes_read(&self) {
        self.bytes_read_at(Instant::now());
    }

    /// The request's header is complete and the request handed to the router.
    pub fn request_started(&self) {
        self.enter(Phase::Busy, Instant::now());
    }

    /// The response body is sent (or dropped): the connection waits for the next request.
    pub fn response_finished(&self) {
        self.enter(Phase::Waiting, Instant::now());
    }

    fn bytes_read_at(&self, now: Instant) {
        let current = self.state.load(Ordering::Relaxed);
        if current & 0b11 == Phase::Waiting.code() {
            // Losing the race means the service moved the phase on: nothing to do.
            let _ = self.state.compare_exchange(
                current,
                self.encode(Phase::ReadingHead, now),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn enter(&self, phase: Phase, now: Instant) {
        self.state.store(self.encode(phase, now), Ordering::Relaxed);
    }

    /// The current phase, and when the connection must close if it does not move on.
    pub fn deadline(&self, limits: &ConnectionLimits) -> (Phase, Instant) {
        let state = self.state.load(Ordering::Relaxed);
        let phase = Phase::ALL[(state & 0b11) as usize];
        let since = self.opened + Duration::from_millis(state >> 2);
        (phase, since + phase.timeout(limits))
    }

    fn encode(&self, phase: Phase, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.opened).as_millis() as u64;
        (elapsed << 2) | phase.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(90),
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn each_phase_has_its_own_deadline_from_when_it_began() {
        let clock = PhaseClock::new();
        let at = |ms: u64| clock.opened + Duration::from_millis(ms);
        assert_eq!(clock.deadline(&limits()), (Phase::Waiting, at(60_000)));

        clock.bytes_read_at(at(5_000));
        assert_eq!(clock.deadline(&limits()), (Phase::ReadingHead, at(15_000)));
        // More bytes of the same header do not push the deadline back.
        clock.bytes_read_at(at(7_000));
        assert_eq!(clock.deadline(&limits()).1, at(15_000));

        clock.enter(Phase::Busy, at(8_000));
        assert_eq!(clock.deadline(&limits()), (Phase::Busy, at(98_000)));
        // Body bytes while the request is handled do not make it a new request.
        clock.bytes_read_at(at(9_000));
        assert_eq!(clock.deadline(&limits()).0, Phase::Busy);

        clock.enter(Phase::Waiting, at(10_500));
        assert_eq!(clock.deadline(&limits()), (Phase::Waiting, at(70_500)));
        clock.bytes_read_at(at(11_000));
        assert_eq!(clock.deadline(&limits()), (Phase::ReadingHead, at(21_000)));
    }

    #[test]
    fn labels_name_the_stage_that_ran_out() {
        let labels: Vec<_> = Phase::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["idle", "header", "request"]);
    }
}
