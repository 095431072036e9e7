//! Who the events belong to, kept in the database and mirrored in memory by [`Store`],
//! so that it is read and changed under the store's lock like everything else the
//! device's threads share (`common::lock_order`).

use serde_json::{Map, Value};

use super::{StateKey, Store, StoreError};

/// Always an anonymous id made on the device, and a user id once the app identifies
/// the user, with the user's traits.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub traits: Map<String, Value>,
}

impl Identity {
    /// A new anonymous identity.
    pub fn fresh() -> Identity {
        Identity {
            anonymous_id: uuid::Uuid::new_v4().to_string(),
            user_id: None,
            traits: Map::new(),
        }
    }

    /// The identity after `identify`: traits merge for the same user and start over
    /// for a different one.
    pub fn identified(&self, user_id: &str, traits: &Map<String, Value>) -> Identity {
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
}

impl Store {
    /// The identity events are stamped with now.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Saves `next` as the identity and returns the one it replaces.
    pub fn set_identity(&mut self, next: Identity) -> Result<Identity, StoreError> {
        save(self, &next)?;
        Ok(std::mem::replace(&mut self.identity, next))
    }

    /// Reads the persisted identity, creating and saving an anonymous one on first run
    /// (and after a wipe).
    pub(super) fn load_identity(&mut self) -> Result<Identity, StoreError> {
        let Some(anonymous_id) = self.get_state(StateKey::AnonymousId)? else {
            let identity = Identity::fresh();
            save(self, &identity)?;
            return Ok(identity);
        };
        let traits = self
            .get_state(StateKey::Traits)?
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok())
            .unwrap_or_default();
        Ok(Identity {
            anonymous_id,
            user_id: self.get_state(StateKey::UserId)?,
            traits,
        })
    }
}

fn save(store: &mut Store, identity: &Identity) -> Result<(), StoreError> {
    let traits =
        (!identity.traits.is_empty()).then(|| Value::Object(identity.traits.clone()).to_string());
    store.set_state(&[
        (StateKey::AnonymousId, Some(&identity.anonymous_id)),
        (StateKey::UserId, identity.user_id.as_deref()),
        (StateKey::Traits, traits.as_deref()),
    ])
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
    fn the_identity_persists_and_a_wipe_makes_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), Default::default()).unwrap();
        let first = store.identity().clone();
        assert!(first.user_id.is_none());
        drop(store);
        let (mut store, _) = Store::open(dir.path(), Default::default()).unwrap();
        assert_eq!(store.identity(), &first);
        let carol = first.identified("carol", &map(json!({"vip": true})));
        assert_eq!(store.set_identity(carol.clone()).unwrap(), first);
        drop(store);
        let (mut store, _) = Store::open(dir.path(), Default::default()).unwrap();
        assert_eq!(store.identity(), &carol);
        store.wipe(&[]).unwrap();
        let fresh = store.identity().clone();
        assert_ne!(fresh.anonymous_id, carol.anonymous_id);
        assert!(fresh.user_id.is_none() && fresh.traits.is_empty());
        drop(store);
        let (store, _) = Store::open(dir.path(), Default::default()).unwrap();
        assert_eq!(store.identity(), &fresh, "the new identity was saved");
    }
}
