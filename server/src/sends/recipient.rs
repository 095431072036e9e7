//! What the server knows about one user when planning a send to them: plain data the
//! storage layer fills in, so planning stays a pure function.

use beckon::consent::Permission;
use beckon::segments::UserHistory;
use serde_json::{Map, Value};

use super::channel::PushTarget;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recipient {
    /// The user id, or the anonymous id of a user not yet identified.
    pub user_key: String,
    /// Profile traits (`first_name`, `email`, `phone`, custom ones), as merged from
    /// `identify` calls.
    pub traits: Map<String, Value>,
    /// The device's BCP 47 locale (`pt-BR`), which picks the content variant.
    pub locale: Option<String>,
    /// The device's IANA time zone (`Europe/Lisbon`).
    pub time_zone: Option<String>,
    /// The device's ISO 3166-1 alpha-2 country (`PT`), for a user without a usable zone.
    pub country: Option<String>,
    /// The latest permission per channel; a channel absent here is `subscribed`.
    pub permissions: Vec<Permission>,
    /// One entry per device with a live push token.
    pub push_targets: Vec<PushTarget>,
    /// The user's recent events, indexed as the device indexes them (the segment
    /// evaluation on the server builds the same), for the templates' behaviour fields.
    pub history: UserHistory,
}
