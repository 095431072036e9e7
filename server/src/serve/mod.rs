//! Accepting and serving connections so that no client can stall the server.
//!
//! HTTP/1.1 only, in plain text: the SDK speaks HTTP/1.1, and in production a proxy
//! terminating TLS (and HTTP/2, if wanted) sits in front. Every connection is bounded:
//!
//! - a cap on connections open at once; past it a connection gets a fixed 503 at once
//!   ([`refuse`]), so a flood cannot exhaust the file descriptors `accept` needs;
//! - a watchdog per connection ([`connection`]) closing it when it stays too long
//!   waiting for a request (idle timeout), reading a request header (header timeout) or
//!   on one request (request timeout), from the phase its socket and service observe
//!   ([`phase`]). Request bodies have their own total timeout, answered with 408 by the
//!   handlers that read them.
//!
//! Each request carries the peer address as axum's `ConnectInfo<SocketAddr>`, for the
//! per-IP rate limit.

mod accept;
mod connection;
mod io;
mod open_files;
mod phase;
mod refuse;
mod service;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use self::accept::AcceptErrors;
use self::connection::{Shared, Slot};
use self::refuse::Refusals;
use crate::limits::ConnectionLimits;
use crate::metrics::Metrics;

/// Serves `router` on `listener` in a background task until `stop` fires (or its
/// sender is dropped). The task then stops accepting, lets every connection finish its
/// request in flight, and ends; aborting it drops the connections still open.
pub fn spawn(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stop: oneshot::Receiver<()>,
) -> JoinHandle<()> {
    let cap = open_files::effective_cap(
        limits.max_connections,
        open_files::raise_limit(),
        Refusals::DESCRIPTORS,
    );
    if cap < limits.max_connections {
        tracing::warn!(
            max_connections = cap,
            configured = limits.max_connections,
            "connection cap lowered to fit the open-file limit"
        );
    } else {
        tracing::info!(max_connections = cap, "connection cap");
    }
    let shared = Arc::new(Shared::new(router, limits, metrics));
    tokio::spawn(accept_loop(listener, shared, cap, stop))
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    cap: usize,
    mut stop: oneshot::Receiver<()>,
) {
    let places = Arc::new(Semaphore::new(cap));
    let refusals = Refusals::new();
    let mut errors = AcceptErrors::default();
    // Owned here, so that aborting this task aborts every connection too.
    let mut connections = JoinSet::new();
    let (stop_signal, stop_watch) = watch::channel(());
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(ended) = connections.join_next() => {
                if let Err(err) = ended {
                    if err.is_panic() {
                        tracing::error!(error = %err, "a connection task panicked");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match places.clone().try_acquire_owned() {
                    Ok(place) => {
                        // Answers go out whole; no reason to wait for more to send.
                        let _ = stream.set_nodelay(true);
                        let slot = Slot::new(place, &shared.metrics);
                        let stop = stop_watch.clone();
                        connections.spawn(connection::serve(stream, peer, shared.clone(), stop, slot));
                    }
                    Err(_) => {
                        shared.metrics.connections_refused.inc();
                        refusals.refuse(stream);
                    }
                },
                Err(err) => {
                    if errors.record(&err) {
                        tokio::time::sleep(accept::PAUSE).await;
                    }
                }
            }
        }
    }
    drop(listener);
    drop(stop_signal);
    while connections.join_next().await.is_some() {}
}
