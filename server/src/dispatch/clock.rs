//! The time sends are created, planned and delivered by: the system clock, or a clock
//! a test sets, so a delivery planned hours ahead can be seen going out without
//! waiting hours.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

#[derive(Clone, Default)]
pub struct SendClock {
    /// `None`: the system clock. `Some`: a clock that moves only when told, and tells
    /// the runner when it does.
    manual: Option<Arc<watch::Sender<DateTime<Utc>>>>,
}

impl SendClock {
    pub fn system() -> SendClock {
        SendClock::default()
    }

    /// A clock standing at `start` until [`SendClock::advance`] or [`SendClock::set`].
    pub fn manual(start: DateTime<Utc>) -> SendClock {
        SendClock {
            manual: Some(Arc::new(watch::Sender::new(start))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            Some(time) => *time.borrow(),
            None => Utc::now(),
        }
    }

    /// Moves a manual clock forward (or back); the system clock cannot be moved and
    /// ignores it.
    pub fn advance(&self, by: TimeDelta) {
        if let Some(time) = &self.manual {
            time.send_modify(|t| *t += by);
        }
    }

    /// Sets a manual clock; ignored by the system clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(time) = &self.manual {
            time.send_replace(to);
        }
    }

    /// Tells when a manual clock is moved; the system clock never says so.
    pub(super) fn watch(&self) -> ClockWatch {
        ClockWatch(self.manual.as_ref().map(|time| time.subscribe()))
    }
}

impl fmt::Debug for SendClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            Some(time) => write!(f, "SendClock::Manual({})", *time.borrow()),
            None => f.write_str("SendClock::System"),
        }
    }
}

pub(super) struct ClockWatch(Option<watch::Receiver<DateTime<Utc>>>);

impl ClockWatch {
    /// Resolves when the clock was moved since the last call; never for the system
    /// clock.
    pub(super) async fn moved(&mut self) {
        if let Some(rx) = &mut self.0 {
            if rx.changed().await.is_ok() {
                return;
            }
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = SendClock::manual(at("2026-12-01T10:00:00Z"));
        assert_eq!(clock.now(), at("2026-12-01T10:00:00Z"));
        clock.advance(TimeDelta::hours(3));
        assert_eq!(clock.now(), at("2026-12-01T13:00:00Z"));
        let copy = clock.clone();
        copy.set(at("2026-12-24T09:00:00Z"));
        assert_eq!(
            clock.now(),
            at("2026-12-24T09:00:00Z"),
            "clones share the time"
        );
        assert_eq!(
            format!("{clock:?}"),
            "SendClock::Manual(2026-12-24 09:00:00 UTC)"
        );
    }

    #[test]
    fn the_system_clock_ignores_moves() {
        let clock = SendClock::system();
        let before = Utc::now();
        clock.advance(TimeDelta::days(365));
        clock.set(at("2000-01-01T00:00:00Z"));
        let now = clock.now();
        assert!(now >= before && now < before + TimeDelta::days(1), "{now}");
    }

    #[tokio::test]
    async fn moving_a_manual_clock_wakes_its_watchers() {
        let clock = SendClock::manual(at("2026-12-01T10:00:00Z"));
        let mut watch = clock.watch();
        clock.advance(TimeDelta::minutes(1));
        tokio::time::timeout(Duration::from_secs(5), watch.moved())
            .await
            .expect("a move is seen even when it happened before the wait");
        let mut system = SendClock::system().watch();
        let woke = tokio::time::timeout(Duration::from_millis(20), system.moved()).await;
        assert!(woke.is_err(), "the system clock never reports a move");
    }
}
