use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::WireEvent;

/// The body of `POST /v1/batch`.
///
/// `sent_at` is the device clock when the request left; the server uses it to correct
/// each event's timestamp for device clock skew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub sent_at: DateTime<Utc>,
    /// The identity token of each user id among the events, from the app's backend
    /// (see [`super::identity`]); a server enforcing verified identities refuses a
    /// batch naming a user without a valid one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_tokens: BTreeMap<String, String>,
    pub batch: Vec<WireEvent>,
}

/// The server's answer to a batch it accepted (HTTP 200).
///
/// Events rejected one by one do not fail the batch: retrying would only reject them
/// again, so the server stores the good ones and lists the bad ones here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// Events stored by this request.
    pub accepted: u32,
    /// Events already stored by an earlier request (a retried batch).
    pub duplicates: u32,
    pub rejected: Vec<EventRejection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRejection {
    /// Position of the event in the batch.
    pub index: usize,
    /// The event's id, when it had a readable one.
    pub id: Option<String>,
    pub error: String,
}
