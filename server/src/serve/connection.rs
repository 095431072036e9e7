//! One connection: HTTP/1.1 through hyper, with a watchdog closing it once its phase
//! outlives its timeout, and a graceful end when the server stops.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::{sleep_until, Instant, Sleep};

use super::io::WatchedStream;
use super::phase::{Phase, PhaseClock};
use super::service::ConnectionService;
use crate::limits::ConnectionLimits;
use crate::metrics::{Metrics, PhaseLabel};

/// Largest request header, start line included; past it hyper answers 431.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest read buffer of a connection. Bodies stream through it, so this bounds the
/// memory a connection holds, not the size of an upload.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// What every connection of one server shares.
pub struct Shared {
    pub router: Router,
    pub limits: ConnectionLimits,
    pub metrics: Arc<Metrics>,
    http: http1::Builder,
}

impl Shared {
    pub fn new(router: Router, limits: ConnectionLimits, metrics: Arc<Metrics>) -> Self {
        let mut http = http1::Builder::new();
        http.max_header_size(MAX_HEADER_BYTES)
            .max_buf_size(MAX_BUFFER_BYTES)
            // The watchdog times headers; hyper's own timeout would also run while a
            // kept-alive connection waits for its next request.
            .header_read_timeout(None);
        Self {
            router,
            limits,
            metrics,
            http,
        }
    }
}

/// A place under the connection cap, given back (and the open count lowered) when the
/// connection's task ends, however it ends.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Slot {
    pub fn new(permit: OwnedSemaphorePermit, metrics: &Arc<Metrics>) -> Self {
        metrics.connections_open.inc();
        Self {
            _permit: permit,
            metrics: metrics.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.connections_open.dec();
    }
}

/// Serves `stream` until the client closes it, it runs out of time, or the server
/// stops (`stop` changes): then in-flight requests finish and the connection closes.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<()>,
    _slot: Slot,
) {
    let clock = Arc::new(PhaseClock::new());
    let io = TokioIo::new(WatchedStream::new(stream, clock.clone()));
    let service = ConnectionService::new(shared.router.clone(), peer, clock.clone());
    let mut connection = pin!(shared.http.serve_connection(io, service));
    let mut watchdog = pin!(sleep_until(clock.deadline(&shared.limits).1));
    let mut stopping = false;
    let ended = loop {
        tokio::select! {
            ended = watched(connection.as_mut(), watchdog.as_mut(), &clock, &shared.limits) => {
                break ended;
            }
            // A dropped sender stops the connection too.
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%peer, error = %err, "connection ended with an error"),
        Err(phase) => {
            let label = PhaseLabel {
                phase: phase.label(),
            };
            shared
                .metrics
                .connections_timed_out
                .get_or_create(&label)
                .inc();
            tracing::debug!(%peer, phase = label.phase, "closing a connection out of time");
        }
    }
}

/// Drives `connection` until it ends (`Ok`) or its phase outlives its deadline (`Err`).
///
/// The phase only moves while the connection is polled (its socket reads, its service
/// calls the router, its response body is dropped), so after each poll the watchdog is
/// moved to an earlier deadline if the phase now has one; a later deadline is taken up
/// when the watchdog fires.
fn watched<'a, C: Future>(
    mut connection: Pin<&'a mut C>,
    mut watchdog: Pin<&'a mut Sleep>,
    clock: &'a PhaseClock,
    limits: &'a ConnectionLimits,
) -> impl Future<Output = Result<C::Output, Phase>> + 'a {
    poll_fn(move |cx| {
        if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
            return Poll::Ready(Ok(ended));
        }
        let (_, deadline) = clock.deadline(limits);
        if deadline < watchdog.deadline() {
            watchdog.as_mut().reset(deadline);
        }
        while watchdog.as_mut().poll(cx).is_ready() {
            let (phase, deadline) = clock.deadline(limits);
            if Instant::now() >= deadline {
                return Poll::Ready(Err(phase));
            }
            watchdog.as_mut().reset(deadline);
        }
        Poll::Pending
    })
}
