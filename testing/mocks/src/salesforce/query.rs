//! `GET /services/data/{version}/query?q=SOQL`: the mock's SOQL over its records, in one page.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error;
use super::org::SObject;
use super::soql::{self, compare_text, field_value};
use crate::state::Shared;

#[derive(Deserialize)]
pub(super) struct QueryParams {
    q: Option<String>,
}

pub(super) async fn query(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    UrlQuery(params): UrlQuery<QueryParams>,
) -> Response {
    let Some(text) = params.q else { return error::malformed_query("the q parameter is required") };
    let parsed = match soql::parse(&text) {
        Ok(parsed) => parsed,
        Err(message) => return error::malformed_query(&message),
    };
    let Some(object) = SObject::from_name(&parsed.object) else {
        return error::error(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            format!("sObject type '{}' is not supported.", parsed.object),
        );
    };
    let state = shared.lock();
    let org = &state.salesforce;
    let named = parsed.fields.iter().map(String::as_str).chain(parsed.condition.iter().flat_map(|c| c.fields()));
    let named: Vec<&str> = named.chain(parsed.order_by.iter().map(|(f, _)| f.as_str())).collect();
    if let Some(unknown) = named.iter().find(|f| !org.has_field(object, f)) {
        return error::error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            format!("No such column '{unknown}' on entity '{}'.", object.name()),
        );
    }
    let mut matched: Vec<&Map<String, Value>> =
        org.records(object).filter(|record| parsed.condition.as_ref().is_none_or(|c| c.matches(record))).collect();
    matched.sort_by(|a, b| {
        for (field, descending) in &parsed.order_by {
            let ordering = match (field_value(a, field), field_value(b, field)) {
                (Value::String(x), Value::String(y)) => compare_text(x, y),
                (x, y) => x.to_string().cmp(&y.to_string()),
            };
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    matched.truncate(parsed.limit.unwrap_or(usize::MAX));
    let records: Vec<Value> = matched
        .into_iter()
        .map(|record| {
            let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
            let mut out = Map::new();
            out.insert(
                "attributes".into(),
                json!({"type": object.name(), "url": format!("/services/data/{version}/sobjects/{}/{id}", object.name())}),
            );
            for field in &parsed.fields {
                let name = org.canonical_field(object, field).unwrap_or_else(|| field.clone());
                out.insert(name, field_value(record, field).clone());
            }
            Value::Object(out)
        })
        .collect();
    Json(json!({"totalSize": records.len(), "done": true, "records": records})).into_response()
}
