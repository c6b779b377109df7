//! Connectors paused, resumed and polled now (see `daemon::controls` for what a pause means for
//! each role), and the running configuration's hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AdminState;
use super::wire::{ConfigFileView, ConnectorView, ControlOutcome};

fn views(state: &AdminState) -> Vec<ConnectorView> {
    let connectors = state.connectors.get();
    let mut views: Vec<ConnectorView> = connectors
        .ids()
        .map(|id| {
            let mut roles = Vec::new();
            if connectors.webhooks.contains_key(id) {
                roles.push("webhook".to_owned());
            }
            if connectors.poll_sources.contains_key(id) {
                roles.push("poller".to_owned());
            }
            if connectors.crms.contains_key(id) {
                roles.push(if id == &*state.delivery_crm { "crm:delivery" } else { "crm" }.to_owned());
            }
            if connectors.messengers.contains_key(id) {
                roles.push("messenger".to_owned());
            }
            ConnectorView {
                id: id.to_owned(),
                kind: connectors.kind_of(id).unwrap_or_default().to_owned(),
                pausable: connectors.poll_sources.contains_key(id) || id == &*state.delivery_crm,
                paused: state.controls.is_paused(id),
                roles,
            }
        })
        .collect();
    views.sort_by(|a, b| a.id.cmp(&b.id));
    views
}

pub(super) async fn list(State(state): State<AdminState>) -> Response {
    Json(views(&state)).into_response()
}

/// `None` when the connector `id` can be paused, or the answer that says why not.
fn refuse_unpausable(state: &AdminState, id: &str) -> Option<Response> {
    let Some(view) = views(state).into_iter().find(|view| view.id == id) else {
        return Some((StatusCode::NOT_FOUND, format!("no connector `{id}` is configured")).into_response());
    };
    if !view.pausable {
        return Some(
            (
                StatusCode::CONFLICT,
                format!(
                    "`{id}` ({}) cannot be paused: a webhook source's events are stored and acknowledged as they come \
                 (refusing them would make the vendor retry and give up); pause the delivery CRM `{}` to hold back \
                 what they produce",
                    view.kind, state.delivery_crm
                ),
            )
                .into_response(),
        );
    }
    None
}

pub(super) async fn pause(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    if let Some(refused) = refuse_unpausable(&state, &id) {
        return refused;
    }
    let changed = state.controls.pause(&id);
    tracing::warn!(connector = %id, "The connector `{id}` is paused (admin API); it stays paused until resumed or restarted.");
    Json(ControlOutcome { connector: id, state: "paused".into(), changed }).into_response()
}

pub(super) async fn resume(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    if let Some(refused) = refuse_unpausable(&state, &id) {
        return refused;
    }
    let changed = state.controls.resume(&id);
    tracing::info!(connector = %id, "The connector `{id}` is resumed (admin API).");
    Json(ControlOutcome { connector: id, state: "resumed".into(), changed }).into_response()
}

pub(super) async fn poll_now(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    if !state.connectors.get().poll_sources.contains_key(&id) {
        return (StatusCode::NOT_FOUND, format!("no poller `{id}` is configured")).into_response();
    }
    if state.controls.is_paused(&id) {
        return (StatusCode::CONFLICT, format!("the poller `{id}` is paused: resume it first")).into_response();
    }
    state.controls.poll_now(&id);
    tracing::info!(connector = %id, "A poll of `{id}` was asked for (admin API).");
    (StatusCode::ACCEPTED, Json(ControlOutcome { connector: id, state: "polling".into(), changed: true }))
        .into_response()
}

pub(super) async fn config_file(State(state): State<AdminState>) -> Response {
    let Some(reloader) = &state.reloader else {
        return (StatusCode::NOT_FOUND, "this server does not know its configuration file").into_response();
    };
    let (path, sha256) = reloader.config_file();
    Json(ConfigFileView { path: path.display().to_string(), sha256 }).into_response()
}
