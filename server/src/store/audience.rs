//! What a send needs to know about each of its users, read for many users at once:
//! profile, channel permissions and live push tokens.
//!
//! A chunk of users costs one query per table whatever its size (the keys travel as
//! one JSON array), so a campaign to 100,000 users is a few hundred queries.

use beckon::consent::{allows, state_of, Channel, Permission, PermissionState};
use rusqlite::Connection;
use serde::Serialize;

use super::devices::{self, PushTarget};
use super::permissions;
use super::profiles::{self, Profile};
use super::StoreError;

/// How many users one round of queries reads.
pub const AUDIENCE_CHUNK: usize = 1_000;

/// One user as a send sees them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audience {
    pub user_key: String,
    /// `None` for a user no event has named (permissions may still be set for them).
    pub profile: Option<Profile>,
    /// The latest change per channel; a channel absent here was never set.
    pub permissions: Vec<Permission>,
    /// Live tokens of the user's devices, whatever the OS permission.
    pub push_targets: Vec<PushTarget>,
}

impl Audience {
    pub fn state(&self, channel: Channel) -> PermissionState {
        state_of(&self.permissions, channel)
    }

    /// Whether a message may go to the user on `channel`: the user's permission allows
    /// the channel, and the user can be reached there (push: a live token on a device
    /// whose OS permission is granted; email: an `email` trait; SMS and WhatsApp: a
    /// `phone` trait; in-app: nothing more, the message waits in the app).
    pub fn can_receive(&self, channel: Channel) -> bool {
        if !allows(channel, self.state(channel)) {
            return false;
        }
        match channel {
            Channel::Push => self.push_targets.iter().any(PushTarget::os_allows),
            Channel::InApp => true,
            Channel::Email => self.profile.as_ref().and_then(Profile::email).is_some(),
            Channel::Sms | Channel::Whatsapp => {
                self.profile.as_ref().and_then(Profile::phone).is_some()
            }
        }
    }

    /// The tokens a push may go to: none when push is not allowed, else those of the
    /// devices whose OS permission is granted.
    pub fn push_recipients(&self) -> impl Iterator<Item = &PushTarget> {
        let allowed = allows(Channel::Push, self.state(Channel::Push));
        self.push_targets
            .iter()
            .filter(move |target| allowed && target.os_allows())
    }

    /// The first channel of `preference` the user can receive, if any.
    pub fn first_channel(&self, preference: &[Channel]) -> Option<Channel> {
        preference
            .iter()
            .copied()
            .find(|channel| self.can_receive(*channel))
    }
}

/// The audience of each key, in the order given (at most [`AUDIENCE_CHUNK`] keys is
/// best; any number works).
pub(super) fn load(conn: &Connection, user_keys: &[String]) -> Result<Vec<Audience>, StoreError> {
    let keys = serde_json::to_string(user_keys)?;
    let mut profiles = profiles::profiles_of_many(conn, &keys)?;
    let mut permissions = permissions::current_of_many(conn, &keys)?;
    let mut targets = devices::targets_of_many(conn, &keys)?;
    // A key listed twice gets its data twice: whatever was taken is cloned back.
    let mut seen = std::collections::HashMap::new();
    Ok(user_keys
        .iter()
        .map(|key| {
            if let Some(first) = seen.get(key) {
                return Clone::clone(first);
            }
            let audience = Audience {
                user_key: key.clone(),
                profile: profiles.remove(key),
                permissions: permissions.remove(key).unwrap_or_default(),
                push_targets: targets.remove(key).unwrap_or_default(),
            };
            seen.insert(key.clone(), audience.clone());
            audience
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon::consent::PermissionState::*;
    use beckon::protocol::PushProvider;
    use serde_json::json;

    fn audience(permissions: &[(Channel, PermissionState)], traits: serde_json::Value) -> Audience {
        let at = "2025-06-01T12:00:00Z".parse().unwrap();
        Audience {
            user_key: "u".into(),
            profile: Some(Profile {
                user_key: "u".into(),
                timezone: None,
                locale: None,
                country: None,
                traits: traits.as_object().unwrap().clone(),
                first_seen_at: at,
                last_seen_at: at,
            }),
            permissions: permissions
                .iter()
                .map(|(channel, state)| Permission {
                    channel: *channel,
                    state: *state,
                    source: "app".into(),
                    updated_at: at,
                })
                .collect(),
            push_targets: Vec::new(),
        }
    }

    fn target(token: &str, os_permission: Option<bool>) -> PushTarget {
        PushTarget {
            provider: PushProvider::Fcm,
            token: token.into(),
            anonymous_id: "d".into(),
            os_permission,
        }
    }

    #[test]
    fn a_channel_needs_the_permission_and_an_address() {
        let bare = audience(&[], json!({}));
        assert!(bare.can_receive(Channel::InApp));
        for channel in [
            Channel::Push,
            Channel::Email,
            Channel::Sms,
            Channel::Whatsapp,
        ] {
            assert!(!bare.can_receive(channel), "{channel}: no address");
        }
        let reachable = audience(&[], json!({"email": "a@x.pt", "phone": "+351900"}));
        assert!(reachable.can_receive(Channel::Email));
        assert!(
            !reachable.can_receive(Channel::Sms),
            "SMS needs an explicit opt-in"
        );
        let opted = audience(
            &[(Channel::Sms, OptedIn), (Channel::Email, Unsubscribed)],
            json!({"email": "a@x.pt", "phone": "+351900"}),
        );
        assert!(opted.can_receive(Channel::Sms));
        assert!(!opted.can_receive(Channel::Whatsapp));
        assert!(!opted.can_receive(Channel::Email));
        let off = audience(&[(Channel::InApp, Unsubscribed)], json!({}));
        assert!(!off.can_receive(Channel::InApp));
        assert!(!audience(&[], json!({"email": " "})).can_receive(Channel::Email));
    }

    #[test]
    fn push_needs_a_token_with_the_os_permission_granted() {
        let mut user = audience(&[], json!({}));
        user.push_targets = vec![target("unknown", None), target("denied", Some(false))];
        assert!(!user.can_receive(Channel::Push));
        assert_eq!(user.push_recipients().count(), 0);
        user.push_targets.push(target("granted", Some(true)));
        assert!(user.can_receive(Channel::Push));
        let tokens: Vec<&str> = user.push_recipients().map(|t| t.token.as_str()).collect();
        assert_eq!(tokens, ["granted"]);
        user.permissions = audience(&[(Channel::Push, Unsubscribed)], json!({})).permissions;
        assert!(!user.can_receive(Channel::Push));
        assert_eq!(user.push_recipients().count(), 0);
    }

    #[test]
    fn the_first_receivable_channel_of_the_preference_is_picked() {
        let user = audience(&[(Channel::Sms, OptedIn)], json!({"phone": "+1"}));
        let preference = [Channel::Push, Channel::Email, Channel::Sms, Channel::InApp];
        assert_eq!(user.first_channel(&preference), Some(Channel::Sms));
        assert_eq!(user.first_channel(&[Channel::Push, Channel::Email]), None);
    }
}
