//! HubSpot's error bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::hubspot::limits::Policy;

pub(crate) fn correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `{"status":"error","message":...,"correlationId":...,"category":...}`.
pub(crate) fn error(status: StatusCode, category: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "status": "error",
        "message": message.into(),
        "correlationId": correlation_id(),
        "category": category,
    });
    (status, Json(body)).into_response()
}

pub(crate) fn validation_error(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

/// The 429 body; the caller adds `Retry-After` and the limit headers.
pub(crate) fn rate_limited(policy: Policy) -> Response {
    let body = json!({
        "status": "error",
        "message": policy.message(),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy.name(),
    });
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// A request HubSpot would refuse with 400 VALIDATION_ERROR; becomes that answer.
#[derive(Debug)]
pub(crate) struct InvalidInput(pub String);

impl IntoResponse for InvalidInput {
    fn into_response(self) -> Response {
        validation_error(self.0)
    }
}

/// Parses a JSON body, answering malformed input the way HubSpot does (400 VALIDATION_ERROR naming the spot).
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, InvalidInput> {
    serde_json::from_slice(body).map_err(|error| {
        InvalidInput(format!("Invalid input JSON on line {}, column {}: {}", error.line(), error.column(), error))
    })
}

/// A JSON scalar as the string HubSpot stores (HubSpot accepts numbers and booleans for string properties).
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}
