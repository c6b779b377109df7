//! The HTTP server on `server.listen`: webhooks (vendors reach it), the routes connectors serve
//! beyond them, health and readiness.

pub mod admin;
mod process_metrics;
mod routes;
pub mod serve;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;

use crate::daemon::shared::Shared;
use crate::daemon::supervisor::StageHealth;
use crate::ingest::InboxWriterHandle;
use crate::registry::Connectors;
use crate::store::Store;

/// What request handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Swapped whole on reload (new secrets, new connectors of a known kind).
    pub connectors: Shared<Connectors>,
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
    // Paths are mounted once: a reload that adds a kind with routes of its own needs a restart.
    let connectors = state.connectors.get();
    for name in connectors.webhook_route_names() {
        router = router.route(&format!("/webhooks/{{id}}/{name}"), routes::under_webhook(name.clone()));
    }
    let mut prefixes: Vec<&String> = connectors.prefix_routes.keys().collect();
    prefixes.sort();
    for prefix in prefixes {
        router = router.route(&format!("/{prefix}/{{*rest}}"), routes::under_prefix(prefix.clone()));
    }
    router
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), log_refusals))
        .with_state(state)
}

/// Refusals that happen before a handler runs (a body over `server.max_body_bytes`, one that
/// stalled) are logged once and counted here, like the handlers' own refusals.
async fn log_refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let reason = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::BAD_REQUEST | StatusCode::REQUEST_TIMEOUT if path.starts_with("/webhooks/") => "bad_body",
        _ => return response,
    };
    // Only a configured connector's id becomes a label value: the set stays bounded.
    let connector = path
        .strip_prefix("/webhooks/")
        .and_then(|rest| rest.split('/').next())
        .filter(|id| state.connectors.get().webhooks.contains_key(*id))
        .unwrap_or("-")
        .to_owned();
    metrics::counter!("handoffd_webhooks_refused_total", "connector" => connector.clone(), "reason" => reason)
        .increment(1);
    tracing::warn!(%connector, %path, status = response.status().as_u16(), reason, "Refused a request.");
    response
}

/// Ready when every stage runs and the store answers: a load balancer stops sending webhooks
/// otherwise (a webhook accepted while a stage is dead would wait until the restart).
async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    if let Some(failure) = state.stages.failures().first() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {failure}"));
    }
    if let Some(wedged) = state.stages.wedged() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {wedged}"));
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(error) => {
            tracing::warn!(%error, "Not ready: the store does not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer".to_owned())
        }
    }
}
