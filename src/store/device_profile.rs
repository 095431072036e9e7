//! The device's time zone and country as the app reported them, and whether the user
//! opted out of collection: device settings kept across restarts.

use rusqlite::{params, OptionalExtension};

use super::counters::bump_on;
use super::{Counter, QueueTotals, Store, StoreError};

/// The device's profile as stored; validated before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceProfile {
    /// An IANA time zone name.
    pub time_zone: Option<String>,
    /// An ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
}

impl Store {
    pub fn device_profile(&self) -> Result<DeviceProfile, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT time_zone, country FROM device_profile WHERE id = 1")?
            .query_row([], |row| {
                Ok(DeviceProfile {
                    time_zone: row.get(0)?,
                    country: row.get(1)?,
                })
            })
            .optional()?
            .unwrap_or_default())
    }

    pub fn set_device_profile(&mut self, profile: &DeviceProfile) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO device_profile(id, time_zone, country) VALUES (1, ?1, ?2)",
            )?
            .execute(params![profile.time_zone, profile.country])?;
        Ok(())
    }

    /// When the user opted out of collection, if they did and have not opted back in.
    pub fn opted_out_since(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT since_ms FROM opt_out WHERE id = 1")?
            .query_row([], |row| row.get(0))
            .optional()?)
    }

    /// Records the opt-out and discards every queued event, counting them as dropped
    /// for it, in one commit. Returns how many were discarded. Opting out again keeps
    /// the first time.
    pub fn opt_out(&mut self, since_ms: i64) -> Result<u64, StoreError> {
        self.settle()?;
        let tx = self.conn.transaction()?;
        tx.prepare_cached("INSERT OR IGNORE INTO opt_out(id, since_ms) VALUES (1, ?1)")?
            .execute([since_ms])?;
        let discarded = tx.execute("DELETE FROM events", [])? as u64;
        bump_on(&tx, Counter::DroppedOptedOut, discarded)?;
        tx.commit()?;
        self.totals = Some(QueueTotals::default());
        Ok(discarded)
    }

    pub fn opt_in(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM opt_out", [])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    #[test]
    fn the_profile_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let profile = DeviceProfile {
            time_zone: Some("Europe/Lisbon".into()),
            country: Some("PT".into()),
        };
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            assert_eq!(store.device_profile().unwrap(), DeviceProfile::default());
            store.set_device_profile(&profile).unwrap();
        }
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(store.device_profile().unwrap(), profile);
    }

    #[test]
    fn opting_out_discards_and_counts_the_queue_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            store.enqueue(1, b"a").unwrap();
            store.enqueue(2, b"bc").unwrap();
            assert_eq!(store.opt_out(100).unwrap(), 2);
            assert_eq!(store.totals().unwrap().events, 0);
            assert_eq!(store.opt_out(200).unwrap(), 0);
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(store.opted_out_since().unwrap(), Some(100));
        assert_eq!(store.counters().unwrap().get(Counter::DroppedOptedOut), 2);
        store.opt_in().unwrap();
        assert_eq!(store.opted_out_since().unwrap(), None);
    }
}
