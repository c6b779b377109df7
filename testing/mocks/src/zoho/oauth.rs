//! The accounts server's `POST /oauth/v2/token` with the refresh_token grant. Zoho answers a refused grant with
//! 200 and `{"error": ...}`, not with RFC 6749's 400; its refresh tokens do not rotate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Zoho;

pub(super) async fn token(State(zoho): State<Arc<Zoho>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    // Zoho takes the grant's fields as query parameters or as a form.
    let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    fields.extend(url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned());
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let options = &zoho.options;
    if field("grant_type") != Some("refresh_token") {
        return Json(json!({"error": "unsupported_grant_type"})).into_response();
    }
    if field("client_id") != Some(options.client_id.as_str())
        || field("client_secret") != Some(options.client_secret.as_str())
    {
        return Json(json!({"error": "invalid_client"})).into_response();
    }
    if field("refresh_token") != Some(options.refresh_token.as_str()) {
        return Json(json!({"error": "invalid_code"})).into_response();
    }
    let access_token = format!("1000.{}", uuid::Uuid::new_v4().simple());
    {
        let mut state = zoho.lock();
        state.tokens.insert(access_token.clone(), Instant::now() + Duration::from_secs(options.token_lifetime_secs));
        state.tokens_issued += 1;
    }
    Json(json!({
        "access_token": access_token,
        "scope": options.scope,
        "api_domain": "https://www.zohoapis.com",
        "token_type": "Bearer",
        "expires_in": options.token_lifetime_secs,
    }))
    .into_response()
}
