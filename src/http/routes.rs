//! Mounting the routes connectors serve (WhatsApp: `/webhooks/{id}/turns`, `/graph/...`). The
//! connector checks and answers the request; the daemon only finds the connector and hands it
//! the inbox, so a route commits through the same group commit as webhooks.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use chrono::Utc;
use handoffd_contract::inbox::InboxSink;
use handoffd_contract::routes::{RouteAnswer, RouteHandler};
use handoffd_contract::webhook::RawRequest;

use super::AppState;

/// `/webhooks/{id}/{name}`: the route `name` of connector `id`.
pub fn under_webhook(name: String) -> MethodRouter<AppState> {
    any(
        move |State(state): State<AppState>,
              Path(id): Path<String>,
              method: Method,
              uri: Uri,
              headers: HeaderMap,
              body: Bytes| {
            let name = name.clone();
            async move {
                let Some(handler) = state.connectors.get().webhook_routes.get(&(id, name)).cloned() else {
                    return (StatusCode::NOT_FOUND, "no such connector").into_response();
                };
                match ask(&state, &*handler, &method, &uri, &headers, &body).await {
                    RouteAnswer::Respond(response) => into_axum(response),
                    _ => (StatusCode::NOT_FOUND, "no such connector").into_response(),
                }
            }
        },
    )
}

/// `/{prefix}/...`: asked of each connector serving `prefix` in turn, until one claims it.
pub fn under_prefix(prefix: String) -> MethodRouter<AppState> {
    any(move |State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let prefix = prefix.clone();
        async move {
            let connectors = state.connectors.get();
            for route in connectors.prefix_routes.get(&prefix).into_iter().flatten() {
                if let RouteAnswer::Respond(response) =
                    ask(&state, &*route.handler, &method, &uri, &headers, &body).await
                {
                    return into_axum(response);
                }
            }
            (StatusCode::NOT_FOUND, "no connector serves this request").into_response()
        }
    })
}

async fn ask(
    state: &AppState,
    handler: &dyn RouteHandler,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> RouteAnswer {
    let request = RawRequest {
        method,
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        body,
        received_at: Utc::now(),
        peer: None,
    };
    let inbox: Arc<dyn InboxSink> = Arc::new(state.inbox.clone());
    handler.handle(request, inbox).await
}

fn into_axum(response: http::Response<Bytes>) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body))
}
