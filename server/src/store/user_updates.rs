//! What newly stored events change about their users and devices, applied in the
//! transaction that stores them (so a duplicate, which is not stored again, changes
//! nothing again).
//!
//! Consent reports and identify traits are rare and applied one by one. Every event
//! also says when its user and device were seen and may carry the device's time zone,
//! locale and country; those are folded per batch, so a batch of 500 events from one
//! device costs a write per user and per device, not per event.

use std::collections::HashMap;

use beckon::consent::Permission;
use beckon::protocol::{ConsentReport, ExportedEvent, WireEvent, WireKind};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::memberships::user_key;
use super::permissions::{self, ChangeOrigin};
use super::profiles::{self, ContextProfile, Sighting};
use super::{devices, identities, StoreError};

#[derive(Default)]
pub(super) struct UserUpdates {
    profiles: HashMap<String, Sighting>,
    devices: HashMap<String, DeviceSighting>,
    /// (anonymous id, user id, event time, received at), first sighting of each pair.
    sign_ins: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)>,
}

struct DeviceSighting {
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    user_key: String,
}

impl UserUpdates {
    /// Takes in one newly stored event, in the order the batch lists them.
    pub fn record(&mut self, conn: &Connection, stored: &ExportedEvent) -> Result<(), StoreError> {
        let event = &stored.event;
        let user = user_key(event);
        let at = reported_at(stored);
        match ConsentReport::read(event) {
            Ok(Some(report)) => apply_report(conn, event, report, at, stored.received_at)?,
            Ok(None) => {}
            // The batch route refuses these; an event stored some other way is kept
            // but changes nothing.
            Err(err) => {
                tracing::warn!(event = %event.id, error = %err, "consent event not applied")
            }
        }
        if event.kind == WireKind::Identify && !event.traits.is_empty() {
            profiles::record_traits(conn, user, &event.traits, at)?;
        }

        let sighting = Sighting::new(at, ContextProfile::read(&event.context));
        match self.profiles.get_mut(user) {
            Some(known) => known.merge(sighting),
            None => {
                self.profiles.insert(user.to_string(), sighting);
            }
        }
        match self.devices.get_mut(&event.anonymous_id) {
            Some(device) => {
                device.first_at = device.first_at.min(at);
                if at >= device.last_at {
                    device.last_at = at;
                    device.user_key.replace_range(.., user);
                }
            }
            None => {
                self.devices.insert(
                    event.anonymous_id.clone(),
                    DeviceSighting {
                        first_at: at,
                        last_at: at,
                        user_key: user.to_string(),
                    },
                );
            }
        }
        if let Some(user_id) = &event.user_id {
            let known = self
                .sign_ins
                .iter()
                .any(|(anonymous, user, ..)| anonymous == &event.anonymous_id && user == user_id);
            if !known {
                self.sign_ins.push((
                    event.anonymous_id.clone(),
                    user_id.clone(),
                    at,
                    stored.received_at,
                ));
            }
        }
        Ok(())
    }

    /// Writes what the batch's events said about users and devices; sign-ins last, so a
    /// user inherits what the same batch recorded anonymously before it.
    pub fn apply(self, conn: &Connection) -> Result<(), StoreError> {
        for (user, sighting) in &self.profiles {
            profiles::record_sighting(conn, user, sighting)?;
        }
        for (anonymous_id, device) in &self.devices {
            devices::sighted(
                conn,
                anonymous_id,
                &device.user_key,
                device.first_at,
                device.last_at,
            )?;
        }
        for (anonymous_id, user_id, at, received_at) in &self.sign_ins {
            identities::identified(conn, anonymous_id, user_id, *at, *received_at)?;
        }
        Ok(())
    }
}

/// When a device's report counts as made, for every merge: its event time, but never
/// later than when the server received it. Device clocks are claims; a report cannot
/// outrank a change the server made before hearing of it (an admin's unsubscribe).
pub(super) fn reported_at(stored: &ExportedEvent) -> DateTime<Utc> {
    stored.event.timestamp.min(stored.received_at)
}

fn apply_report(
    conn: &Connection,
    event: &WireEvent,
    report: ConsentReport,
    at: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let user = user_key(event);
    let device = event.anonymous_id.as_str();
    match report {
        ConsentReport::PermissionChanged {
            channel,
            state,
            source,
        } => {
            let change = Permission {
                channel,
                state,
                source,
                updated_at: at,
            };
            let origin = ChangeOrigin::Device {
                event_id: event.id.clone(),
            };
            permissions::apply(conn, user, &change, &origin, received_at)?;
        }
        ConsentReport::PushPermissionChanged { granted } => {
            devices::set_os_permission(conn, device, user, granted, at)?;
        }
        ConsentReport::PushTokenRegistered { provider, token } => {
            devices::register_token(conn, device, provider, &token, at)?;
        }
        ConsentReport::PushTokenRemoved { provider, token } => {
            devices::remove_token(conn, device, provider, &token, at)?;
        }
    }
    Ok(())
}
