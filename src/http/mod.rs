//! The HTTP server on `server.listen`: webhooks (vendors reach it), health and readiness.

pub mod admin;
mod proxy;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;

use crate::daemon::supervisor::StageHealth;
use crate::ingest::InboxWriterHandle;
use crate::registry::Connectors;
use crate::store::Store;

/// What request handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub connectors: Arc<Connectors>,
    pub inbox: InboxWriterHandle,
    /// For the Graph API send proxy (no retries, the vendor's timeouts).
    pub http: reqwest::Client,
    /// Which pipeline stages failed: one that did makes the daemon not ready.
    pub stages: StageHealth,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/webhooks/{id}", get(webhooks::handshake).post(webhooks::receive))
        .route("/webhooks/{id}/turns", axum::routing::post(webhooks::receive_turn))
        .route("/graph/{*rest}", axum::routing::any(proxy::forward))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Ready when every stage runs and the store answers: a load balancer stops sending webhooks
/// otherwise (a webhook accepted while a stage is dead would wait until the restart).
async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    if let Some(failure) = state.stages.failures().first() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {failure}"));
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(error) => {
            tracing::warn!(%error, "Not ready: the store does not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer".to_owned())
        }
    }
}
