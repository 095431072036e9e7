//! Local stand-ins for the providers Beckon's server delivers through: FCM (HTTP v1 with
//! its OAuth token endpoint), APNs (HTTP/2 over TLS with provider-token checks) and a
//! Standard Webhooks receiver.
//!
//! Each mock listens on `127.0.0.1` with a port the OS picks, checks every request the
//! way the real service would (credentials, signatures, headers, JSON shape, the 4 KB
//! limit), records what it accepted, counts everything, and can be told to answer with
//! the failures real providers give (unregistered tokens, 429 with `Retry-After`, 503).
//! A request the real service would refuse is refused here too and its reason kept in
//! `rejections()`, so a test that expects none catches a malformed request at once.
//!
//! The mocks keep no per-request logs beyond the accepted messages and a bounded list
//! of rejections, and never sleep, so a benchmark can push 100,000 sends through them.

mod apns;
mod fcm;
mod jwt;
mod keys;
mod record;
mod script;
mod serve;
mod tls;
mod webhook;

pub use apns::{ApnsCounters, MockApns, ReceivedApns, APNS_TEST_TOPIC};
pub use fcm::{FcmCounters, MockFcm, MockFcmOptions, ReceivedFcm, RECEIVED_PATH};
pub use keys::{ApnsTestKey, TEST_SERVICE_ACCOUNT_JSON};
pub use script::Reply;
pub use webhook::{MockWebhook, ReceivedWebhook, WebhookCounters};

/// The most bytes FCM and APNs take in a push request body.
pub const MAX_PUSH_BYTES: usize = 4096;
