//! The deep link of a push opened before the app's router was ready, kept until the
//! app says it is, then handed over once.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A deep link waiting for the app's router, with the push it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    pub url: String,
    pub message_id: Option<String>,
    pub campaign_id: Option<String>,
    pub send_id: Option<String>,
    pub received_at_ms: i64,
}

impl Store {
    /// Takes the pending link, if any, in one transaction: once taken it is gone, so a
    /// link is delivered at most once whatever happens next. A link older than
    /// `max_age_ms` is removed and not returned: the moment it belonged to has passed.
    pub fn take_pending_link(
        &mut self,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Result<Option<PendingLink>, StoreError> {
        let tx = self.conn.transaction()?;
        let link = tx
            .prepare_cached(
                "SELECT url, message_id, campaign_id, send_id, received_at
                 FROM pending_link WHERE slot = 1",
            )?
            .query_row([], |row| {
                Ok(PendingLink {
                    url: row.get(0)?,
                    message_id: row.get(1)?,
                    campaign_id: row.get(2)?,
                    send_id: row.get(3)?,
                    received_at_ms: row.get(4)?,
                })
            })
            .optional()?;
        tx.prepare_cached("DELETE FROM pending_link")?.execute([])?;
        tx.commit()?;
        Ok(link.filter(|l| now_ms.saturating_sub(l.received_at_ms) <= max_age_ms))
    }
}

/// Keeps `link` as the pending one, replacing any earlier: the latest tap wins.
pub(super) fn put_pending_link(
    conn: &rusqlite::Connection,
    link: &PendingLink,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO pending_link
             (slot, url, message_id, campaign_id, send_id, received_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        link.url,
        link.message_id,
        link.campaign_id,
        link.send_id,
        link.received_at_ms
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueLimits;

    fn link(url: &str, at: i64) -> PendingLink {
        PendingLink {
            url: url.into(),
            message_id: Some("m".into()),
            campaign_id: None,
            send_id: Some("s".into()),
            received_at_ms: at,
        }
    }

    #[test]
    fn the_latest_link_is_taken_once_even_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            put_pending_link(&store.conn, &link("shop://a", 1_000)).unwrap();
            put_pending_link(&store.conn, &link("shop://b", 2_000)).unwrap();
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.take_pending_link(3_000, 60_000).unwrap(),
            Some(link("shop://b", 2_000))
        );
        assert_eq!(store.take_pending_link(3_000, 60_000).unwrap(), None);
        drop(store);
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(store.take_pending_link(3_000, 60_000).unwrap(), None);
    }

    #[test]
    fn a_stale_link_is_dropped_not_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        put_pending_link(&store.conn, &link("shop://a", 1_000)).unwrap();
        assert_eq!(
            store.take_pending_link(1_000 + 60_001, 60_000).unwrap(),
            None
        );
        // Gone, even once the clock is set back.
        assert_eq!(store.take_pending_link(1_000, 60_000).unwrap(), None);
    }
}
