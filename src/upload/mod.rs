//! Getting queued events to the server: batch assembly, the upload policy (pure
//! decisions), the HTTP transport and the worker thread that ties them together. The
//! worker also runs the definitions sync (`crate::sync`), since it owns the runtime
//! and the transport, and asks the app for identity tokens the server refused
//! (`identity`).

mod body;
mod hold;
mod identity;
pub mod policy;
mod server_clock;
mod transport;
mod worker;

pub use body::{assemble_batch, gzip};
pub(crate) use identity::TokenRequests;
pub use identity::{
    batch_tokens, batch_user_ids, describe_refusals, identity_refusals, user_of,
    IdentityTokenListener,
};
pub use policy::{Decision, Outcome, RetryPolicy};
pub use server_clock::{stored_offset, ServerClock};
pub use transport::{batch_url, HttpTransport, Reply, SyncFetch, TransportError};
pub use worker::{FlushOutcome, FlushReport, UploadConfig, Uploader};
