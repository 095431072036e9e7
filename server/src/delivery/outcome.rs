//! How one delivery attempt ended.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The result of one attempt, as the send pipeline acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message; `provider_id` is its id for it (FCM message
    /// name, `apns-id`, the webhook's message id).
    Delivered { provider_id: Option<String> },
    /// The token or address is gone for good: drop it and do not try it again.
    Unregistered { detail: String },
    /// A passing failure (rate limit, provider down, network): try again, not before
    /// `after` when the provider said so.
    Retry {
        after: Option<Duration>,
        status: Option<u16>,
        detail: String,
    },
    /// The message can never be delivered as it is (refused, too big, misconfigured).
    Failed { status: Option<u16>, detail: String },
}

impl Outcome {
    /// A stable name for storage and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Unregistered { .. } => "unregistered",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// Whether no further attempt can change the result.
    pub fn is_final(&self) -> bool {
        !matches!(self, Outcome::Retry { .. })
    }

    pub(crate) fn failed(detail: impl Into<String>) -> Outcome {
        Outcome::Failed {
            status: None,
            detail: detail.into(),
        }
    }
}

/// One try at delivering a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first try.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
}
