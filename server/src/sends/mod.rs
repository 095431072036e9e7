//! Server sends, the pure core: what to send to whom, when and on which channel. No
//! I/O and no clock reads (the time is a parameter); storage, providers and routes
//! call in.
//!
//! The flow: a request is read and checked in full ([`Send::parse`], format in
//! `README.md` beside this file) → for each user the target admits
//! ([`Target::admits`]), the caller gathers a [`Recipient`] → [`plan`] chooses the
//! channel ([`choose_channel`]), the delivery instant in the user's zone
//! ([`local_time`]) and renders the texts ([`render_send`]) → a [`Decision`].

mod channel;
mod content;
mod country_zone;
mod in_memory;
pub mod local_time;
mod plan;
mod problems;
mod promo;
mod recipient;
mod render;
mod request;
mod schedule;

#[cfg(test)]
mod test_support;

pub use channel::{
    choose_channel, ChannelChoice, PushTarget, Route, Skipped, Unusable, EMAIL_TRAIT, PHONE_TRAIT,
};
pub use content::{Content, DeepLink, Message};
pub use country_zone::main_zone;
pub use in_memory::InMemoryDefinitions;
pub use local_time::{user_zone, Timing, UserZone, ZoneSource};
pub use plan::{plan, Decision, Delivery};
pub use recipient::Recipient;
pub use render::{render_send, RenderedSend};
pub use request::{
    Audience, Definitions, Send, SendError, Target, MAX_COLLAPSE_ID_BYTES, MAX_SEND_BYTES,
    SEND_SCHEMA_VERSION, TTL_SECONDS,
};
pub use schedule::{Expiry, QuietHours, Schedule};
