//! Running a mock's router on loopback until the mock is dropped.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A listening mock server; dropping it stops the server.
pub(crate) struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

pub(crate) async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

impl Running {
    pub(crate) fn new(addr: SocketAddr) -> (Running, oneshot::Receiver<()>) {
        let (stop, stopped) = oneshot::channel();
        (Running { addr, _stop: stop }, stopped)
    }
}

/// Plain HTTP/1.1 (FCM's mock and the webhook's: TLS adds nothing they check).
pub(crate) fn serve_http(listener: TcpListener, addr: SocketAddr, router: Router) -> Running {
    let (running, stopped) = Running::new(addr);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    running
}
