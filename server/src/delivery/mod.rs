//! Delivering messages to people through the providers that reach their devices and
//! inboxes: Firebase Cloud Messaging (HTTP v1), the Apple Push Notification service
//! (HTTP/2, token authentication) and, for email, SMS and WhatsApp, a generic webhook
//! signed the Standard Webhooks way.
//!
//! The send pipeline hands an [`Outbound`] to [`Providers::deliver`] and stores the
//! [`Attempt`]s it gets back. Every decision (how a request is built, how an answer is
//! classified, how long to wait before the next try) is a plain function over plain data
//! in the provider's module; the clients only move bytes.

pub(crate) mod apns;
mod clock;
mod config;
pub(crate) mod fcm;
pub(crate) mod http;
pub(crate) mod jwt;
mod message;
mod outcome;
mod providers;
mod retry;
pub(crate) mod webhook;

pub use config::{
    ApnsConfig, DeliveryConfig, DeliveryConfigError, FcmConfig, KeySource, WebhookConfig,
    DEFAULT_APNS_BASE_URL, DEFAULT_FCM_BASE_URL,
};
pub use message::{Outbound, PushNotification, PushPriority, WebhookChannel};
pub use outcome::{Attempt, Outcome};
pub use providers::Providers;
pub use retry::{parse_retry_after, DeliveryRetry};

pub use beckon::protocol::PushProvider;
/// The most bytes a push may take on the wire, FCM and APNs alike (DESIGN.md §4): the
/// payload's own limit. A larger one is refused before it is sent: the provider would
/// refuse it anyway.
pub use beckon::protocol::MAX_PUSH_BYTES;
