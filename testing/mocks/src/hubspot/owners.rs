//! `GET /crm/v3/owners?limit=&after=&email=`: the configured owners, paged.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::validation_error;
use crate::state::{MockOwner, Shared, iso};

const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub(super) struct OwnersQuery {
    limit: Option<usize>,
    after: Option<String>,
    email: Option<String>,
    /// Archived owners are not modelled: `archived=true` lists none.
    #[serde(default)]
    archived: bool,
}

pub(super) async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<OwnersQuery>) -> Response {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return validation_error(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"));
    }
    let offset = match query.after.as_deref().map(str::parse::<usize>).transpose() {
        Ok(offset) => offset.unwrap_or(0),
        Err(_) => return validation_error("`after` must be a paging token from a previous answer"),
    };
    let state = shared.lock();
    let owners: Vec<&MockOwner> = state
        .owners
        .iter()
        .filter(|_| !query.archived)
        .filter(|owner| query.email.as_deref().is_none_or(|email| owner.email.eq_ignore_ascii_case(email)))
        .collect();
    let end = (offset + limit).min(owners.len());
    let results: Vec<Value> =
        owners.get(offset.min(end)..end).unwrap_or_default().iter().map(|o| owner_json(o)).collect();
    let mut answer = json!({ "results": results });
    if end < owners.len() {
        answer["paging"] = json!({ "next": { "after": end.to_string(), "link": format!("?after={end}") } });
    }
    Json(answer).into_response()
}

fn owner_json(owner: &MockOwner) -> Value {
    // Fixed dates: owners predate anything the mock sees.
    let since = iso(Utc.with_ymd_and_hms(2024, 1, 15, 9, 0, 0).single().unwrap_or_default());
    json!({
        "id": owner.id,
        "email": owner.email,
        "type": "PERSON",
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "createdAt": since,
        "updatedAt": since,
        "archived": false,
        "teams": [],
    })
}
