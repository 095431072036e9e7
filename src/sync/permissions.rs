//! Bringing the user's channel permissions down during a sync: the server may have
//! heard of changes the device has not (an unsubscribe link, a support agent, another
//! device). The SDK merges them into its own (see `consent::changes_from_server`).

use std::collections::BTreeMap;

use crate::net::{HttpTransport, TokenRequests, TransportError};
use crate::protocol::PermissionsDocument;
use crate::store::StoreLock;

/// The SDK's consent state, as the upload worker needs it.
pub trait ConsentLink: Send + Sync {
    /// Whether the user opted out of collection: the worker then sends nothing about
    /// them, neither events nor requests naming them.
    fn opted_out(&self) -> bool;
    /// The user whose permissions to bring down: `("user_id", id)`, or
    /// `("anonymous_id", id)` before the user is identified.
    fn permissions_owner(&self) -> (&'static str, String);
    /// Merges what the server holds into the device's permissions.
    fn take_permissions(&self, document: PermissionsDocument);
}

/// Fetches the user's permissions, with their identity token when the store holds one,
/// and hands them to `link`. Returns whether a document was handed over: `false` when
/// the server knows nothing of the user (404) or the user opted out. On an error the
/// device keeps what it has; a refused token is also told to `identity`.
pub(crate) async fn bring_down(
    transport: &HttpTransport,
    link: &dyn ConsentLink,
    store: &StoreLock,
    identity: &mut TokenRequests,
) -> Result<bool, TransportError> {
    if link.opted_out() {
        return Ok(false);
    }
    let (param, value) = link.permissions_owner();
    let mut sent = BTreeMap::new();
    if param == "user_id" {
        let stored = store.lock().identity_token(&value);
        // Without it the server may still answer (it does not verify identities).
        if let Ok(Some(token)) = stored {
            sent.insert(value.clone(), token);
        }
    }
    let fetched = transport
        .fetch_permissions((param, &value), sent.get(&value).map(String::as_str))
        .await;
    if let Err(TransportError::IdentityRefused(refused)) = &fetched {
        identity.refused(refused, &sent);
    }
    let document = fetched?;
    let taken = document.is_some();
    if let Some(document) = document {
        link.take_permissions(document);
    }
    Ok(taken)
}
