//! Getting queued events to the server: batch assembly, when to upload, and the worker
//! thread that ties them to the network layer (`crate::net`: transport, retry
//! decisions, identity refusals). The worker also runs the definitions sync
//! (`crate::sync`) on its runtime, so one thread does all of the device's networking.

mod body;
mod hold;
mod identity;
mod trigger;
mod worker;

pub use body::{assemble_batch, gzip};
pub use identity::{batch_tokens, batch_user_ids, user_of};
pub use worker::{FlushOutcome, FlushReport, UploadConfig, Uploader};
