//! An opened push, recorded in one commit: its events, the promo it carried and the
//! deep link waiting for the app's router. A crash can never keep the promo without
//! the open the server is told about, or the other way round.

use super::pending_links::{put_pending_link, PendingLink};
use super::promos::{prune_promos, save_promo};
use super::queue::insert_queued;
use super::{Store, StoreError};
use crate::push::Promo;

/// How long an opened push is remembered: longer than any push stays in a
/// notification tray.
const REMEMBER_OPENED_MS: i64 = 30 * 24 * 3600 * 1000;

impl Store {
    /// Queues `events` (`Push Opened`, and `Deep Link Opened` when the link was
    /// delivered at once) unless push `message_id` was opened before, and keeps `promo`
    /// and `pending`. Returns whether this was the push's first open.
    pub fn record_push_open(
        &mut self,
        message_id: &str,
        at_ms: i64,
        events: &[&[u8]],
        promo: Option<&Promo>,
        pending: Option<&PendingLink>,
    ) -> Result<bool, StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        tx.prepare_cached("DELETE FROM opened_pushes WHERE opened_at < ?1")?
            .execute([at_ms - REMEMBER_OPENED_MS])?;
        let first = tx
            .prepare_cached(
                "INSERT INTO opened_pushes(message_id, opened_at) VALUES (?1, ?2)
                 ON CONFLICT(message_id) DO NOTHING",
            )?
            .execute(rusqlite::params![message_id, at_ms])?
            == 1;
        let events = if first { events } else { &[] };
        for (i, payload) in events.iter().enumerate() {
            insert_queued(&tx, next_seq + i as i64, at_ms, payload)?;
        }
        if let Some(promo) = promo {
            prune_promos(&tx, at_ms)?;
            save_promo(&tx, promo)?;
        }
        if let Some(link) = pending {
            put_pending_link(&tx, link)?;
        }
        tx.commit()?;
        self.queued(events)?;
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::protocol::{Discount, PromoOffer};
    use crate::store::QueueLimits;

    #[test]
    fn events_promo_and_link_are_kept_together() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let now = Utc::now();
        let promo = Promo {
            offer: PromoOffer {
                code: "BF10".into(),
                discount: Discount::Percent { value: 10.0 },
                currency: None,
                expires_at: now + TimeDelta::days(1),
                min_basket: None,
                max_uses: 1,
            },
            uses: 0,
            received_at: chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap(),
            message_id: Some("m".into()),
            campaign_id: Some("c".into()),
        };
        let link = PendingLink {
            url: "shop://cart".into(),
            message_id: Some("m".into()),
            campaign_id: Some("c".into()),
            send_id: None,
            received_at_ms: now.timestamp_millis(),
        };
        let first = store
            .record_push_open(
                "m",
                now.timestamp_millis(),
                &[b"{\"a\":1}", b"{\"b\":2}"],
                Some(&promo),
                Some(&link),
            )
            .unwrap();
        assert!(first);
        // The same push handed over again: no second open is queued.
        let again = store
            .record_push_open("m", now.timestamp_millis() + 1, &[b"{\"c\":3}"], None, None)
            .unwrap();
        assert!(!again);
        assert_eq!(store.totals().unwrap().events, 2);
        let queued: Vec<Vec<u8>> = store
            .peek_batch(10, 1 << 20)
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        assert_eq!(queued, [b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        assert_eq!(store.promos().unwrap(), vec![promo]);
        assert_eq!(
            store
                .take_pending_link(now.timestamp_millis(), 1000)
                .unwrap(),
            Some(link)
        );
    }
}
