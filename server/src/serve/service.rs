//! The router as hyper calls it on one connection: each request carries the peer
//! address (as axum's `ConnectInfo`), and its start and the end of its response body
//! move the connection's [`PhaseClock`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tower_service::Service as _;

use super::phase::PhaseClock;

#[derive(Clone)]
pub struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    clock: Arc<PhaseClock>,
}

impl ConnectionService {
    pub fn new(router: Router, peer: SocketAddr, clock: Arc<PhaseClock>) -> Self {
        Self {
            router,
            peer,
            clock,
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<WatchedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<WatchedBody>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, mut request: Request<Incoming>) -> Answer {
        self.clock.request_started();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // The router is always ready and cloning it is cheap (it is shared).
        let answer = self.router.clone().call(request.map(Body::new));
        let finished = Finished(self.clock.clone());
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| WatchedBody {
                body,
                _finished: finished,
            }))
        })
    }
}

/// A response body that marks the response finished when hyper drops it, which it does
/// once the last frame is written (or the connection is gone).
pub struct WatchedBody {
    body: Body,
    _finished: Finished,
}

struct Finished(Arc<PhaseClock>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
