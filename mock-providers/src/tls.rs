//! HTTP/2 over TLS on loopback, as APNs speaks it: a certificate authority made at
//! start, a server certificate for `127.0.0.1` and `localhost` signed by it, and ALPN
//! offering `h2` only.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::serve::{bind, Running};

pub(crate) struct TlsIdentity {
    /// The authority's certificate, for the client to trust.
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

pub(crate) fn loopback_identity() -> TlsIdentity {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Beckon mock providers test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let leaf_key = KeyPair::generate().expect("server key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "Beckon mock APNs");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("server certificate");

    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server TLS config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsIdentity {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    }
}

/// Serves `router` over HTTP/2 with TLS until the returned handle is dropped.
pub(crate) async fn serve_h2(router: Router, config: Arc<ServerConfig>) -> Running {
    let (listener, addr) = bind().await;
    let (running, mut stopped) = Running::new(addr);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                // A failed handshake (a client without h2, or not trusting the CA) just
                // closes the connection, as APNs would.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    running
}
