//! The audit trail through the admin API: a handoff's entries, a customer's whole timeline.
//! Entries are returned as stored (`event` and `detail` as the stage that wrote them chose), so a
//! stage that adds an event needs nothing here.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{AdminState, store_failure};

pub(super) async fn of_handoff(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    match state.store.audit_for_handoff(&id).await {
        Ok(entries) => Json(entries).into_response(),
        Err(error) => store_failure(error),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CustomerQuery {
    /// Region for a phone written without a country code.
    region: Option<String>,
}

/// `key`: a phone, an email, a match key or a customer id (see `identity::lookup`).
pub(super) async fn of_customer(
    State(state): State<AdminState>,
    Path(key): Path<String>,
    Query(query): Query<CustomerQuery>,
) -> Response {
    let customer =
        match crate::identity::lookup::find_customer(state.store.as_ref(), &key, query.region.as_deref()).await {
            Ok(Some(customer)) => customer,
            Ok(None) => return (StatusCode::NOT_FOUND, format!("no customer is known by `{key}`")).into_response(),
            Err(error) => return store_failure(error),
        };
    match state.store.customer_timeline(&customer).await {
        Ok(timeline) => Json(timeline).into_response(),
        Err(error) => store_failure(error),
    }
}
