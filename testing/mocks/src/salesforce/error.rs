//! Salesforce's error answers: a JSON array of `{message, errorCode}` (and `fields` where one is at fault).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::INJECTED_REJECTION;

pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!([{ "message": message.into(), "errorCode": code }]))).into_response()
}

pub fn invalid_session() -> Response {
    error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", "Session expired or invalid")
}

pub fn allocation_spent() -> Response {
    error(StatusCode::FORBIDDEN, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
}

/// Salesforce's answer when the org already has its cap of long-running requests (20 s or more) in flight.
pub fn concurrent_limit() -> Response {
    error(StatusCode::FORBIDDEN, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
}

pub fn malformed_query(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
}

/// An injected 429, with `Retry-After: 1`.
pub fn too_many_requests() -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_LIMIT_EXCEEDED",
        "Too many requests at once (the mock's injected 429); retry after the time given.",
    );
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

pub fn rejected() -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_FIELD", INJECTED_REJECTION)
}

pub fn server_error(status: StatusCode) -> Response {
    match status {
        StatusCode::BAD_GATEWAY => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
        )
            .into_response(),
        StatusCode::SERVICE_UNAVAILABLE => error(status, "SERVER_UNAVAILABLE", "Server is temporarily unavailable."),
        _ => error(
            status,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1964052211-38717 (-1406305441)",
        ),
    }
}
