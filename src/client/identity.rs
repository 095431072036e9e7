use std::sync::Arc;

use serde_json::{Map, Value};

use super::{ClientError, Core, IdentityTokenListener};
use crate::protocol::{check_id, check_identity_token};
use crate::store::{StateKey, Store, StoreError};

/// Who the events belong to: always an anonymous id made on the device, and a user id
/// once the app identifies the user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub traits: Map<String, Value>,
}

impl Identity {
    pub(crate) fn fresh() -> Identity {
        Identity {
            anonymous_id: uuid::Uuid::new_v4().to_string(),
            user_id: None,
            traits: Map::new(),
        }
    }

    /// Reads the persisted identity, creating and saving an anonymous one on first run.
    pub(crate) fn load_or_create(store: &mut Store) -> Result<Identity, StoreError> {
        let Some(anonymous_id) = store.get_state(StateKey::AnonymousId)? else {
            let identity = Identity::fresh();
            identity.save(store)?;
            return Ok(identity);
        };
        let traits = store
            .get_state(StateKey::Traits)?
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok())
            .unwrap_or_default();
        Ok(Identity {
            anonymous_id,
            user_id: store.get_state(StateKey::UserId)?,
            traits,
        })
    }

    /// The identity after `identify`: traits merge for the same user and start over
    /// for a different one.
    pub(crate) fn identified(&self, user_id: &str, traits: &Map<String, Value>) -> Identity {
        let mut merged = if self.user_id.as_deref() == Some(user_id) {
            self.traits.clone()
        } else {
            Map::new()
        };
        merged.extend(traits.iter().map(|(k, v)| (k.clone(), v.clone())));
        Identity {
            anonymous_id: self.anonymous_id.clone(),
            user_id: Some(user_id.to_owned()),
            traits: merged,
        }
    }

    pub(crate) fn save(&self, store: &mut Store) -> Result<(), StoreError> {
        let traits =
            (!self.traits.is_empty()).then(|| Value::Object(self.traits.clone()).to_string());
        store.set_state(&[
            (StateKey::AnonymousId, Some(&self.anonymous_id)),
            (StateKey::UserId, self.user_id.as_deref()),
            (StateKey::Traits, traits.as_deref()),
        ])
    }
}

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
        self.store_identity_token(user_id, token)
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

    /// Stores a checked token; a token other than the one held wakes the uploads.
    pub(super) fn store_identity_token(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<(), ClientError> {
        let changed = self.recorder.store().set_identity_token(user_id, token)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn traits_merge_for_the_same_user_and_reset_for_another() {
        let anon = Identity::fresh();
        let alice = anon.identified("alice", &map(json!({"plan": "gold", "city": "Porto"})));
        let alice = alice.identified("alice", &map(json!({"city": "Lisbon"})));
        assert_eq!(alice.traits, map(json!({"plan": "gold", "city": "Lisbon"})));
        assert_eq!(alice.anonymous_id, anon.anonymous_id);
        let bob = alice.identified("bob", &map(json!({"plan": "free"})));
        assert_eq!(bob.traits, map(json!({"plan": "free"})));
    }

    #[test]
    fn the_identity_persists() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), Default::default()).unwrap();
        let first = Identity::load_or_create(&mut store).unwrap();
        assert_eq!(Identity::load_or_create(&mut store).unwrap(), first);
        let carol = first.identified("carol", &map(json!({"vip": true})));
        carol.save(&mut store).unwrap();
        assert_eq!(Identity::load_or_create(&mut store).unwrap(), carol);
    }
}
