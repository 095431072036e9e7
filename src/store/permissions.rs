//! The user's channel permissions on the device: the latest change per channel and the
//! history of every change. A change the app makes is committed together with the
//! event reporting it to the server, so the two can never disagree after a crash.

use chrono::DateTime;
use rusqlite::{params, Transaction};

use super::{Store, StoreError};
use crate::consent::{Channel, Permission, PermissionState};

impl Store {
    /// The recorded permissions (channels never set are absent), in channel order.
    pub fn permissions(&self) -> Result<Vec<Permission>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT channel, state, source, updated_at FROM permissions")?;
        let rows = stmt.query_map([], read_permission)?;
        let mut permissions = rows
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        permissions.sort_by_key(|p| p.channel);
        Ok(permissions)
    }

    /// Every change kept, oldest first.
    pub fn permission_history(&self) -> Result<Vec<Permission>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT channel, state, source, updated_at FROM permission_history ORDER BY seq",
        )?;
        let rows = stmt.query_map([], read_permission)?;
        Ok(rows
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Records a change the app made, with its event when one is to be uploaded
    /// (`None` while the user is opted out), in one commit.
    pub fn record_permission(
        &mut self,
        change: &Permission,
        event: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let at_ms = change.updated_at.timestamp_millis();
        let events: Vec<&[u8]> = event.into_iter().collect();
        self.commit_reported(at_ms, &events, |tx| apply(tx, change))
    }

    /// Takes changes the server sent (nothing to upload: the server made them), in one
    /// commit.
    pub fn take_permissions(&mut self, changes: &[Permission]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for change in changes {
            apply(&tx, change)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the permissions and their history (they were another user's).
    pub fn clear_permissions(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM permissions", [])?;
        tx.execute("DELETE FROM permission_history", [])?;
        tx.commit()?;
        Ok(())
    }
}

fn apply(tx: &Transaction<'_>, change: &Permission) -> Result<(), StoreError> {
    let values = params![
        change.channel.as_str(),
        change.state.as_str(),
        change.source,
        change.updated_at.timestamp_millis()
    ];
    tx.prepare_cached(
        "INSERT OR REPLACE INTO permissions(channel, state, source, updated_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(values)?;
    tx.prepare_cached(
        "INSERT INTO permission_history(channel, state, source, updated_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(values)?;
    Ok(())
}

/// A stored row; `None` for a row a later version wrote with a channel or state this
/// one does not know, which is skipped rather than failing every read.
fn read_permission(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Permission>> {
    let channel: String = row.get(0)?;
    let state: String = row.get(1)?;
    let (Ok(channel), Ok(state)) = (channel.parse::<Channel>(), state.parse::<PermissionState>())
    else {
        return Ok(None);
    };
    let updated_at = DateTime::from_timestamp_millis(row.get(3)?).unwrap_or_default();
    Ok(Some(Permission {
        channel,
        state,
        source: row.get(2)?,
        updated_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{migrate, QueueLimits, MIGRATIONS};
    use chrono::{DateTime, Utc};
    use rusqlite::Connection;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn change(channel: Channel, state: PermissionState, ms: i64) -> Permission {
        Permission {
            channel,
            state,
            source: "app".into(),
            updated_at: at(ms),
        }
    }

    #[test]
    fn the_latest_change_per_channel_and_every_change_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
            let sms = change(Channel::Sms, PermissionState::OptedIn, 1_000);
            store.record_permission(&sms, Some(b"{\"e\":1}")).unwrap();
            store
                .record_permission(
                    &change(Channel::Email, PermissionState::Unsubscribed, 2_000),
                    None,
                )
                .unwrap();
            store
                .take_permissions(&[change(Channel::Sms, PermissionState::Unsubscribed, 3_000)])
                .unwrap();
            assert_eq!(
                store.totals().unwrap().events,
                1,
                "only the change with an event queues one"
            );
        }
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        assert_eq!(
            store.permissions().unwrap(),
            vec![
                change(Channel::Email, PermissionState::Unsubscribed, 2_000),
                change(Channel::Sms, PermissionState::Unsubscribed, 3_000),
            ]
        );
        assert_eq!(
            store.permission_history().unwrap(),
            vec![
                change(Channel::Sms, PermissionState::OptedIn, 1_000),
                change(Channel::Email, PermissionState::Unsubscribed, 2_000),
                change(Channel::Sms, PermissionState::Unsubscribed, 3_000),
            ]
        );
        assert_eq!(
            store.peek_batch(10, usize::MAX).unwrap()[0].payload,
            b"{\"e\":1}"
        );
    }

    #[test]
    fn rows_this_version_cannot_read_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO permissions VALUES ('pigeon', 'opted_in', 'app', 1)",
                [],
            )
            .unwrap();
        store
            .record_permission(&change(Channel::Push, PermissionState::OptedIn, 5), None)
            .unwrap();
        assert_eq!(
            store.permissions().unwrap(),
            vec![change(Channel::Push, PermissionState::OptedIn, 5)]
        );
    }

    #[test]
    fn clearing_forgets_the_permissions_and_their_history() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        store
            .record_permission(&change(Channel::Push, PermissionState::OptedIn, 5), None)
            .unwrap();
        store.clear_permissions().unwrap();
        assert!(store.permissions().unwrap().is_empty());
        assert!(store.permission_history().unwrap().is_empty());
    }

    #[test]
    fn a_database_of_the_previous_release_gains_the_consent_tables_and_keeps_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        let previous: Vec<_> = MIGRATIONS
            .iter()
            .copied()
            .filter(|m| m.version < 4)
            .collect();
        migrate(&mut conn, &previous).unwrap();
        conn.execute(
            "INSERT INTO events(created_at, payload) VALUES (1, x'7b7d')",
            [],
        )
        .unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        for table in [
            "permissions",
            "permission_history",
            "push_permission",
            "push_token",
            "device_profile",
            "opt_out",
        ] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        let events: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1);
    }
}
