//! Leaves every domain shares: field errors, money, retry timing, the order of the
//! device core's locks, the priority of the device core's threads. Nothing here imports another module of the crate, so any module
//! may use them without a cycle.

#[cfg(feature = "sdk")]
pub mod background;
mod field_error;
pub mod lock_order;
pub mod money;
pub mod retry;

pub use field_error::FieldError;
pub use money::Money;
pub use retry::RetryPolicy;
