//! The device's network layer, which uploads and the definitions sync both use: the
//! requests and what their answers mean (`transport`), who makes them (`exchange`,
//! `sender`, and the library's own client in builds with `builtin-http`), the server's
//! clock, what an attempt's answer means for the next one (keep or drop, backoff), and
//! the server's refusals of identity tokens.

mod endpoint;
mod exchange;
#[cfg(feature = "builtin-http")]
mod http;
pub(crate) mod identity;
pub mod policy;
mod sender;
mod server_clock;
mod transport;

pub use exchange::{
    HttpClient, HttpClientError, HttpHeader, HttpMethod, HttpRequest, HttpResponse,
};
pub(crate) use identity::TokenRequests;
pub use identity::{describe_refusals, identity_refusals, IdentityTokenListener};
pub use policy::{Decision, Outcome, RetryPolicy};
pub use server_clock::{stored_offset, ServerClock};
#[doc(hidden)]
pub use transport::error_answer;
pub use transport::{batch_url, HttpTransport, Reply, SyncFetch, TransportError};
