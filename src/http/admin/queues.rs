//! Dead letters and quarantined bodies through the admin API.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::wire::{DeadLetterView, QuarantineView};
use super::{AdminState, store_failure};

#[derive(Debug, serde::Deserialize)]
pub(super) struct Limit {
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

pub(super) async fn list_dead_letters(State(state): State<AdminState>, Query(query): Query<Limit>) -> Response {
    match state.store.list_dead_letters(query.limit).await {
        Ok(letters) => Json(letters.into_iter().map(DeadLetterView::brief).collect::<Vec<_>>()).into_response(),
        Err(error) => store_failure(error),
    }
}

pub(super) async fn show_dead_letter(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    match state.store.get_dead_letter(id).await {
        Ok(letter) => Json(DeadLetterView::full(letter)).into_response(),
        Err(error) => store_failure(error),
    }
}

/// Back to the outbox; the running deliverer is woken by its next look (within a second).
pub(super) async fn replay_dead_letter(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    let replayed =
        state.store.replay_dead_letter(id, crate::conversation::lifecycle::REPLAYED, chrono::Utc::now()).await;
    match replayed {
        Ok(()) => {
            tracing::info!(dead_letter = id, "A dead letter was put back in the outbox (admin API).");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => store_failure(error),
    }
}

pub(super) async fn drop_dead_letter(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    match state.store.drop_dead_letter(id).await {
        Ok(()) => {
            tracing::info!(dead_letter = id, "A dead letter was dropped (admin API).");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => store_failure(error),
    }
}

pub(super) async fn list_quarantine(State(state): State<AdminState>, Query(query): Query<Limit>) -> Response {
    match state.store.list_quarantine(query.limit).await {
        Ok(entries) => Json(entries.into_iter().map(QuarantineView::brief).collect::<Vec<_>>()).into_response(),
        Err(error) => store_failure(error),
    }
}

pub(super) async fn show_quarantine(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    match state.store.get_quarantine(id).await {
        Ok(entry) => Json(QuarantineView::full(entry)).into_response(),
        Err(error) => store_failure(error),
    }
}

pub(super) async fn drop_quarantine(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    match state.store.drop_quarantine(id).await {
        Ok(()) => {
            tracing::info!(quarantined = id, "A quarantined body was dropped (admin API).");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => store_failure(error),
    }
}
