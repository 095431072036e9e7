use crate::client::ClientError;
use crate::push::{PromoRefusal, PushPayloadError};

/// The one error type apps see (a `BeckonException` in Kotlin, a thrown `BeckonError`
/// in Swift). It is flat so the message apps get is the readable text below, which
/// names the offending field.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum BeckonError {
    #[error("{0}")]
    InvalidEvent(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    Storage(String),
    #[error("{0}")]
    AlreadyOpen(String),
    #[error("{0}")]
    ShutDown(String),
    #[error("{0}")]
    Busy(String),
    /// The push was not sent by Beckon: hand it to whatever else handles pushes.
    #[error("{0}")]
    NotBeckonPush(String),
    /// A Beckon push too large or malformed to read; nothing was recorded.
    #[error("{0}")]
    InvalidPush(String),
    /// A deep link that cannot be routed, or no routes are set.
    #[error("{0}")]
    DeepLink(String),
    /// The promo code is not one this device holds.
    #[error("{0}")]
    PromoUnknown(String),
    #[error("{0}")]
    PromoExpired(String),
    #[error("{0}")]
    PromoUsedUp(String),
    /// The promo does not apply to this cart (currency, minimum basket, empty cart).
    #[error("{0}")]
    PromoNotEligible(String),
    /// A call failed unexpectedly: a bug in Beckon, never a fault of the app's input.
    /// The core does not return it; the bindings raise it for a panic in the core or an
    /// argument the core could not read back, so that apps catch one error type for
    /// everything. The message says what happened; please report it.
    #[allow(
        dead_code,
        reason = "made by the generated bindings, never by the core"
    )]
    #[error("{0}")]
    Internal(String),
}

impl From<ClientError> for BeckonError {
    fn from(error: ClientError) -> Self {
        let message = error.to_string();
        match error {
            ClientError::InvalidEvent(_) => BeckonError::InvalidEvent(message),
            ClientError::InvalidArgument(_) => BeckonError::InvalidArgument(message),
            ClientError::InvalidConfig(_) => BeckonError::InvalidConfig(message),
            ClientError::Storage(_) => BeckonError::Storage(message),
            ClientError::AlreadyOpen(_) => BeckonError::AlreadyOpen(message),
            ClientError::ShutDown => BeckonError::ShutDown(message),
            ClientError::Busy(_) => BeckonError::Busy(message),
            ClientError::InvalidPush(PushPayloadError::NotBeckon) => {
                BeckonError::NotBeckonPush(message)
            }
            ClientError::InvalidPush(_) => BeckonError::InvalidPush(message),
            ClientError::DeepLink(_) => BeckonError::DeepLink(message),
            ClientError::PromoRefused(refusal) => match refusal {
                PromoRefusal::Unknown { .. } => BeckonError::PromoUnknown(message),
                PromoRefusal::Expired { .. } => BeckonError::PromoExpired(message),
                PromoRefusal::UsedUp { .. } => BeckonError::PromoUsedUp(message),
                PromoRefusal::NotEligible { .. } => BeckonError::PromoNotEligible(message),
            },
        }
    }
}
