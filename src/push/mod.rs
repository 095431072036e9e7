//! Pushes, the pure core shared by the SDK and the server: reading the payload an app
//! hands over, routing deep links, and the promo-code rules. No I/O and no clock
//! reads: time is always a parameter. The formats for backend teams are in
//! `src/push/README.md`; the wire type itself is `protocol::PushPayload`.
//!
//! The flow on a device: the app hands the push to `handle_push` → [`parse_push`]
//! finds and checks the Beckon payload → the deep link goes through the app's
//! [`DeepLinkRouter`] → the promo is kept and judged by [`promo`]'s rules at the
//! server-corrected time ([`clock`]).

pub mod clock;
pub mod deep_link;
pub mod payload;
pub mod promo;

pub use clock::{corrected_now, server_offset_ms};
pub use deep_link::{
    DeepLink, DeepLinkError, DeepLinkRoute, DeepLinkRouter, LinkUrl, Utm, UTM_KEYS,
};
pub use payload::{parse_fcm_data, parse_push, PushPayloadError};
pub use promo::{
    active_promos, best_promo_for, featured_promo, Basket, Ineligible, Promo, PromoQuote,
    PromoRefusal, PromoState,
};
