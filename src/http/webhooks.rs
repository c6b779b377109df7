//! `/webhooks/{id}`: verify on the raw bytes, commit to the inbox, then answer. Parsing happens
//! later, on the stored body, so a slow or failing parser never costs an acknowledgement.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::Utc;
use handoffd_contract::webhook::{Handshake, RawRequest, VerifyError};

use super::AppState;
use crate::store::NewInboxEvent;

/// Headers worth keeping with a raw event (never credentials or signatures).
const KEPT_HEADERS: &[&str] = &["content-type", "user-agent"];

pub async fn handshake(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> (StatusCode, String) {
    let Some(entry) = state.connectors.webhooks.get(&id) else {
        return (StatusCode::NOT_FOUND, format!("no connector `{id}`"));
    };
    match entry.source.handshake(query.as_deref().unwrap_or("")) {
        Handshake::Accept(challenge) => {
            tracing::info!(connector = %id, "Answered a webhook subscription handshake.");
            (StatusCode::OK, challenge)
        }
        Handshake::Forbidden => {
            tracing::warn!(connector = %id, "Refused a webhook handshake with a wrong verify token.");
            (StatusCode::FORBIDDEN, "wrong verify token".to_owned())
        }
        Handshake::NotAHandshake => (StatusCode::BAD_REQUEST, "not a handshake".to_owned()),
    }
}

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(entry) = state.connectors.webhooks.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such connector");
    };
    let received_at = Utc::now();
    let verified = entry.source.verify(&raw_request(&method, &uri, &headers, &body, received_at));
    accept(&state, id, "webhook", verified, &headers, body, received_at).await
}

/// `POST /webhooks/{id}/turns`: the AI's or an agent's side of a chat, signed like Meta's
/// webhooks with the connector's app secret.
pub async fn receive_turn(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(whatsapp) = state.connectors.whatsapp.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such connector");
    };
    let received_at = Utc::now();
    let verified = whatsapp.verify_turn(&raw_request(&method, &uri, &headers, &body, received_at));
    accept(&state, id, "turn", verified, &headers, body, received_at).await
}

fn raw_request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
    received_at: chrono::DateTime<Utc>,
) -> RawRequest<'a> {
    RawRequest { method, path: uri.path(), query: uri.query().unwrap_or(""), headers, body, received_at }
}

/// Refuse an unverified request (nothing stored), or commit it and answer once it is durable.
async fn accept(
    state: &AppState,
    connector_id: String,
    source: &str,
    verified: Result<(), VerifyError>,
    headers: &HeaderMap,
    body: Bytes,
    received_at: chrono::DateTime<Utc>,
) -> (StatusCode, &'static str) {
    if let Err(error) = verified {
        metrics::counter!("handoffd_webhooks_refused_total", "connector" => connector_id.clone()).increment(1);
        tracing::warn!(connector = %connector_id, %source, %error, "Refused a request: bad signature.");
        return (StatusCode::UNAUTHORIZED, "bad signature");
    }
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), serde_json::Value::from(value)))
        })
        .collect();
    let event = NewInboxEvent {
        connector_id: connector_id.clone(),
        source: source.to_owned(),
        received_at,
        headers: serde_json::Value::Object(kept).to_string(),
        body: body.to_vec(),
    };
    match state.inbox.commit(event).await {
        Ok(_) => {
            metrics::counter!("handoffd_webhooks_accepted_total", "connector" => connector_id).increment(1);
            (StatusCode::OK, "ok")
        }
        Err(error) => {
            // Not acknowledged, so the vendor delivers it again later: nothing is lost.
            tracing::error!(connector = %connector_id, %error, "Could not commit a webhook; answering 503.");
            (StatusCode::SERVICE_UNAVAILABLE, "not stored, try again")
        }
    }
}
