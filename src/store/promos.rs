//! Promo codes the shopper received with pushes, and how often each was used.

use chrono::DateTime;
use rusqlite::{params, OptionalExtension, Row};

use super::queue::insert_queued;
use super::{Store, StoreError};
use crate::protocol::PromoOffer;
use crate::push::Promo;

/// Promos are forgotten this long after they expired: long enough to tell a shopper
/// their code has expired rather than that it is unknown.
const KEEP_AFTER_EXPIRY_MS: i64 = 30 * 24 * 3600 * 1000;

const COLUMNS: &str = "offer, uses, received_at, message_id, campaign_id";

impl Store {
    /// Every kept promo. A row this version cannot read (written by a newer one) is
    /// skipped, not fatal.
    pub fn promos(&self) -> Result<Vec<Promo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM promos ORDER BY code"))?;
        let rows = stmt.query_map([], read_row)?;
        Ok(rows
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The promo with `code`, matched case-insensitively.
    pub fn promo(&self, code: &str) -> Result<Option<Promo>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM promos WHERE code = ?1"))?
            .query_row([code], read_row)
            .optional()?
            .flatten())
    }

    /// Counts one use of `code` and queues its `Coupon Applied` event in one commit, so
    /// a use is never counted without the server hearing of it or the other way round.
    /// When the promo already has `max_uses` uses (another call got there first),
    /// nothing changes and `false` comes back.
    pub fn use_promo(
        &mut self,
        code: &str,
        max_uses: u32,
        at_ms: i64,
        payload: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        let counted = tx
            .prepare_cached("UPDATE promos SET uses = uses + 1 WHERE code = ?1 AND uses < ?2")?
            .execute(params![code, max_uses])?;
        if counted == 0 {
            return Ok(false);
        }
        if let Some(payload) = payload {
            insert_queued(&tx, next_seq, at_ms, payload)?;
        }
        tx.commit()?;
        self.queued(payload.as_slice())?;
        Ok(true)
    }
}

/// Keeps `promo`, replacing the offer of a promo with the same code (a newer push may
/// extend it) but never its count of uses.
pub(super) fn save_promo(conn: &rusqlite::Connection, promo: &Promo) -> Result<(), StoreError> {
    let offer = serde_json::to_string(&promo.offer).expect("plain data always serializes");
    conn.prepare_cached(
        "INSERT INTO promos(code, offer, expires_at, uses, received_at, message_id, campaign_id)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)
         ON CONFLICT(code) DO UPDATE SET
             offer = excluded.offer, expires_at = excluded.expires_at,
             received_at = excluded.received_at, message_id = excluded.message_id,
             campaign_id = excluded.campaign_id",
    )?
    .execute(params![
        promo.offer.code,
        offer,
        promo.offer.expires_at.timestamp_millis(),
        promo.received_at.timestamp_millis(),
        promo.message_id,
        promo.campaign_id,
    ])?;
    Ok(())
}

/// Forgets promos that expired long before `now_ms`.
pub(super) fn prune_promos(conn: &rusqlite::Connection, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM promos WHERE expires_at < ?1")?
        .execute([now_ms.saturating_sub(KEEP_AFTER_EXPIRY_MS)])?;
    Ok(())
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<Option<Promo>> {
    let offer: String = row.get(0)?;
    let uses: i64 = row.get(1)?;
    let received_at: i64 = row.get(2)?;
    let Ok(offer) = serde_json::from_str::<PromoOffer>(&offer) else {
        return Ok(None);
    };
    Ok(Some(Promo {
        offer,
        uses: u32::try_from(uses).unwrap_or(u32::MAX),
        received_at: DateTime::from_timestamp_millis(received_at).unwrap_or_default(),
        message_id: row.get(3)?,
        campaign_id: row.get(4)?,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::protocol::Discount;
    use crate::store::QueueLimits;

    fn promo(code: &str, max_uses: u32) -> Promo {
        Promo {
            offer: PromoOffer {
                code: code.into(),
                discount: Discount::Fixed { value: 5.0 },
                currency: Some("EUR".into()),
                expires_at: Utc::now() + TimeDelta::days(2),
                min_basket: Some(20.0),
                max_uses,
            },
            uses: 0,
            received_at: DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap(),
            message_id: Some("m-1".into()),
            campaign_id: None,
        }
    }

    #[test]
    fn promos_survive_reopening_and_uses_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let p = promo("Save5", 2);
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            save_promo(&store.conn, &p).unwrap();
            assert!(store.use_promo("SAVE5", 2, 1, Some(b"{\"n\":1}")).unwrap());
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.promos().unwrap(),
            vec![Promo {
                uses: 1,
                ..p.clone()
            }]
        );
        assert_eq!(store.promo("save5").unwrap().unwrap().uses, 1);
        assert!(store.use_promo("save5", 2, 2, Some(b"{\"n\":2}")).unwrap());
        assert!(!store.use_promo("save5", 2, 3, Some(b"{\"n\":3}")).unwrap());
        assert_eq!(store.promo("SAVE5").unwrap().unwrap().uses, 2);
        // Two uses, two events; the refused third left no event behind.
        assert_eq!(store.totals().unwrap().events, 2);
        assert!(!store.use_promo("UNKNOWN", 2, 4, Some(b"{}")).unwrap());
        assert_eq!(store.totals().unwrap().events, 2);
    }

    #[test]
    fn a_promo_sent_again_keeps_its_uses_and_takes_the_new_offer() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        save_promo(&store.conn, &promo("SAVE5", 1)).unwrap();
        assert!(store.use_promo("SAVE5", 1, 1, Some(b"{}")).unwrap());
        let extended = promo("SAVE5", 3);
        save_promo(&store.conn, &extended).unwrap();
        let stored = store.promo("SAVE5").unwrap().unwrap();
        assert_eq!((stored.uses, stored.offer.max_uses), (1, 3));
    }

    #[test]
    fn long_expired_promos_are_pruned_and_unreadable_rows_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let mut old = promo("OLD", 1);
        old.offer.expires_at = Utc::now() - TimeDelta::days(31);
        let mut recent = promo("RECENT", 1);
        recent.offer.expires_at = Utc::now() - TimeDelta::days(29);
        save_promo(&store.conn, &old).unwrap();
        save_promo(&store.conn, &recent).unwrap();
        prune_promos(&store.conn, Utc::now().timestamp_millis()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO promos(code, offer, expires_at, received_at) VALUES ('NEW', '{\"v2\":1}', 0, 0)",
                [],
            )
            .unwrap();
        let codes: Vec<String> = store
            .promos()
            .unwrap()
            .into_iter()
            .map(|p| p.offer.code)
            .collect();
        assert_eq!(codes, ["RECENT"]);
    }
}
