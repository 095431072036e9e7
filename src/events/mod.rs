//! Typed commerce events (DESIGN.md §5): the vocabulary, its validation and its
//! encoding into the wire format.

mod commerce;
mod encode;
mod event;
#[doc(hidden)]
#[cfg(test)]
#[path = "../../tests/common/samples.rs"]
pub(crate) mod samples;
mod validate;
mod value;

pub use commerce::{Cart, CheckoutStep, Coupon, Order, Product, Promotion, Share};
pub use encode::{check_cart, EncodedEvent};
pub use event::{Event, TYPED_EVENT_NAMES};
pub use validate::{check_traits, largest_value, EventError};
pub use value::{JsonValue, Properties};
