use std::sync::Arc;
use std::time::Duration;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use beckon::protocol::{BATCH_PATH, EVENTS_PATH, PERMISSIONS_PATH, SYNC_PATH};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::dispatch::SendsHandle;
use crate::error::ApiError;
use crate::identity::Verifier;
use crate::limits::{ConnectionLimits, RateLimits};
use crate::metrics::{self, Metrics, METRICS_PATH};
use crate::rate_limit::{self, RateLimiters};
use crate::readiness::{self, READYZ_PATH};
use crate::routes::campaigns::Campaigns;
use crate::routes::definitions::routes as definition_routes;
use crate::routes::segments::Segments;
use crate::routes::{batch, export, permissions, segment_members, sends, sync, users};
use crate::store::Store;
use crate::{auth, encoding};

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    store: Store,
    app_keys: Arc<[String]>,
    admin_token: Arc<str>,
    sends: SendsHandle,
    identities: Arc<Verifier>,
    metrics: Arc<Metrics>,
    rate_limiters: Arc<RateLimiters>,
    body_timeout: Duration,
}

impl AppState {
    pub fn new(store: Store, app_keys: Vec<String>, admin_token: String) -> Self {
        Self {
            store,
            app_keys: app_keys.into(),
            admin_token: admin_token.into(),
            sends: SendsHandle::default(),
            identities: Arc::new(Verifier::off()),
            metrics: Metrics::new(),
            rate_limiters: RateLimiters::off(),
            body_timeout: ConnectionLimits::default().body_timeout,
        }
    }

    /// The same state, limiting request rates to `rates` and request bodies to the
    /// body timeout of `connections`. Within a tokio runtime: idle clients are forgotten
    /// by a background task.
    pub fn with_limits(mut self, rates: &RateLimits, connections: &ConnectionLimits) -> Self {
        self.rate_limiters = RateLimiters::new(rates);
        self.body_timeout = connections.body_timeout;
        self
    }

    /// The same state, verifying identities with `verifier`.
    pub fn with_identities(mut self, verifier: Verifier) -> Self {
        self.identities = Arc::new(verifier);
        self
    }

    /// The same state, counting into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same state, telling `runner` of the sends it stores.
    pub fn with_sends(mut self, runner: SendsHandle) -> Self {
        self.sends = runner;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn app_keys(&self) -> &[String] {
        &self.app_keys
    }

    pub(crate) fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub(crate) fn sends(&self) -> &SendsHandle {
        &self.sends
    }

    pub(crate) fn identities(&self) -> &Verifier {
        &self.identities
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub(crate) fn rate_limiters(&self) -> &RateLimiters {
        &self.rate_limiters
    }

    pub(crate) fn body_timeout(&self) -> Duration {
        self.body_timeout
    }
}

/// All routes. Layers run bottom-up: the client's rate before anything else, then
/// the credentials and the app key's rate, then the encoding, all before a single body
/// byte is decompressed. `/healthz` is never rate limited.
pub fn router(state: AppState) -> Router {
    let upload = post(batch::upload)
        .route_layer(RequestDecompressionLayer::new())
        .route_layer(from_fn(encoding::gzip_or_identity));
    let admin = Router::new()
        .route(EVENTS_PATH, get(export::export))
        .merge(definition_routes::<Segments>())
        .merge(definition_routes::<Campaigns>())
        .merge(segment_members::routes())
        .merge(users::routes())
        .merge(sends::routes())
        .route(METRICS_PATH, get(metrics::metrics))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin));

    Router::new()
        .route(BATCH_PATH, device(upload, &state))
        .route(SYNC_PATH, device(get(sync::sync), &state))
        .route(
            PERMISSIONS_PATH,
            device(get(permissions::permissions), &state),
        )
        .merge(admin)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(from_fn_with_state(state.clone(), rate_limit::limit_ip))
        // Added after the layer above, so load balancers' probes are never limited.
        .route("/healthz", get(healthz))
        .route(READYZ_PATH, get(readiness::readyz))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// A device route: the app key checked, then its rate.
fn device(route: MethodRouter<AppState>, state: &AppState) -> MethodRouter<AppState> {
    route
        .route_layer(from_fn_with_state(state.clone(), rate_limit::limit_app_key))
        .route_layer(from_fn_with_state(state.clone(), auth::require_app_key))
}

async fn healthz() -> &'static str {
    "ok"
}
