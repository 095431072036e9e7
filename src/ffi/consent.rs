//! Channel permissions, push tokens, the device's profile, opt-out and deleting local
//! data, as apps call them. Conversions only.

use super::{Beckon, BeckonError};
use crate::client::PushToken;
use crate::consent::{Channel, Permission, PermissionState};
use crate::protocol::PushProvider;

/// One channel's permission: its state, where the change came from and when.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChannelPermission {
    pub channel: Channel,
    pub state: PermissionState,
    /// `app`, `server`, `unsubscribe_link`...; `default` for a channel never set.
    pub source: String,
    /// Milliseconds since the Unix epoch; 0 for a channel never set.
    pub updated_at_ms: i64,
}

impl From<Permission> for ChannelPermission {
    fn from(p: Permission) -> Self {
        ChannelPermission {
            channel: p.channel,
            state: p.state,
            source: p.source,
            updated_at_ms: p.updated_at.timestamp_millis(),
        }
    }
}

fn records(permissions: Vec<Permission>) -> Vec<ChannelPermission> {
    permissions.into_iter().map(Into::into).collect()
}

#[uniffi::export]
impl Beckon {
    /// Records the user's decision about `channel`; `source` names where it was made
    /// (`app`, `settings_screen`). Reported to the server; in-app messages stop at once
    /// when in-app is no longer allowed.
    pub fn set_permission(
        &self,
        channel: Channel,
        state: PermissionState,
        source: String,
    ) -> Result<(), BeckonError> {
        Ok(self.client.set_permission(channel, state, &source)?)
    }

    /// Every channel's permission; a channel never set is `Subscribed` from `default`.
    pub fn permissions(&self) -> Result<Vec<ChannelPermission>, BeckonError> {
        Ok(records(self.client.permissions()?))
    }

    /// Every change made on this device or brought down from the server, oldest first.
    pub fn permission_history(&self) -> Result<Vec<ChannelPermission>, BeckonError> {
        Ok(records(self.client.permission_history()?))
    }

    /// The OS notification permission as the app reads it; report it at every start
    /// and whenever it may have changed. Sent to the server only when it changes.
    pub fn set_push_permission(&self, granted: bool) -> Result<(), BeckonError> {
        Ok(self.client.set_push_permission(granted)?)
    }

    /// The OS notification permission as last reported; `null`/`nil` before any report.
    pub fn push_permission(&self) -> Result<Option<bool>, BeckonError> {
        Ok(self.client.push_permission()?)
    }

    /// The token FCM or APNs gave this device (call it on every token refresh).
    pub fn register_push_token(
        &self,
        provider: PushProvider,
        token: String,
    ) -> Result<(), BeckonError> {
        Ok(self.client.register_push_token(provider, &token)?)
    }

    /// Forgets the device's push token; the server stops sending to it.
    pub fn remove_push_token(&self) -> Result<(), BeckonError> {
        Ok(self.client.remove_push_token()?)
    }

    pub fn push_token(&self) -> Result<Option<PushToken>, BeckonError> {
        Ok(self.client.push_token()?)
    }

    /// The device's IANA time zone (`Europe/Lisbon`) and ISO 3166-1 alpha-2 country
    /// (`PT`), for sends in the user's local time; an empty string means unknown.
    pub fn set_device_profile(
        &self,
        time_zone: String,
        country: String,
    ) -> Result<(), BeckonError> {
        Ok(self.client.set_device_profile(&time_zone, &country)?)
    }

    /// Stops collection and upload until `opt_in`; queued events are discarded.
    pub fn opt_out(&self) -> Result<(), BeckonError> {
        Ok(self.client.opt_out()?)
    }

    /// Resumes collection and upload after `opt_out`.
    pub fn opt_in(&self) -> Result<(), BeckonError> {
        Ok(self.client.opt_in()?)
    }

    pub fn is_opted_out(&self) -> bool {
        self.client.is_opted_out()
    }

    /// Deletes everything Beckon keeps on the device and continues under a fresh
    /// anonymous id; only an opt-out stays. Waits for the deletion: do not call it on
    /// the main thread.
    pub fn delete_local_data(&self) -> Result<(), BeckonError> {
        Ok(self.client.delete_local_data()?)
    }
}
