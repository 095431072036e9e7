//! When in-app campaigns were shown, for their caps and the minimum gap between
//! messages, kept across restarts.

use rusqlite::params;

use super::queue::insert_queued;
use super::{Store, StoreError};

/// Impressions older than this cannot matter to a cap window (campaign caps over longer
/// spans use `total`, which is counted from what is kept) and are pruned.
const KEEP_IMPRESSIONS_MS: i64 = 400 * 24 * 3600 * 1000;

impl Store {
    /// Records an impression with its `In-App Message Shown` event (queued and kept in
    /// the history) in one commit: a cap can never count a message the server never
    /// hears of, or the other way round.
    pub fn enqueue_impression(
        &mut self,
        campaign_id: &str,
        at_ms: i64,
        payload: &[u8],
    ) -> Result<u64, StoreError> {
        let (tx, next_seq) = self.queue_transaction()?;
        tx.prepare_cached("INSERT INTO impressions(campaign_id, at) VALUES (?1, ?2)")?
            .execute(params![campaign_id, at_ms])?;
        tx.prepare_cached("INSERT INTO history(at, event) VALUES (?1, ?2)")?
            .execute(params![at_ms, payload])?;
        insert_queued(&tx, next_seq, at_ms, payload)?;
        tx.commit()?;
        self.queued(&[payload])
    }

    /// Every kept impression as (campaign id, time in ms), pruning the old ones first.
    pub fn impressions(&mut self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.conn
            .prepare_cached("DELETE FROM impressions WHERE at < ?1")?
            .execute([now_ms - KEEP_IMPRESSIONS_MS])?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT campaign_id, at FROM impressions ORDER BY at")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
