//! Wire types shared by the SDK and the reference server.
//!
//! Everything that crosses the network is defined here once, so the device and the
//! server can never disagree on field names or limits.

mod batch;
mod consent;
mod consent_report;
mod export;
mod identity;
mod limits;
mod push;
mod sync;
mod wire_event;

pub use batch::{Batch, BatchResponse, EventRejection};
pub use consent::*;
pub use consent_report::{is_consent_report, ConsentReport, DEFAULT_DEVICE_SOURCE};
pub use export::{ExportedEvent, EVENTS_PATH, NEXT_CURSOR_HEADER};
pub use identity::{
    check_identity_token, ErrorAnswer, ErrorBody, IdentityProblem, IdentityRefusal,
    IDENTITY_TOKEN_HEADER, MAX_IDENTITY_TOKEN_BYTES,
};
pub use limits::*;
pub use push::*;
pub use sync::{
    SyncDocument, SyncSettings, DEFAULT_MIN_GAP, MAX_SYNC_BYTES, SEGMENT_ENTERED, SEGMENT_EXITED,
    SEGMENT_ID_PROPERTY, SYNC_PATH, SYNC_SCHEMA_VERSION,
};
pub use wire_event::{check_id, check_key, check_name, WireEvent, WireKind};
