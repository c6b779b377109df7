//! `GET /services/data/{version}/query?q=SOQL`: the mock's SOQL over its records, in one page; and
//! `POST /services/data/{version}/composite` with query subrequests (Salesforce counts the whole composite request
//! as one call against the allocation; up to 25 subrequests, at most 5 of them queries).

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
    run(&shared, &version, &text)
}

/// The composite request's body, as far as the mock reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CompositeBody {
    composite_request: Vec<Subrequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subrequest {
    method: String,
    url: String,
    reference_id: String,
}

/// Salesforce's caps on one composite request.
const MAX_SUBREQUESTS: usize = 25;
const MAX_QUERIES: usize = 5;

/// `POST /composite`: each query subrequest answered as the query resource would, in order; the mock serves
/// queries only (the connector sends nothing else through it).
pub(super) async fn composite(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body: CompositeBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error::error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", format!("Cannot deserialize: {e}"));
        }
    };
    let requests = body.composite_request;
    if requests.is_empty() || requests.len() > MAX_SUBREQUESTS {
        return error::error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            "compositeRequest: between 1 and 25 subrequests",
        );
    }
    if requests.len() > MAX_QUERIES {
        return error::error(StatusCode::BAD_REQUEST, "INVALID_FIELD", "A composite request takes at most 5 queries");
    }
    let prefix = format!("/services/data/{version}/query?");
    let mut answers = Vec::with_capacity(requests.len());
    for sub in requests {
        let soql = sub.url.strip_prefix(&prefix).filter(|_| sub.method.eq_ignore_ascii_case("GET")).and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "q").map(|(_, v)| v.into_owned())
        });
        let response = match soql {
            Some(soql) => run(&shared, &version, &soql),
            None => error::error(
                StatusCode::BAD_REQUEST,
                "INVALID_URL",
                format!("the mock serves query subrequests only: {}", sub.url),
            ),
        };
        let status = response.status().as_u16();
        let bytes = match axum::body::to_bytes(response.into_body(), usize::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => return error::error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN_EXCEPTION", e.to_string()),
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        answers
            .push(json!({"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": sub.reference_id}));
    }
    Json(json!({"compositeResponse": answers})).into_response()
}

/// One SOQL query over the org's records, as the query resource answers it.
fn run(shared: &Shared, version: &str, text: &str) -> Response {
    let parsed = match soql::parse(text) {
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
