//! The HTTP server on `server.listen`: webhooks (vendors reach it), health and readiness.

pub mod admin;
mod proxy;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;

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

/// Ready when the store answers: a load balancer stops sending webhooks otherwise.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "Not ready: the store does not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer")
        }
    }
}
