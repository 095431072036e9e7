//! The consent decisions the SDK checks on hot paths, kept in memory next to the store:
//! whether the user opted out (every stored event) and whether in-app messages may be
//! shown (every fired trigger). Updated under the store's lock by whoever changes the
//! stored state, so the two never disagree for longer than that lock is held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::consent::{self, Channel, Permission, PermissionState};
use crate::protocol::PermissionsDocument;
use crate::store::{Identity, StoreError, StoreGuard, StoreLock};
use crate::sync::ConsentLink;

pub(crate) struct ConsentState {
    store: Arc<StoreLock>,
    opted_out: AtomicBool,
    in_app_allowed: AtomicBool,
    /// Each channel's state, for the segment rules the engagement thread evaluates.
    states: Mutex<Vec<(Channel, PermissionState)>>,
}

impl ConsentState {
    /// Reads the stored decisions.
    pub(crate) fn load(store: Arc<StoreLock>) -> Result<ConsentState, StoreError> {
        let state = ConsentState {
            store,
            opted_out: AtomicBool::new(false),
            in_app_allowed: AtomicBool::new(true),
            states: Mutex::new(channel_states(&[])),
        };
        {
            let store = state.store();
            state.note_opted_out(store.opted_out_since()?.is_some());
            state.note_permissions(&store.permissions()?);
        }
        Ok(state)
    }

    fn store(&self) -> StoreGuard<'_> {
        self.store.lock()
    }

    pub(crate) fn is_opted_out(&self) -> bool {
        self.opted_out.load(Ordering::SeqCst)
    }

    /// Whether an in-app message may be shown now: the in-app channel is allowed, and
    /// the user has not opted out (a message could then record neither its impression
    /// nor the events its caps count).
    pub(crate) fn may_show_in_app(&self) -> bool {
        self.in_app_allowed.load(Ordering::SeqCst) && !self.is_opted_out()
    }

    /// To be called with the store's lock held, after the stored opt-out changed.
    pub(crate) fn note_opted_out(&self, opted_out: bool) {
        self.opted_out.store(opted_out, Ordering::SeqCst);
    }

    /// To be called with the store's lock held, after the stored permissions changed.
    pub(crate) fn note_permissions(&self, permissions: &[Permission]) {
        let in_app = consent::allows(
            Channel::InApp,
            consent::state_of(permissions, Channel::InApp),
        );
        self.in_app_allowed.store(in_app, Ordering::SeqCst);
        *self.states.lock().unwrap_or_else(|p| p.into_inner()) = channel_states(permissions);
    }

    /// Every channel's current state (the default where none was set).
    pub(crate) fn channel_states(&self) -> Vec<(Channel, PermissionState)> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn take(&self, document: PermissionsDocument) -> Result<(), StoreError> {
        // Checked under the lock the change is made under: a document fetched for a user
        // who has since logged out or been replaced must not land on the next one.
        let mut store = self.store();
        if document.user_key != owner_of(store.identity()).1 {
            return Ok(());
        }
        let local = store.permissions()?;
        let changes = consent::changes_from_server(&local, &document.permissions);
        if !changes.is_empty() {
            store.take_permissions(&changes)?;
            self.note_permissions(&store.permissions()?);
        }
        Ok(())
    }
}

/// The query naming the user whose permissions the server holds: the user id once the
/// app identified the user, the anonymous id before.
fn owner_of(identity: &Identity) -> (&'static str, String) {
    match &identity.user_id {
        Some(user_id) => ("user_id", user_id.clone()),
        None => ("anonymous_id", identity.anonymous_id.clone()),
    }
}

impl ConsentLink for ConsentState {
    fn opted_out(&self) -> bool {
        self.is_opted_out()
    }

    fn permissions_owner(&self) -> (&'static str, String) {
        owner_of(self.store().identity())
    }

    fn take_permissions(&self, document: PermissionsDocument) {
        // A failed write leaves the device's permissions as they were; the next sync
        // brings the same document again.
        let _ = self.take(document);
    }
}

fn channel_states(permissions: &[Permission]) -> Vec<(Channel, PermissionState)> {
    Channel::ALL
        .into_iter()
        .map(|channel| (channel, consent::state_of(permissions, channel)))
        .collect()
}
