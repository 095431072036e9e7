//! [`AudienceStore`] on SQLite: reads on the reader connection, server-side changes on
//! the admin connection, each in its own short transaction.

use beckon::consent::Permission;
use chrono::Utc;
use rusqlite::TransactionBehavior;

use super::{lock, SqliteStore};
use crate::store::audience::{self, Audience, AUDIENCE_CHUNK};
use crate::store::devices::{self, Device, PushTarget};
use crate::store::permissions::{self, ChangeOrigin, PermissionChange};
use crate::store::profiles::{self, Profile};
use crate::store::{memberships, AudienceStore, StoreError};

impl AudienceStore for SqliteStore {
    fn profile(&self, user_key: &str) -> Result<Option<Profile>, StoreError> {
        profiles::profile(&lock(&self.reader), user_key)
    }

    fn permissions(&self, user_key: &str) -> Result<Vec<Permission>, StoreError> {
        permissions::current(&lock(&self.reader), user_key)
    }

    fn set_permission(&self, user_key: &str, change: &Permission) -> Result<bool, StoreError> {
        let mut conn = lock(&self.admin);
        // IMMEDIATE: the current state read is still current when the change is written.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied = permissions::apply(&tx, user_key, change, &ChangeOrigin::Server, Utc::now())?;
        tx.commit()?;
        Ok(applied)
    }

    fn permission_history(&self, user_key: &str) -> Result<Vec<PermissionChange>, StoreError> {
        permissions::history(&lock(&self.reader), user_key)
    }

    fn push_targets(&self, user_key: &str) -> Result<Vec<PushTarget>, StoreError> {
        devices::targets(&lock(&self.reader), user_key)
    }

    fn audiences(&self, user_keys: &[String]) -> Result<Vec<Audience>, StoreError> {
        let mut all = Vec::with_capacity(user_keys.len());
        // The reader is released between chunks so export pages are not held up.
        for chunk in user_keys.chunks(AUDIENCE_CHUNK) {
            let conn = lock(&self.reader);
            // One snapshot per chunk: its queries agree with each other.
            let tx = conn.unchecked_transaction()?;
            all.extend(audience::load(&tx, chunk)?);
            tx.finish()?;
        }
        Ok(all)
    }

    fn drop_push_token(&self, token: &str, reason: &str) -> Result<bool, StoreError> {
        let conn = lock(&self.admin);
        devices::drop_token(&conn, token, reason, Utc::now())
    }

    fn devices(&self, user_key: &str) -> Result<Vec<Device>, StoreError> {
        let conn = lock(&self.reader);
        let tx = conn.unchecked_transaction()?;
        let devices = devices::devices(&tx, user_key)?;
        tx.finish()?;
        Ok(devices)
    }

    fn device_segments(&self, user_key: &str) -> Result<Vec<String>, StoreError> {
        memberships::segments_of(&lock(&self.reader), user_key)
    }
}
