//! In-app messaging, the pure core: templates, behaviour derived from events, locale
//! choice, campaign definitions and the selection policy. No I/O and no clock reads,
//! so the SDK and the reference server run the very same code (DESIGN.md, "One
//! engine"). The format for backend teams is in `src/messages/README.md`.
//!
//! The flow on a device: a trigger fires → [`select()`] picks a campaign (or says why
//! none) → [`render_message()`] renders it for the user's locale from a
//! [`RenderContext`] built from traits, a [`BehaviourSnapshot`] and the promo code →
//! the SDK shows it and records the impression.

pub mod behaviour;
pub mod campaign;
pub mod locale;
pub mod on_device;
pub mod render_message;
pub mod select;
mod suggest;
pub mod template;

pub use crate::text::url::{check_link, MAX_URL_BYTES};
pub use behaviour::{
    BehaviourFold, BehaviourSnapshot, CartLine, CartState, EventRef, Folded, ViewedProduct,
};
pub use campaign::{
    Audience, Button, Campaign, CampaignError, CampaignStatus, CapWindow, FiredTrigger,
    ImpressionCap, PropertyFilter, Trigger, Variant, CAMPAIGN_SCHEMA_VERSION,
};
pub use locale::choose_locale;
pub use on_device::DeviceMessages;
pub use render_message::{render_message, RenderedButton, RenderedMessage};
pub use select::{
    clamp_to_now, eligibility, select, NoMessage, Rejected, Rejection, SelectionPolicy, UserState,
};
pub use template::{
    Field, FieldType, OutputMode, RenderContext, Rendered, Template, TemplateError,
    TemplateErrorKind,
};
