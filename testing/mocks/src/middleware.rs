//! Layers shared by every vendor route: request counting, the answer delay and fault injection.

use std::sync::Arc;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::connection::ConnectionKill;
use super::faults::{Fault, INJECTED_REJECTION, UNDOCUMENTED_ANSWER};
use super::hubspot::error as hubspot_error;
use super::hubspot::limits::Policy;
use super::salesforce::error as salesforce_error;
use super::state::Shared;

/// Whose error shapes an injected fault uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    HubSpot,
    Meta,
    Salesforce,
}

/// State of the fault layer: the mock, and whose errors to imitate.
#[derive(Debug, Clone)]
pub(crate) struct FaultScope {
    pub shared: Arc<Shared>,
    pub vendor: Vendor,
}

/// Counts each request under its route (`POST /hubspot/crm/v3/objects/tasks/batch/create`), then holds it for the
/// configured answer delay, as a real portal takes its time.
pub(crate) async fn record_request(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or(request.uri().path(), MatchedPath::as_str);
    let endpoint = format!("{} {}", request.method(), route);
    *shared.lock().counters.requests_per_endpoint.entry(endpoint).or_default() += 1;
    crate::AnswerDelay::wait(shared.answer_delay).await;
    next.run(request).await
}

/// Rolls the fault dice for the request and acts on them.
pub(crate) async fn inject_faults(State(scope): State<FaultScope>, request: Request, next: Next) -> Response {
    let decision = scope.shared.lock().faults.decide(request.uri().path());
    if let Some(delay) = decision.delay {
        scope.shared.lock().counters.faults_injected.delays += 1;
        tokio::time::sleep(delay).await;
    }
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    match decision.fault {
        Fault::None => next.run(request).await,
        Fault::TooManyRequests => {
            scope.shared.lock().counters.faults_injected.status_429 += 1;
            too_many_requests(scope.vendor)
        }
        Fault::ServerError(status) => {
            scope.shared.lock().counters.faults_injected.status_5xx += 1;
            server_error(scope.vendor, status)
        }
        Fault::Rejected => {
            scope.shared.lock().counters.faults_injected.status_400 += 1;
            rejected(scope.vendor)
        }
        Fault::Undocumented => {
            scope.shared.lock().counters.faults_injected.undocumented += 1;
            // The same for every vendor: no vendor answers a JSON array of strings where the mock sends it.
            (StatusCode::OK, Json(json!([UNDOCUMENTED_ANSWER]))).into_response()
        }
        Fault::Reset => {
            scope.shared.lock().counters.faults_injected.resets += 1;
            end_without_answer(kill, true).await
        }
        Fault::LostResponse { hang } => {
            // The write happens; only its answer is lost.
            let answer = next.run(request).await;
            scope.shared.lock().counters.faults_injected.lost_responses += 1;
            drop(answer);
            tokio::time::sleep(hang).await;
            end_without_answer(kill, false).await
        }
    }
}

/// Ends the connection the request came on; never resolves when it can. Without the accept loop's handle
/// (a router served some other way) there is no connection to end, so it answers 503 instead.
async fn end_without_answer(kill: Option<ConnectionKill>, reset: bool) -> Response {
    let Some(kill) = kill else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no connection to drop\n").into_response();
    };
    if reset {
        kill.reset();
    } else {
        kill.close();
    }
    std::future::pending::<Response>().await
}

fn too_many_requests(vendor: Vendor) -> Response {
    match vendor {
        Vendor::Salesforce => salesforce_error::too_many_requests(),
        Vendor::HubSpot => {
            let mut response = hubspot_error::rate_limited(Policy::TenSecondlyRolling);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Vendor::Meta => {
            let body = json!({"error": {
                "message": "(#130429) Rate limit hit",
                "type": "OAuthException",
                "code": 130429,
                "fbtrace_id": fbtrace_id(),
            }});
            (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
        }
    }
}

/// The vendor's answer to a request it refuses for good: HubSpot's VALIDATION_ERROR, Meta's invalid parameter.
fn rejected(vendor: Vendor) -> Response {
    match vendor {
        Vendor::Salesforce => salesforce_error::rejected(),
        Vendor::HubSpot => hubspot_error::validation_error(INJECTED_REJECTION),
        Vendor::Meta => {
            let body = json!({"error": {
                "message": format!("(#100) Invalid parameter: {INJECTED_REJECTION}"),
                "type": "OAuthException",
                "code": 100,
                "fbtrace_id": fbtrace_id(),
            }});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

fn server_error(vendor: Vendor, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match (vendor, status) {
        (Vendor::Salesforce, _) => salesforce_error::server_error(status),
        // HubSpot's 502s come from its edge, as HTML.
        (Vendor::HubSpot, StatusCode::BAD_GATEWAY) => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
        )
            .into_response(),
        (Vendor::HubSpot, _) => hubspot_error::error(status, "INTERNAL_ERROR", "internal error"),
        (Vendor::Meta, _) => {
            let body = json!({"error": {
                "message": "An unexpected error has occurred. Please retry your request later.",
                "type": "OAuthException",
                "is_transient": true,
                "code": 2,
                "fbtrace_id": fbtrace_id(),
            }});
            (status, Json(body)).into_response()
        }
    }
}

pub(crate) fn fbtrace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..11].to_owned()
}
