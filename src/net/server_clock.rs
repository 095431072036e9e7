//! Learning the server's clock from the `Date` header of its answers (batch uploads and
//! syncs), for judging promo expiry on the server's time (`push::clock`). The offset is
//! kept in the store so it holds from the first call after a restart.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::push::server_offset_ms;
use crate::store::{StateKey, Store, StoreLock};

/// Offsets closer than this to the stored one are not written again: the header has
/// whole seconds, so smaller changes are noise, and most answers then cost no write.
const WRITE_WHEN_MOVED_MS: i64 = 1_000;

pub struct ServerClock {
    store: Arc<StoreLock>,
    /// The offset last stored, once read.
    stored: Mutex<Option<Option<i64>>>,
}

impl ServerClock {
    pub fn new(store: Arc<StoreLock>) -> ServerClock {
        ServerClock {
            store,
            stored: Mutex::new(None),
        }
    }

    /// Notes an answer's `Date` header, read at `received_at` on the device clock.
    pub fn observe(&self, date_header: Option<&str>, received_at: DateTime<Utc>) {
        let Some(offset) = date_header.and_then(|date| server_offset_ms(date, received_at)) else {
            return;
        };
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let mut store = self.store.lock();
        let last = *stored.get_or_insert_with(|| stored_offset(&store));
        if last.is_some_and(|last| (offset - last).abs() < WRITE_WHEN_MOVED_MS) {
            return;
        }
        // Best effort: without it, expiry is judged on the device clock.
        if store
            .set_state(&[(StateKey::ServerClockOffsetMs, Some(&offset.to_string()))])
            .is_ok()
        {
            *stored = Some(Some(offset));
        }
    }
}

/// The stored offset, if one was measured and is readable.
pub fn stored_offset(store: &Store) -> Option<i64> {
    store
        .get_state(StateKey::ServerClockOffsetMs)
        .ok()
        .flatten()
        .and_then(|text| text.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    #[test]
    fn keeps_the_offset_and_rewrites_it_only_when_it_moves() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let store = crate::store::shared(store);
        let clock = ServerClock::new(store.clone());
        let device: DateTime<Utc> = "2026-11-20T10:00:00.500Z".parse().unwrap();
        let offset = || stored_offset(&store.lock());
        assert_eq!(offset(), None);

        clock.observe(None, device);
        clock.observe(Some("not a date"), device);
        assert_eq!(offset(), None);

        clock.observe(Some("Sun, 22 Nov 2026 10:00:00 GMT"), device);
        assert_eq!(offset(), Some(2 * 86_400_000));
        // Under a second of drift is not written.
        clock.observe(
            Some("Sun, 22 Nov 2026 10:00:00 GMT"),
            device + chrono::TimeDelta::milliseconds(400),
        );
        assert_eq!(offset(), Some(2 * 86_400_000));
        // The device clock was fixed: the offset follows.
        clock.observe(Some("Fri, 20 Nov 2026 10:00:05 GMT"), device);
        assert_eq!(offset(), Some(5_000));
        // A new instance starts from the stored offset.
        let again = ServerClock::new(store.clone());
        again.observe(Some("Fri, 20 Nov 2026 10:00:05 GMT"), device);
        assert_eq!(offset(), Some(5_000));
    }
}
