//! What devices and the server tell each other about channel permissions, the OS push
//! permission, push tokens and the device's profile.
//!
//! Device → server: ordinary track events through the durable queue and
//! `POST /v1/batch`, so a change is durable, retried and deduplicated like any event;
//! the server applies them while storing the batch. The change's time is the event's
//! (skew-corrected) timestamp.
//!
//! Server → device: [`PermissionsDocument`] from [`PERMISSIONS_PATH`].

use serde::{Deserialize, Serialize};

use crate::consent::Permission;
pub use crate::consent::PushProvider;

/// A channel permission changed. Properties: [`CHANNEL_PROPERTY`], [`STATE_PROPERTY`],
/// [`SOURCE_PROPERTY`].
pub const CHANNEL_PERMISSION_CHANGED: &str = "Channel Permission Changed";
/// The app reported the OS push permission. Property: [`GRANTED_PROPERTY`].
pub const PUSH_PERMISSION_CHANGED: &str = "Push Permission Changed";
/// The device got (or refreshed) a push token. Properties: [`PROVIDER_PROPERTY`],
/// [`TOKEN_PROPERTY`].
pub const PUSH_TOKEN_REGISTERED: &str = "Push Token Registered";
/// The device gave up a push token. Properties: [`PROVIDER_PROPERTY`], [`TOKEN_PROPERTY`].
pub const PUSH_TOKEN_REMOVED: &str = "Push Token Removed";

pub const CHANNEL_PROPERTY: &str = "channel";
pub const STATE_PROPERTY: &str = "state";
pub const SOURCE_PROPERTY: &str = "source";
pub const GRANTED_PROPERTY: &str = "granted";
/// `fcm` or `apns` ([`PushProvider`]).
pub const PROVIDER_PROPERTY: &str = "provider";
pub const TOKEN_PROPERTY: &str = "token";

/// Keys of an event's `context` describing the device's profile, as in Segment's spec:
/// an IANA time zone (`Europe/Lisbon`), a BCP 47 locale (`pt-BR`), an ISO 3166-1
/// alpha-2 country (`PT`). The server keeps the latest per user for local-time sends.
pub const TIMEZONE_CONTEXT: &str = "timezone";
pub const LOCALE_CONTEXT: &str = "locale";
pub const COUNTRY_CONTEXT: &str = "country";

/// Path of the device endpoint serving one user's permissions (app key auth), with
/// query `user_id` or, for a user not yet identified, `anonymous_id`.
pub const PERMISSIONS_PATH: &str = "/v1/permissions";

/// One user's permissions as the server holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsDocument {
    /// The user id, or the anonymous id of a user not yet identified.
    pub user_key: String,
    /// The latest change per channel; a channel absent here was never set.
    pub permissions: Vec<Permission>,
}
