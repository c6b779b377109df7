//! Requests as a vendor mock received them, kept for tests that check them against the vendor's own spec.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// One request: what a spec validator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as the vendor's API sees it (without the mock's own prefix, if any).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Header names (lowercase) and values; `authorization` is kept as its scheme only.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The requests of one mock, in arrival order, shareable between mocks so one log covers a whole suite.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<RecordedRequest>>>);

impl RequestLog {
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, request: RecordedRequest) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(request);
    }
}

/// Bodies larger than this are refused (no vendor call of ours comes near).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Records the request, body included, then hands it on unchanged.
pub(crate) async fn record(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n").into_response();
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default();
            // Never keep a credential: the scheme says enough.
            let value = if name == "authorization" || name == "x-api-token" {
                value.split_whitespace().next().filter(|_| name == "authorization").unwrap_or("<token>").to_owned()
            } else {
                value.to_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    log.push(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: bytes.to_vec(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
