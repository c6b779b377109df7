//! The WhatsApp Cloud API send route, `POST /graph/{version}/{phone_number_id}/messages`, answering in Meta's
//! shape. Any bearer token is accepted (the mock checks only that there is one).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::middleware::{FaultScope, Vendor, fbtrace_id, inject_faults, record_request};
use super::report::GraphMessage;
use super::state::Shared;

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/graph/{version}/{phone_number_id}/messages", post(send))
        .route_layer(from_fn_with_state(FaultScope { shared: shared.clone(), vendor: Vendor::Meta }, inject_faults))
        .route_layer(from_fn_with_state(shared, record_request))
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty());
    if !has_token {
        return meta_error(StatusCode::UNAUTHORIZED, 104, "An access token is required to request this resource.");
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return meta_error(StatusCode::BAD_REQUEST, 100, "(#100) The request body is not valid JSON.");
    };
    if message.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return meta_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter messaging_product is required.");
    }
    let Some(to) = message.get("to").and_then(Value::as_str).filter(|to| !to.is_empty()) else {
        return meta_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter to is required.");
    };
    let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
    let wamid = format!("wamid.MOCK{}", uuid::Uuid::new_v4().simple().to_string().to_uppercase());
    let template = message.get("template");
    let parameters = template
        .and_then(|t| t.get("components"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|component| component.get("type").and_then(Value::as_str) == Some("body"))
        .flat_map(|component| component.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|parameter| parameter.get("text").and_then(Value::as_str).map(str::to_owned))
        .collect();
    shared.lock().graph_messages.push(GraphMessage {
        phone_number_id,
        to: to.to_owned(),
        wamid: wamid.clone(),
        kind: message.get("type").and_then(Value::as_str).unwrap_or("text").to_owned(),
        template: template.and_then(|t| t.get("name")).and_then(Value::as_str).map(str::to_owned),
        parameters,
    });
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": wa_id }],
        "messages": [{ "id": wamid }],
    }))
    .into_response()
}

fn meta_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({ "error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": fbtrace_id(),
    }});
    (status, Json(body)).into_response()
}
