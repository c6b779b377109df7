//! Vapi's list-calls API (`GET /call`), as the Vapi poller uses it: a bearer private key, and
//! `createdAtGt` / `createdAtGe` / `createdAtLt` / `createdAtLe` / `limit`, answered with a
//! bare JSON array of Call objects, newest first (the order is not documented; the poller must
//! not depend on it). A window it cannot read is a 400, as Vapi answers a bad query.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::voice::{Calls, VoiceMock};

/// Start a Vapi mock on a free loopback port that accepts `api_key`.
pub async fn start(api_key: &str) -> std::io::Result<VoiceMock> {
    let state = Arc::new(Calls { api_key: api_key.to_owned(), ..Calls::default() });
    let router = Router::new().route("/call", get(list_calls)).with_state(state.clone());
    VoiceMock::serve(router, state).await
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    created_at_gt: Option<String>,
    created_at_ge: Option<String>,
    created_at_lt: Option<String>,
    created_at_le: Option<String>,
    limit: Option<usize>,
}

async fn list_calls(State(state): State<Arc<Calls>>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    if let Err(status) = state.admit(&headers) {
        return status.into_response();
    }
    let parse = |text: &Option<String>| -> Result<Option<DateTime<Utc>>, ()> {
        text.as_deref()
            .map(|t| DateTime::parse_from_rfc3339(t).map(|at| at.with_timezone(&Utc)).map_err(|_| ()))
            .transpose()
    };
    let (Ok(gt), Ok(ge), Ok(lt), Ok(le)) = (
        parse(&query.created_at_gt),
        parse(&query.created_at_ge),
        parse(&query.created_at_lt),
        parse(&query.created_at_le),
    ) else {
        return (StatusCode::BAD_REQUEST, "createdAt filters must be ISO 8601").into_response();
    };
    let mut calls: Vec<Value> = state
        .calls
        .lock()
        .expect("the mock's calls")
        .iter()
        .filter(|call| {
            let Some(created) = call
                .get("createdAt")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|at| at.with_timezone(&Utc))
            else {
                return false;
            };
            gt.is_none_or(|gt| created > gt)
                && ge.is_none_or(|ge| created >= ge)
                && lt.is_none_or(|lt| created < lt)
                && le.is_none_or(|le| created <= le)
        })
        .cloned()
        .collect();
    calls.sort_by(|a, b| b.get("createdAt").and_then(Value::as_str).cmp(&a.get("createdAt").and_then(Value::as_str)));
    calls.truncate(query.limit.unwrap_or(100).min(1000));
    Json(calls).into_response()
}
