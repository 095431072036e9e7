//! Channel permissions, the OS push permission, push tokens, the device's profile, the
//! global opt-out and deleting local data, as the app calls them.
//!
//! Every change the server must hear of is stored with its event in one commit and
//! travels through the ordinary queue (`protocol::consent` names them). Changes the
//! server makes come down with each sync (`ConsentState` merges them).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{ClientError, Core};
use crate::consent::{self, Channel, Permission, PermissionState};
use crate::protocol::{
    PushProvider, WireEvent, WireKind, CHANNEL_PERMISSION_CHANGED, CHANNEL_PROPERTY,
    COUNTRY_CONTEXT, GRANTED_PROPERTY, PROVIDER_PROPERTY, PUSH_PERMISSION_CHANGED,
    PUSH_TOKEN_REGISTERED, PUSH_TOKEN_REMOVED, SOURCE_PROPERTY, STATE_PROPERTY, TIMEZONE_CONTEXT,
    TOKEN_PROPERTY,
};
use crate::store::{DeviceProfile, Identity, Store, StoreError};

/// Tables whose rows survive `delete_local_data`: the user's choice not to be tracked
/// is not their data, and dropping it would start collecting again.
const KEPT_ON_DELETE: &[&str] = &["opt_out"];
/// How long `delete_local_data` waits for the engagement thread, which runs the
/// deletion after the events it is still working through.
const DELETE_ANSWER: Duration = Duration::from_secs(60);

/// The device's push token, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct PushToken {
    pub provider: PushProvider,
    pub token: String,
}

impl Core {
    /// Records the user's decision about `channel`, from `source` (`app`,
    /// `settings_screen`...): kept locally with its history and reported to the server.
    /// In-app messages stop at once when in-app is no longer allowed.
    pub fn set_permission(
        &self,
        channel: Channel,
        state: PermissionState,
        source: &str,
    ) -> Result<(), ClientError> {
        consent::check_source(source).map_err(ClientError::InvalidArgument)?;
        let change = Permission {
            channel,
            state,
            source: source.to_owned(),
            updated_at: now_ms(),
        };
        let mut store = self.recorder.store();
        let event = self.permission_event(store.identity(), &change);
        let consent = &self.recorder.consent;
        self.recorder.record_reported(
            &mut store,
            &[event],
            change.updated_at,
            |store, _, events| {
                store.record_permission(&change, events.first().copied())?;
                consent.note_permissions(&store.permissions()?);
                Ok(())
            },
        )
    }

    /// Every channel's permission: the recorded one, or for a channel never set the
    /// default (subscribed, source `default`, at the Unix epoch).
    pub fn permissions(&self) -> Result<Vec<Permission>, ClientError> {
        let recorded = self.recorder.store().permissions()?;
        Ok(consent::with_defaults(&recorded))
    }

    /// Every change recorded on this device or brought down from the server, oldest
    /// first.
    pub fn permission_history(&self) -> Result<Vec<Permission>, ClientError> {
        Ok(self.recorder.store().permission_history()?)
    }

    /// The OS push permission, as the app reads it from the system. Reported to the
    /// server only when it differs from the last report.
    pub fn set_push_permission(&self, granted: bool) -> Result<(), ClientError> {
        let mut store = self.recorder.store();
        if store.push_permission()? == Some(granted) {
            return Ok(());
        }
        let now = now_ms();
        let event = self.push_permission_event(store.identity(), granted, now);
        self.recorder
            .record_reported(&mut store, &[event], now, |store, at, events| {
                store.set_push_permission(granted, at, events)
            })
    }

    /// The OS push permission as last reported; `None` before the first report.
    pub fn push_permission(&self) -> Result<Option<bool>, ClientError> {
        Ok(self.recorder.store().push_permission()?)
    }

    /// The token the push provider gave this device. A new token replaces the previous
    /// one (the server hears that the old one is gone); the same token again changes
    /// nothing.
    pub fn register_push_token(
        &self,
        provider: PushProvider,
        token: &str,
    ) -> Result<(), ClientError> {
        let token =
            consent::check_push_token(provider, token).map_err(ClientError::InvalidArgument)?;
        let mut store = self.recorder.store();
        let current = stored_token(&store)?;
        let replacing = PushToken { provider, token };
        if current.as_ref() == Some(&replacing) {
            return Ok(());
        }
        let now = now_ms();
        let identity = store.identity();
        let mut events = Vec::new();
        if let Some(old) = &current {
            events.push(self.token_event(identity, PUSH_TOKEN_REMOVED, old, now));
        }
        events.push(self.token_event(identity, PUSH_TOKEN_REGISTERED, &replacing, now));
        self.recorder
            .record_reported(&mut store, &events, now, |store, at, events| {
                store.set_push_token(Some((provider, &replacing.token)), at, events)
            })
    }

    /// Forgets the device's push token (the user logged out of push, the app
    /// unregistered); the server stops using it. Nothing happens without a token.
    pub fn remove_push_token(&self) -> Result<(), ClientError> {
        let mut store = self.recorder.store();
        let Some(current) = stored_token(&store)? else {
            return Ok(());
        };
        let now = now_ms();
        let event = self.token_event(store.identity(), PUSH_TOKEN_REMOVED, &current, now);
        self.recorder
            .record_reported(&mut store, &[event], now, |store, at, events| {
                store.set_push_token(None, at, events)
            })
    }

    /// The device's push token, if one is registered.
    pub fn push_token(&self) -> Result<Option<PushToken>, ClientError> {
        self.stored_token()
    }

    /// The device's IANA time zone (`Europe/Lisbon`) and ISO 3166-1 alpha-2 country
    /// (`PT`), sent with every event from now on so the server can send in the user's
    /// local time. An empty string means unknown. Kept across restarts.
    pub fn set_device_profile(&self, time_zone: &str, country: &str) -> Result<(), ClientError> {
        let known = |value: &str| (!value.is_empty()).then_some(value.to_owned());
        let profile = DeviceProfile {
            time_zone: known(time_zone)
                .map(|z| consent::check_time_zone(&z))
                .transpose()
                .map_err(ClientError::InvalidArgument)?,
            country: known(country)
                .map(|c| consent::check_country(&c))
                .transpose()
                .map_err(ClientError::InvalidArgument)?,
        };
        let mut store = self.recorder.store();
        store.set_device_profile(&profile)?;
        // Under the same hold: two calls at once leave the stored profile and the one
        // events carry the same.
        self.apply_profile(&profile);
        Ok(())
    }

    /// The device's profile as last set.
    pub fn device_profile(&self) -> Result<DeviceProfile, ClientError> {
        Ok(self.recorder.store().device_profile()?)
    }

    /// Stops collection and upload: every later event is counted as dropped
    /// (`stats().dropped.opted_out`) and not stored, the queued events are discarded,
    /// nothing more is sent, and no in-app message is shown. Kept across restarts
    /// until [`Client::opt_in`].
    pub fn opt_out(&self) -> Result<(), ClientError> {
        let mut store = self.recorder.store();
        store.opt_out(Utc::now().timestamp_millis())?;
        self.recorder.consent.note_opted_out(true);
        Ok(())
    }

    /// Resumes collection and upload after [`Client::opt_out`]. The device's
    /// permissions, OS push permission and push token are reported again, since the
    /// server heard nothing while the user was opted out.
    pub fn opt_in(&self) -> Result<(), ClientError> {
        let mut store = self.recorder.store();
        if store.opted_out_since()?.is_none() {
            return Ok(());
        }
        store.opt_in()?;
        self.recorder.consent.note_opted_out(false);
        self.report_device_state(&mut store, None, true)
    }

    /// Whether the user opted out of collection.
    pub fn is_opted_out(&self) -> bool {
        self.recorder.consent.is_opted_out()
    }

    /// Deletes everything the SDK keeps on the device: queued events, history, segment
    /// memberships, synced definitions, impressions, permissions, push token, profile
    /// and identity; the user continues under a fresh anonymous id. Only the opt-out
    /// stays, if the user gave it. Runs after the events tracked before it.
    pub fn delete_local_data(&self) -> Result<(), ClientError> {
        let recorder = self.recorder.clone();
        self.engagement.call(DELETE_ANSWER, move |engagement| {
            {
                // The wipe gives the store a fresh anonymous identity.
                let mut store = recorder.store();
                store.wipe(KEPT_ON_DELETE)?;
                recorder.consent.note_permissions(&[]);
            }
            recorder.set_context(TIMEZONE_CONTEXT, None);
            recorder.set_context(COUNTRY_CONTEXT, None);
            engagement.on_local_data_deleted();
            recorder.uploader().local_data_deleted();
            Ok::<_, ClientError>(())
        })?
    }

    /// The user this device belongs to changed (`identify` with another user, `reset`),
    /// from `previous`, in the locked `store` that holds the new identity. The previous
    /// user's push token goes away on the server and the device's state is reported
    /// for the new user. Permissions are the user's own: the previous user's are
    /// forgotten unless `keep_permissions` (an anonymous user who just identified, whose
    /// choices are the identified user's).
    pub(super) fn user_changed(
        &self,
        store: &mut Store,
        previous: &Identity,
        keep_permissions: bool,
    ) -> Result<(), ClientError> {
        if !keep_permissions {
            store.clear_permissions()?;
            self.recorder.consent.note_permissions(&[]);
        }
        self.report_device_state(store, Some(previous), keep_permissions)
    }

    /// Reports the device's push token and OS push permission for `identity`, and its
    /// recorded permissions with `with_permissions` (each at the time it was made, so
    /// a later change on the server still wins). With `previous` on another device
    /// (anonymous id), reports first that the token left it.
    fn report_device_state(
        &self,
        store: &mut Store,
        previous: Option<&Identity>,
        with_permissions: bool,
    ) -> Result<(), ClientError> {
        let now = now_ms();
        let permissions = if with_permissions {
            store.permissions()?
        } else {
            Vec::new()
        };
        let (token, push_permission) = (stored_token(store)?, store.push_permission()?);
        let identity = store.identity();
        let mut events = Vec::new();
        // The server files a token under the device (the anonymous id), which follows
        // the user of its latest event. A new anonymous id (logout) is a new device to
        // it, so the old one must be told it lost the token; the same device only needs
        // the registration restated for its new user.
        if let (Some(previous), Some(token)) = (previous, &token) {
            if previous.anonymous_id != identity.anonymous_id {
                // A moment before the registration below: at the same instant the
                // server lets a removal win, which would leave the token nowhere.
                let before = now - chrono::TimeDelta::milliseconds(1);
                events.push(self.token_event(previous, PUSH_TOKEN_REMOVED, token, before));
            }
        }
        events.extend(
            permissions
                .iter()
                .map(|p| self.permission_event(identity, p)),
        );
        if let Some(granted) = push_permission {
            events.push(self.push_permission_event(identity, granted, now));
        }
        if let Some(token) = &token {
            events.push(self.token_event(identity, PUSH_TOKEN_REGISTERED, token, now));
        }
        if events.is_empty() {
            return Ok(());
        }
        self.recorder
            .record_reported(store, &events, now, |store, at, events| {
                store.enqueue_all(at, events)
            })
    }

    /// Puts the stored profile into the context of every event (at start and on change).
    pub(super) fn apply_profile(&self, profile: &DeviceProfile) {
        self.recorder
            .set_context(TIMEZONE_CONTEXT, profile.time_zone.as_deref());
        self.recorder
            .set_context(COUNTRY_CONTEXT, profile.country.as_deref());
    }

    fn stored_token(&self) -> Result<Option<PushToken>, ClientError> {
        Ok(stored_token(&self.recorder.store())?)
    }

    fn permission_event(&self, identity: &Identity, change: &Permission) -> WireEvent {
        let properties = properties([
            (CHANNEL_PROPERTY, Value::from(change.channel.as_str())),
            (STATE_PROPERTY, Value::from(change.state.as_str())),
            (SOURCE_PROPERTY, Value::from(change.source.as_str())),
        ]);
        self.consent_event(
            identity,
            CHANNEL_PERMISSION_CHANGED,
            properties,
            change.updated_at,
        )
    }

    fn push_permission_event(
        &self,
        identity: &Identity,
        granted: bool,
        at: DateTime<Utc>,
    ) -> WireEvent {
        let properties = properties([(GRANTED_PROPERTY, Value::from(granted))]);
        self.consent_event(identity, PUSH_PERMISSION_CHANGED, properties, at)
    }

    fn token_event(
        &self,
        identity: &Identity,
        name: &str,
        token: &PushToken,
        at: DateTime<Utc>,
    ) -> WireEvent {
        let properties = properties([
            (PROVIDER_PROPERTY, Value::from(token.provider.as_str())),
            (TOKEN_PROPERTY, Value::from(token.token.as_str())),
        ]);
        self.consent_event(identity, name, properties, at)
    }

    fn consent_event(
        &self,
        identity: &Identity,
        name: &str,
        properties: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> WireEvent {
        self.recorder.stamp_as(
            identity,
            WireKind::Track,
            Some(name.to_owned()),
            properties,
            at,
        )
    }
}

fn stored_token(store: &Store) -> Result<Option<PushToken>, StoreError> {
    Ok(store.push_token()?.map(|t| PushToken {
        provider: t.provider,
        token: t.token,
    }))
}

fn properties<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Now, to the millisecond the store keeps, so a change reads back exactly as its
/// event reported it.
fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}
