//! The admin server on `admin.listen` (loopback by default): `/metrics` in Prometheus format and
//! the admin API, behind `admin.token` when one is set. The daemon refuses a non-loopback address
//! without a token (checked by the configuration's validation).
//!
//! - here: the router, the token check, `/metrics`, reload and replay;
//! - [`queues`]: dead letters and quarantined bodies (list, show, replay, drop);
//! - [`audit`]: the audit trail of a handoff, a customer's timeline;
//! - [`connectors`]: pause, resume, poll now, backfill pages, and the running configuration's hash;
//! - [`wire`]: the answers' JSON, shared with the CLI that reads them.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::daemon::controls::Controls;
use crate::daemon::reload::Reloader;
use crate::daemon::shared::Shared;
use crate::registry::Connectors;
use crate::store::{Store, StoreError};

mod audit;
mod connectors;
mod queues;
pub mod wire;

/// Every other `_seconds` histogram's buckets: a CRM call or a proxied send, 5 ms to 30 s.
const DURATION_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// `handoffd_handoff_latency_seconds`' buckets: the quiet period ends, then a brief, a delivery
/// round (its linger) and the CRM's answer; minutes mean a backlog or a paused CRM.
const HANDOFF_LATENCY_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0];

/// The process-wide metrics recorder (installed once, shared by every daemon in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Real Prometheus histograms (buckets), so that dashboards and alerts can aggregate them
            // across instances with `histogram_quantile`; the handoff latency has buckets of its own.
            let recorder = PrometheusBuilder::new()
                .set_buckets(DURATION_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full("handoffd_handoff_latency_seconds".to_owned()),
                        HANDOFF_LATENCY_BUCKETS,
                    )
                })
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed: then ours just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// What the admin server needs of the running daemon.
pub struct Admin {
    /// `admin.token`.
    pub token: Option<String>,
    pub store: Arc<dyn Store>,
    pub reloader: Option<Arc<Reloader>>,
    pub connectors: Shared<Connectors>,
    pub controls: Controls,
    /// `delivery.crm`: the connector a pause stops delivering to.
    pub delivery_crm: String,
    /// The daemon's inbox (its group commit), for backfill pages.
    pub inbox: Option<Arc<dyn handoffd_contract::inbox::InboxSink>>,
}

#[derive(Clone)]
struct AdminState {
    token: Option<Arc<str>>,
    metrics: PrometheusHandle,
    store: Arc<dyn Store>,
    reloader: Option<Arc<Reloader>>,
    connectors: Shared<Connectors>,
    controls: Controls,
    delivery_crm: Arc<str>,
    inbox: Option<Arc<dyn handoffd_contract::inbox::InboxSink>>,
}

pub fn router(admin: Admin) -> Router {
    let state = AdminState {
        token: admin.token.map(Arc::from),
        metrics: metrics_handle(),
        store: admin.store,
        reloader: admin.reloader,
        connectors: admin.connectors,
        controls: admin.controls,
        delivery_crm: admin.delivery_crm.into(),
        inbox: admin.inbox,
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/admin/reload", post(reload))
        .route("/admin/replay", post(replay))
        .route("/admin/dead-letters", get(queues::list_dead_letters))
        .route("/admin/dead-letters/{id}", get(queues::show_dead_letter).delete(queues::drop_dead_letter))
        .route("/admin/dead-letters/{id}/replay", post(queues::replay_dead_letter))
        .route("/admin/quarantine", get(queues::list_quarantine))
        .route("/admin/quarantine/{id}", get(queues::show_quarantine).delete(queues::drop_quarantine))
        .route("/admin/audit/handoffs/{id}", get(audit::of_handoff))
        .route("/admin/audit/customers/{key}", get(audit::of_customer))
        .route("/admin/connectors", get(connectors::list))
        .route("/admin/connectors/{id}/pause", post(connectors::pause))
        .route("/admin/connectors/{id}/resume", post(connectors::resume))
        .route("/admin/connectors/{id}/poll", post(connectors::poll_now))
        .route(
            "/admin/connectors/{id}/backfill",
            post(connectors::backfill_page)
                .layer(axum::extract::DefaultBodyLimit::max(connectors::BACKFILL_PAGE_LIMIT)),
        )
        .route("/admin/config", get(connectors::config_file))
        // Every route, `/metrics` included, needs the token (when one is set).
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    match refuse_without_token(&state, request.headers(), request.uri().path()) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// A store error as an answer: 404 for what does not exist, 500 (logged) otherwise.
fn store_failure(error: StoreError) -> Response {
    match error {
        StoreError::NotFound(what) => (StatusCode::NOT_FOUND, format!("not found: {what}")).into_response(),
        error => {
            tracing::error!(%error, "An admin request failed in the store.");
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}

/// What `POST /admin/replay` takes: which stored raw events to run through the pipeline again.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct ReplayRequest {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub connector: Option<String>,
    #[serde(default)]
    pub quarantined_only: bool,
}

impl ReplayRequest {
    pub fn selection(&self) -> crate::store::InboxSelection {
        crate::store::InboxSelection {
            since: self.since,
            until: self.until,
            connector_id: self.connector.clone(),
            quarantined_only: self.quarantined_only,
        }
    }
}

/// `POST /admin/replay`: queue stored raw events again in the running daemon's own store, so its
/// normaliser (and its view of what is unprocessed) picks them up at once.
async fn replay(State(state): State<AdminState>, body: axum::body::Bytes) -> Response {
    let request: ReplayRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("not a replay request: {error}")).into_response(),
    };
    match state.store.requeue_inbox(&request.selection()).await {
        Ok(queued) => {
            tracing::info!(queued, ?request, "Stored raw events queued again for the pipeline (replay).");
            (StatusCode::OK, axum::Json(serde_json::json!({"queued": queued}))).into_response()
        }
        Err(error) => store_failure(error),
    }
}

/// `POST /admin/reload`: what SIGHUP does, with the outcome in the answer: 200 and the keys that
/// wait for a restart, or 422 and every problem of the new configuration.
async fn reload(State(state): State<AdminState>) -> Response {
    let Some(reloader) = &state.reloader else {
        return (StatusCode::NOT_FOUND, "this server cannot reload").into_response();
    };
    match reloader.reload().await {
        Ok(reloaded) => {
            let body = serde_json::json!({"reloaded": true, "needs_restart": reloaded.needs_restart});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(problems) => {
            let body = serde_json::json!({"reloaded": false, "problems": problems.lines().collect::<Vec<_>>()});
            (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
        }
    }
}

/// `Some(401)` unless the request carries `admin.token` (when one is set).
fn refuse_without_token(state: &AdminState, headers: &HeaderMap, path: &str) -> Option<Response> {
    let token = state.token.as_ref()?;
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let matches = given.is_some_and(|given| {
        use subtle::ConstantTimeEq;
        given.as_bytes().ct_eq(token.as_bytes()).into()
    });
    if matches {
        return None;
    }
    // Never the token that was sent: it may be a real secret pasted in the wrong place.
    tracing::warn!(
        given = if given.is_some() { "a wrong token" } else { "no token" },
        path,
        "Refused an admin request: 401."
    );
    metrics::counter!("handoffd_admin_refused_total").increment(1);
    Some((StatusCode::UNAUTHORIZED, "admin.token required").into_response())
}

async fn metrics(State(state): State<AdminState>) -> Response {
    super::process_metrics::export();
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
