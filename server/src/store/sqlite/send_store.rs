//! [`SendStore`] on SQLite: writes on the admin connection, each call one short
//! IMMEDIATE transaction (claims and counters are read and written without another
//! writer in between); reads on the reader connection.

use chrono::{DateTime, Utc};
use rusqlite::TransactionBehavior;

use super::{lock, SqliteStore};
use crate::store::sends::{self, Added};
use crate::store::{
    DeliveryRecord, DeliveryResult, DeliveryStatus, DueDelivery, NewDelivery, NewSend, SendRecord,
    SendStore, StoreError,
};

impl SqliteStore {
    /// Runs `work` in one IMMEDIATE transaction on the admin connection.
    fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.admin);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = work(&tx)?;
        tx.commit()?;
        Ok(result)
    }
}

impl SendStore for SqliteStore {
    fn create_send(&self, send: &NewSend) -> Result<(), StoreError> {
        sends::create_send(&lock(&self.admin), send)
    }

    fn send(&self, id: &str) -> Result<Option<SendRecord>, StoreError> {
        sends::send(&lock(&self.reader), id)
    }

    fn next_to_plan(&self) -> Result<Option<SendRecord>, StoreError> {
        sends::next_to_plan(&lock(&self.reader))
    }

    fn start_planning(&self, id: &str) -> Result<(), StoreError> {
        sends::start_planning(&lock(&self.admin), id)
    }

    fn add_deliveries(
        &self,
        send_id: &str,
        deliveries: &[NewDelivery],
        at: DateTime<Utc>,
    ) -> Result<Added, StoreError> {
        self.write(|tx| sends::add_deliveries(tx, send_id, deliveries, at))
    }

    fn finish_planning(
        &self,
        id: &str,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| sends::finish_planning(tx, id, error, at))
    }

    fn cancel_send(&self, id: &str, at: DateTime<Utc>) -> Result<Option<SendRecord>, StoreError> {
        self.write(|tx| sends::cancel_send(tx, id, at))
    }

    fn release_claims(&self) -> Result<u64, StoreError> {
        sends::release_claims(&lock(&self.admin))
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDelivery>, StoreError> {
        self.write(|tx| sends::claim_due(tx, now, limit))
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        sends::next_due(&lock(&self.reader))
    }

    fn record_results(
        &self,
        results: &[DeliveryResult],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        self.write(|tx| sends::record_results(tx, results, at))
    }

    fn deliveries(
        &self,
        send_id: &str,
        after: i64,
        limit: usize,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let conn = lock(&self.reader);
        // One snapshot: the attempts read belong to the deliveries read.
        let tx = conn.unchecked_transaction()?;
        let page = sends::deliveries(&tx, send_id, after, limit, status)?;
        tx.finish()?;
        Ok(page)
    }
}
