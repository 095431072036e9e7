use std::path::PathBuf;

use crate::common::FieldError;
use crate::push::{DeepLinkError, PromoRefusal, PushPayloadError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid event: {0}")]
    InvalidEvent(FieldError),
    #[error("invalid argument: {0}")]
    InvalidArgument(FieldError),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("local storage failed: {0}")]
    Storage(#[from] StoreError),
    #[error("another Beckon instance in this process is using {0}; shut it down first")]
    AlreadyOpen(PathBuf),
    #[error("this Beckon instance has been shut down")]
    ShutDown,
    /// The engagement thread did not answer in time: it is still working through a
    /// burst of earlier events. Nothing is lost; ask again.
    #[error("still processing earlier events after {0:?}; try again")]
    Busy(std::time::Duration),
    /// A push that is not Beckon's, too large, or malformed; nothing was recorded.
    #[error("push not handled: {0}")]
    InvalidPush(PushPayloadError),
    #[error("{0}")]
    DeepLink(DeepLinkError),
    #[error("{0}")]
    PromoRefused(PromoRefusal),
}
