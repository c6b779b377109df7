//! The Graph API send proxy: `/graph/{version}/{phone_number_id}/messages` on `server.listen`.
//!
//! A bot points its Graph API base URL here. The request goes on unchanged (method, headers
//! with the bot's own bearer token, body) to the `whatsapp_cloud` connector's `base_url`, and
//! Meta's answer comes back unchanged, with no retry of ours: the bot owns its retries, and a
//! second send would message the customer twice. Once Meta has accepted a message (a `wamid`
//! in the answer), the send is recorded as an `ai` turn, off the answer's path: recording
//! never delays or changes the answer.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::AppState;
use crate::registry::ProxiedSend;
use crate::store::NewInboxEvent;

/// Headers that belong to one connection, not to the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

fn end_to_end(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str())
}

pub async fn forward(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Only the messages path of a configured number, only to its connector: no open relay.
    let Some(path) = handoffd_whatsapp_cloud::parse_proxy_path(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not a Graph API messages path").into_response();
    };
    let Some((connector_id, connector)) =
        state.connectors.whatsapp.iter().find(|(_, c)| c.serves_phone_number(&path.phone_number_id))
    else {
        return (StatusCode::NOT_FOUND, "unknown phone_number_id").into_response();
    };
    let mut url = format!("{}{}", connector.config().base_url.trim_end_matches('/'), path.upstream_path());
    if let Some(query) = uri.query() {
        url.push('?');
        url.push_str(query);
    }
    let mut upstream = state.http.request(method, &url).body(body.clone());
    for (name, value) in headers.iter().filter(|(name, _)| end_to_end(name)) {
        upstream = upstream.header(name, value);
    }
    let started = std::time::Instant::now();
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(error) => {
            metrics::counter!("handoffd_proxy_upstream_errors_total").increment(1);
            let status = if error.is_timeout() { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::BAD_GATEWAY };
            tracing::warn!(connector = %connector_id, error = %error.without_url(), "The Graph API did not answer a proxied send.");
            return (status, "the Graph API did not answer").into_response();
        }
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let answer_body = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(connector = %connector_id, error = %error.without_url(), "The Graph API's answer broke off.");
            return (StatusCode::BAD_GATEWAY, "the Graph API's answer broke off").into_response();
        }
    };
    metrics::histogram!("handoffd_proxy_upstream_seconds").record(started.elapsed().as_secs_f64());

    if status.is_success() {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let agent = bearer.is_some_and(|token| connector.config().agent_access_tokens.iter().any(|t| t == token));
        record(&state, connector_id.clone(), &body, &answer_body, agent);
    }
    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() = status;
    for (name, value) in answer_headers.iter().filter(|(name, _)| end_to_end(name)) {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// Keep the accepted send in the inbox, in the background.
fn record(state: &AppState, connector_id: String, request: &Bytes, answer: &Bytes, agent: bool) {
    let (Ok(request), Ok(response)) = (std::str::from_utf8(request), std::str::from_utf8(answer)) else {
        return;
    };
    let send = ProxiedSend { request: request.to_owned(), response: response.to_owned(), agent };
    let event = NewInboxEvent {
        connector_id: connector_id.clone(),
        source: "proxied_send".to_owned(),
        received_at: Utc::now(),
        headers: "{}".to_owned(),
        body: serde_json::to_vec(&send).unwrap_or_default(),
    };
    let inbox = state.inbox.clone();
    tokio::spawn(async move {
        if let Err(error) = inbox.commit(event).await {
            metrics::counter!("handoffd_proxy_record_failures_total").increment(1);
            tracing::error!(connector = %connector_id, %error, "A proxied send was answered but could not be recorded.");
        }
    });
}
