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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// A request the router never answers is cut at the request timeout, and counted.
    #[tokio::test]
    async fn a_request_that_never_ends_is_cut_at_the_request_timeout() {
        let router = Router::new().route("/stuck", get(std::future::pending::<()>));
        let limits = ConnectionLimits {
            request_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        };
        let metrics = Metrics::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let server = spawn(listener, router, limits, metrics.clone(), stopped);

        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /stuck HTTP/1.1\r\nhost: beckon\r\n\r\n")
            .await
            .unwrap();
        let sent = Instant::now();
        let mut sink = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut sink)).await;
        assert!(matches!(read, Ok(Ok(0) | Err(_))), "closed: {read:?}");
        let took = sent.elapsed();
        assert!(took >= Duration::from_millis(290), "closed after {took:?}");
        assert!(
            metrics
                .render()
                .contains(r#"beckon_http_connections_timed_out_total{phase="request"} 1"#),
            "{}",
            metrics.render()
        );

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the loop ends once stopped")
            .unwrap();
    }
}
