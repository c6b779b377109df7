//! The admin server on `admin.listen` (loopback by default): `/metrics` in Prometheus format,
//! behind `admin.token` when one is set. The daemon refuses a non-loopback address without a
//! token (checked by the configuration's validation).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// The process-wide metrics recorder (installed once, shared by every daemon in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed: then ours just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(Clone)]
struct AdminState {
    token: Option<Arc<str>>,
    metrics: PrometheusHandle,
    store: Arc<dyn Store>,
}

pub fn router(token: Option<String>, store: Arc<dyn Store>) -> Router {
    let state = AdminState { token: token.map(Arc::from), metrics: metrics_handle(), store };
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.token {
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let matches = given.is_some_and(|given| {
            use subtle::ConstantTimeEq;
            given.as_bytes().ct_eq(token.as_bytes()).into()
        });
        if !matches {
            return (StatusCode::UNAUTHORIZED, "admin.token required").into_response();
        }
    }
    // Backlog gauges are read at scrape time, so they are right even after a restart.
    if let Ok(counts) = state.store.stage_counts().await {
        metrics::gauge!("handoffd_inbox_unprocessed").set(counts.inbox_unprocessed as f64);
        metrics::gauge!("handoffd_quarantined").set(counts.quarantined as f64);
        metrics::gauge!("handoffd_handoffs_collecting").set(counts.handoffs_collecting as f64);
        metrics::gauge!("handoffd_outbox_pending").set(counts.outbox_pending as f64);
        metrics::gauge!("handoffd_outbox_unleased").set(counts.outbox_unleased as f64);
        metrics::gauge!("handoffd_dead_letters").set(counts.dead_letters as f64);
        // What reached the CRM, exact across restarts (a counter starts again at zero): `handoffd-bench` counts
        // lost messages with these.
        metrics::gauge!("handoffd_inbox_events").set(counts.inbox_total as f64);
        metrics::gauge!("handoffd_interactions").set(counts.interactions as f64);
        metrics::gauge!("handoffd_handoffs_with_task").set(counts.handoffs_with_task as f64);
        metrics::gauge!("handoffd_interactions_with_task").set(counts.interactions_with_task as f64);
    }
    // Each poller's lag: seconds since its last successful poll, as of this scrape.
    if let Ok(cursors) = state.store.poll_cursors().await {
        let now = chrono::Utc::now();
        for cursor in cursors {
            crate::ingest::poll::record_lag(&cursor.connector_id, cursor.polled_at, now);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
