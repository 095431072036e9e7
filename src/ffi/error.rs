use crate::client::ClientError;

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
        }
    }
}
