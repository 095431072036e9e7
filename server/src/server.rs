//! Starting and stopping the server in-process.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{router, AppState};
use crate::config::ServerConfig;
use crate::database;
use crate::delivery::{DeliveryConfigError, Providers};
use crate::dispatch::{self, Runner};
use crate::identity::Verifier;
use crate::metrics::Metrics;
use crate::serve;
use crate::store::{Store, StoreError};

/// How long shutdown waits for in-flight requests before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid provider configuration: {0}")]
    Providers(DeliveryConfigError),
    #[error("cannot open the database {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("the database {path} is damaged; SQLite reports: {findings}. {repair}")]
    Damaged {
        path: String,
        findings: String,
        repair: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server accepting connections. Dropping it also stops the server, without waiting.
pub struct RunningServer {
    /// The bound address, with the real port when the config asked for port 0.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Dropped with the server, it stops too.
    runner: Option<Runner>,
}

impl RunningServer {
    /// `http://HOST:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests and deliveries finish (for
    /// a bounded time) and returns once the database is closed, so the same file can be
    /// opened again.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(runner) = self.runner.take() {
            runner.shutdown(SHUTDOWN_GRACE).await;
        }
        let Some(mut task) = self.task.take() else {
            return;
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(())) => tracing::info!("server stopped"),
            Ok(Err(err)) => tracing::error!(error = %err, "server task failed"),
            Err(_) => {
                tracing::warn!("requests still running after the grace period; dropping them");
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Opens the database, binds the listener and serves in a background task.
///
/// Returns once the server accepts connections; errors (bad config, unusable database,
/// address in use) come back here rather than from a background task.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    config.check().map_err(ServerError::Config)?;
    // Keys and URLs are checked now, so a bad one stops the server here rather than
    // failing its first send.
    let providers = Providers::new(config.delivery.clone()).map_err(ServerError::Providers)?;
    let identities = Verifier::new(config.identity.clone()).map_err(ServerError::Config)?;
    let backend = database::open(&config.db_path, config.startup_check).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;

    let store = Store::new(backend);
    if config.builtin_segments {
        crate::catalog::seed_builtin_segments(&store)
            .await
            .map_err(|source| ServerError::Store {
                path: config.db_path.display().to_string(),
                source,
            })?;
    }
    let runner = dispatch::start(store.clone(), providers, config.sends.clone())
        .await
        .map_err(|source| ServerError::Store {
            path: config.db_path.display().to_string(),
            source,
        })?;
    let metrics = Metrics::new();
    let state = AppState::new(store, config.app_keys, config.admin_token)
        .with_sends(runner.handle())
        .with_identities(identities)
        .with_metrics(metrics.clone())
        .with_limits(&config.rates, &config.limits);
    // A dropped sender (RunningServer dropped) stops the server too.
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = serve::spawn(listener, router(state), config.limits, metrics, stop);
    tracing::info!(%addr, db = %config.db_path.display(), "beckon-server started");
    Ok(RunningServer {
        addr,
        shutdown: Some(shutdown),
        task: Some(task),
        runner: Some(runner),
    })
}
