//! What a sync did, for the app to log or show.

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum SyncOutcome {
    /// New definitions were downloaded, stored and handed to the SDK.
    Updated,
    /// The definitions in use are current (the server answered 304, or sent the same
    /// content again).
    NotModified,
    /// The server sent a document that is invalid or too large; the last good copy
    /// stays in use. `error` names every problem.
    Refused,
    /// The request failed (network, server error); the last good copy stays in use.
    Failed,
    /// The timeout passed first; the sync goes on in the background.
    TimedOut,
    /// The SDK was shut down.
    ShutDown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SyncReport {
    pub outcome: SyncOutcome,
    /// Why the sync was refused or failed.
    pub error: Option<String>,
}

impl SyncReport {
    pub fn new(outcome: SyncOutcome) -> SyncReport {
        SyncReport {
            outcome,
            error: None,
        }
    }

    pub(crate) fn with_error(outcome: SyncOutcome, error: impl Into<String>) -> SyncReport {
        SyncReport {
            outcome,
            error: Some(error.into()),
        }
    }
}
