//! What the server counts, served in the Prometheus text format at `GET /metrics`
//! (admin token).
//!
//! Each server owns its registry, so servers started in one process (tests,
//! benchmarks) never mix their counts.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::app::AppState;
use crate::error::ApiError;

/// Path of the metrics endpoint.
pub const METRICS_PATH: &str = "/metrics";

/// Why something was refused or cut short.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Which limit a request ran into: `ip` or `app_key`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabel {
    pub scope: &'static str,
}

/// Which stage of a connection ran out of time: `header`, `idle`, `body` or `request`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: &'static str,
}

/// Every metric of one server. Cheap to share: clone the [`Arc`].
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events stored by device batches.
    pub events_accepted: Counter,
    /// Events already stored (a retried batch).
    pub events_duplicate: Counter,
    /// Events refused one by one, listed in the batch answer.
    pub events_rejected: Counter,
    /// Events whose corrected time lay too far ahead of the server's clock and were
    /// stored at the time the server received them.
    pub event_times_clamped: Counter,
    /// Events refused because their user's identity token was missing, invalid or
    /// expired, by reason.
    pub identity_refused_events: Family<ReasonLabel, Counter>,
    /// Requests refused for the same reasons (a batch counts once here, and each of its
    /// events in `identity_refused_events`).
    pub identity_refused_requests: Family<ReasonLabel, Counter>,
    /// Events accepted without a valid token because verification is `optional` for
    /// their app key, by what was wrong.
    pub identity_unverified_events: Family<ReasonLabel, Counter>,
    /// Requests answered 429, by the limit they exceeded.
    pub rate_limited: Family<ScopeLabel, Counter>,
    /// Connections open now.
    pub connections_open: Gauge,
    /// Connections refused at once because the server was at its connection cap.
    pub connections_refused: Counter,
    /// Connections closed because the client was too slow, by stage.
    pub connections_timed_out: Family<PhaseLabel, Counter>,
    /// 1 once the database was found damaged; writes are refused until a restart.
    pub storage_damaged: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("beckon"),
            events_accepted: Counter::default(),
            events_duplicate: Counter::default(),
            events_rejected: Counter::default(),
            event_times_clamped: Counter::default(),
            identity_refused_events: Family::default(),
            identity_refused_requests: Family::default(),
            identity_unverified_events: Family::default(),
            rate_limited: Family::default(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            connections_timed_out: Family::default(),
            storage_damaged: Gauge::default(),
        };
        let m = &mut metrics;
        let r = &mut m.registry;
        r.register(
            "events_accepted",
            "Events stored from device batches",
            m.events_accepted.clone(),
        );
        r.register(
            "events_duplicate",
            "Events received again after being stored (retried batches)",
            m.events_duplicate.clone(),
        );
        r.register(
            "events_rejected",
            "Events refused one by one in batch answers",
            m.events_rejected.clone(),
        );
        r.register(
            "event_times_clamped",
            "Events claiming a time too far ahead of the server clock, stored at their receive time",
            m.event_times_clamped.clone(),
        );
        r.register(
            "identity_refused_events",
            "Events refused for a missing, invalid or expired identity token",
            m.identity_refused_events.clone(),
        );
        r.register(
            "identity_refused_requests",
            "Requests refused for a missing, invalid or expired identity token",
            m.identity_refused_requests.clone(),
        );
        r.register(
            "identity_unverified_events",
            "Events accepted without a valid identity token (verification optional)",
            m.identity_unverified_events.clone(),
        );
        r.register(
            "http_rate_limited",
            "Requests answered 429, by the limit exceeded",
            m.rate_limited.clone(),
        );
        r.register(
            "http_connections_open",
            "Client connections open",
            m.connections_open.clone(),
        );
        r.register(
            "http_connections_refused",
            "Connections refused at the connection cap",
            m.connections_refused.clone(),
        );
        r.register(
            "http_connections_timed_out",
            "Connections closed because the client was too slow, by stage",
            m.connections_timed_out.clone(),
        );
        r.register(
            "storage_damaged",
            "1 when the database was found damaged (writes refused until restart)",
            m.storage_damaged.clone(),
        );
        Arc::new(metrics)
    }

    /// Counts `n` events refused for `reason` (an [`IdentityProblem`] name).
    ///
    /// [`IdentityProblem`]: beckon::protocol::IdentityProblem
    pub fn reason(family: &Family<ReasonLabel, Counter>, reason: &'static str, n: u64) {
        family.get_or_create(&ReasonLabel { reason }).inc_by(n);
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    // The store knows; the gauge follows it whenever it is read.
    let damaged = state.store().is_damaged();
    state.metrics().storage_damaged.set(i64::from(damaged));
    let text = state.metrics().render();
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.events_accepted.inc_by(3);
        Metrics::reason(&metrics.identity_refused_events, "expired", 2);
        metrics.storage_damaged.set(1);
        let text = metrics.render();
        assert!(text.contains("beckon_events_accepted_total 3"), "{text}");
        assert!(
            text.contains(r#"beckon_identity_refused_events_total{reason="expired"} 2"#),
            "{text}"
        );
        assert!(text.contains("beckon_storage_damaged 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn each_server_counts_alone() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.connections_refused.inc();
        assert!(b
            .render()
            .contains("beckon_http_connections_refused_total 0"));
    }
}
