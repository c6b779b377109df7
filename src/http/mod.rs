//! The HTTP server on `server.listen`: webhooks (vendors reach it), the routes connectors serve
//! beyond them, health and readiness.

pub mod admin;
mod routes;
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
    /// Which pipeline stages failed: one that did makes the daemon not ready.
    pub stages: StageHealth,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/webhooks/{id}", get(webhooks::handshake).post(webhooks::receive));
    // The connectors' own routes, each path once however many connectors serve it.
    for name in state.connectors.webhook_route_names() {
        router = router.route(&format!("/webhooks/{{id}}/{name}"), routes::under_webhook(name.clone()));
    }
    let mut prefixes: Vec<&String> = state.connectors.prefix_routes.keys().collect();
    prefixes.sort();
    for prefix in prefixes {
        router = router.route(&format!("/{prefix}/{{*rest}}"), routes::under_prefix(prefix.clone()));
    }
    router.layer(DefaultBodyLimit::max(max_body_bytes)).with_state(state)
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
