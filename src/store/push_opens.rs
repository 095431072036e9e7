//! An opened push, recorded in one commit: its events, the promo it carried and the
//! deep link waiting for the app's router. A crash can never keep the promo without
//! the open the server is told about, or the other way round.

use super::pending_links::{put_pending_link, PendingLink};
use super::promos::{prune_promos, save_promo};
use super::queue::insert_queued;
use super::{Store, StoreError};
use crate::push::Promo;

impl Store {
    /// Queues `events` (`Push Opened`, and `Deep Link Opened` when the link was
    /// delivered at once), keeps `promo` and `pending`. Returns how many old events
    /// were dropped to stay within the queue's limits.
    pub fn record_push_open(
        &mut self,
        at_ms: i64,
        events: &[&[u8]],
        promo: Option<&Promo>,
        pending: Option<&PendingLink>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        for (i, payload) in events.iter().enumerate() {
            insert_queued(&tx, self.next_seq + i as i64, at_ms, payload)?;
        }
        if let Some(promo) = promo {
            prune_promos(&tx, at_ms)?;
            save_promo(&tx, promo)?;
        }
        if let Some(link) = pending {
            put_pending_link(&tx, link)?;
        }
        tx.commit()?;
        self.queued(events)
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
        store
            .record_push_open(
                now.timestamp_millis(),
                &[b"{\"a\":1}", b"{\"b\":2}"],
                Some(&promo),
                Some(&link),
            )
            .unwrap();
        assert_eq!(store.totals().events, 2);
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
