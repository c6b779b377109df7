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
    // The store first: the pause outlives a restart and reaches the other instances.
    let changed = match state.store.set_connector_paused(&id, true, chrono::Utc::now()).await {
        Ok(changed) => changed,
        Err(error) => return super::store_failure(error),
    };
    state.controls.pause(&id);
    tracing::warn!(connector = %id, "The connector `{id}` is paused (admin API); it stays paused, across restarts and on every instance, until resumed.");
    Json(ControlOutcome { connector: id, state: "paused".into(), changed }).into_response()
}

pub(super) async fn resume(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    if let Some(refused) = refuse_unpausable(&state, &id) {
        return refused;
    }
    let changed = match state.store.set_connector_paused(&id, false, chrono::Utc::now()).await {
        Ok(changed) => changed,
        Err(error) => return super::store_failure(error),
    };
    state.controls.resume(&id);
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

/// The largest backfill page the admin API takes (a page of 200 calls with long transcripts).
pub(super) const BACKFILL_PAGE_LIMIT: usize = 64 * 1024 * 1024;

/// `POST /admin/connectors/{id}/backfill`: one page of a backfill (`handoffd backfill` walks the
/// vendor and posts each page: the interactions as the connector's poller produced them),
/// committed through this daemon's inbox like a scheduled poll's page, so its normaliser takes
/// it at once and dedup keys absorb what it already has.
pub(super) async fn backfill_page(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !state.connectors.get().poll_sources.contains_key(&id) {
        return (StatusCode::NOT_FOUND, format!("no poller `{id}` is configured")).into_response();
    }
    let Some(inbox) = &state.inbox else {
        return (StatusCode::NOT_FOUND, "this server has no inbox").into_response();
    };
    // Checked before it is committed: a page that does not read back would only be quarantined.
    let interactions = match serde_json::from_slice::<Vec<handoffd_contract::interaction::Interaction>>(&body) {
        Ok(interactions) => interactions.len(),
        Err(error) => return (StatusCode::BAD_REQUEST, format!("not a page of interactions: {error}")).into_response(),
    };
    let event = handoffd_contract::webhook::Verified::produced_by_connector(body.to_vec(), chrono::Utc::now());
    match inbox.accept(&id, handoffd_contract::inbox::InboxSource::Poll, event).await {
        Ok(committed) => {
            tracing::info!(connector = %id, interactions, inbox_id = committed.inbox_id, "A backfill page of `{id}` was committed (admin API).");
            metrics::counter!("handoffd_backfill_interactions_total", "connector" => id).increment(interactions as u64);
            Json(serde_json::json!({"inbox_id": committed.inbox_id, "interactions": interactions})).into_response()
        }
        Err(error) => {
            tracing::error!(connector = %id, error = %error.0, "A backfill page could not be committed.");
            (StatusCode::SERVICE_UNAVAILABLE, error.0).into_response()
        }
    }
}
