//! Leaves every domain shares: field errors, money, retry timing, the order of the
//! device core's locks. Nothing here imports another module of the crate, so any module
//! may use them without a cycle.

mod field_error;
pub mod lock_order;
pub mod money;
pub mod retry;

pub use field_error::FieldError;
pub use money::Money;
pub use retry::RetryPolicy;
