//! Retell's list-calls API (`POST /v3/list-calls`), as the Retell poller uses it: a bearer API
//! key, `filter_criteria.start_timestamp {op: gt|ge|lt|le|eq, value}`, `sort_order`, `limit`,
//! answered with `{items, has_more, pagination_key}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::voice::{Calls, VoiceMock};

/// Start a Retell mock on a free loopback port that accepts `api_key`.
pub async fn start(api_key: &str) -> std::io::Result<VoiceMock> {
    let state = Arc::new(Calls { api_key: api_key.to_owned(), ..Calls::default() });
    let router = Router::new().route("/v3/list-calls", post(list_calls)).with_state(state.clone());
    VoiceMock::serve(router, state).await
}

async fn list_calls(State(state): State<Arc<Calls>>, headers: HeaderMap, Json(request): Json<Value>) -> Response {
    if let Err(status) = state.admit(&headers) {
        return status.into_response();
    }
    let filter = request.pointer("/filter_criteria/start_timestamp");
    let (op, value) = match filter {
        None => ("ge", i64::MIN),
        Some(filter) => match (filter.get("op").and_then(Value::as_str), filter.get("value").and_then(Value::as_i64)) {
            (Some(op @ ("gt" | "ge" | "lt" | "le" | "eq")), Some(value)) => (op, value),
            _ => return (StatusCode::BAD_REQUEST, "invalid start_timestamp filter").into_response(),
        },
    };
    let limit = request.get("limit").and_then(Value::as_u64).unwrap_or(50).min(1000) as usize;
    let ascending = request.get("sort_order").and_then(Value::as_str) == Some("ascending");
    let mut calls: Vec<Value> = state
        .calls
        .lock()
        .expect("the mock's calls")
        .iter()
        .filter(|call| {
            let Some(start) = call.get("start_timestamp").and_then(Value::as_i64) else { return false };
            match op {
                "gt" => start > value,
                "ge" => start >= value,
                "lt" => start < value,
                "le" => start <= value,
                _ => start == value,
            }
        })
        .cloned()
        .collect();
    calls.sort_by_key(|call| call.get("start_timestamp").and_then(Value::as_i64));
    if !ascending {
        calls.reverse();
    }
    let has_more = calls.len() > limit;
    calls.truncate(limit);
    let pagination_key = calls.last().and_then(|c| c.get("call_id")).cloned().unwrap_or(Value::Null);
    Json(json!({"items": calls, "has_more": has_more, "pagination_key": pagination_key})).into_response()
}
