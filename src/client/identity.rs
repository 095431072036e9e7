use std::sync::Arc;

use super::{ClientError, Core, IdentityTokenListener};
use crate::protocol::{check_id, check_identity_token};
use crate::store::Store;

/// Verified identities: the token the app's backend signed for a user, and the app's
/// listener for tokens the server refuses.
impl Core {
    /// Stores `token` as `user_id`'s identity token, for the user's queued and later
    /// events and permission reads. Call it when the app gets a new token from its
    /// backend (after [`IdentityTokenListener::identity_token_needed`], or on its own
    /// refresh): events waiting for it are retried at once.
    pub fn set_identity_token(&self, user_id: &str, token: &str) -> Result<(), ClientError> {
        check_id("user_id", user_id).map_err(ClientError::InvalidArgument)?;
        check_token(token)?;
        self.store_identity_token(&mut self.recorder.store(), user_id, token)
    }

    /// Calls `listener` on the upload thread when the server refuses a user's identity
    /// token, once per user and refused token (`None`: stop). A refusal heard while no
    /// listener was set is told to the next one.
    pub fn set_identity_token_listener(
        &self,
        listener: Option<Arc<dyn IdentityTokenListener>>,
    ) -> Result<(), ClientError> {
        self.uploader.set_identity_token_listener(listener);
        Ok(())
    }

    /// Stores a checked token through the locked `store`; a token other than the one
    /// held wakes the uploads.
    pub(super) fn store_identity_token(
        &self,
        store: &mut Store,
        user_id: &str,
        token: &str,
    ) -> Result<(), ClientError> {
        let changed = store.set_identity_token(user_id, token)?;
        if changed {
            self.uploader.identity_token_set(user_id);
        }
        Ok(())
    }
}

/// An identity token as the app passes it, refused with an error naming the argument.
pub(super) fn check_token(token: &str) -> Result<(), ClientError> {
    check_identity_token("identity_token", token).map_err(ClientError::InvalidArgument)
}
