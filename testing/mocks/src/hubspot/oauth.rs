//! `POST /oauth/v1/token` with the refresh_token grant. HubSpot's refresh tokens do not rotate: the answer
//! carries the same one back, unless the app is set to rotate them (`MockOAuthApp::rotate_refresh_tokens`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::correlation_id;
use crate::state::{IssuedToken, Shared};

pub(super) async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let app = &shared.oauth;
    if field("grant_type") != Some("refresh_token") {
        return refused("BAD_GRANT_TYPE", "missing or unsupported grant_type (the mock supports refresh_token)");
    }
    if field("client_id") != Some(app.client_id.as_str()) {
        return refused("BAD_CLIENT_ID", "missing or invalid client id");
    }
    if field("client_secret") != Some(app.client_secret.0.as_str()) {
        return refused("BAD_CLIENT_SECRET", "missing or invalid client secret");
    }
    let mut state = shared.lock();
    let accepted = state.current_refresh_token.clone().unwrap_or_else(|| app.refresh_token.0.clone());
    if field("refresh_token") != Some(accepted.as_str()) {
        if field("refresh_token").is_some_and(|offered| state.spent_refresh_tokens.contains(offered)) {
            state.spent_refresh_tokens_offered += 1;
        }
        return refused("BAD_REFRESH_TOKEN", "missing or invalid refresh token");
    }
    let refresh_token = if app.rotate_refresh_tokens {
        let next = format!("mock-rotated-{}", uuid::Uuid::new_v4().simple());
        state.current_refresh_token = Some(next.clone());
        state.spent_refresh_tokens.insert(accepted);
        next
    } else {
        accepted
    };
    let access_token = format!("mock-oauth-{}", uuid::Uuid::new_v4().simple());
    let issued = IssuedToken {
        // One account per app: a new token does not get a fresh rate-limit window.
        account: format!("oauth-app-{}", app.client_id),
        expires_at: Instant::now() + Duration::from_secs(app.expires_in_secs),
    };
    state.issued_tokens.insert(access_token.clone(), issued);
    state.counters.oauth_tokens_issued += 1;
    drop(state);
    Json(json!({
        "token_type": "bearer",
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_in": app.expires_in_secs,
    }))
    .into_response()
}

fn refused(status: &str, message: &str) -> Response {
    let body = json!({ "status": status, "message": message, "correlationId": correlation_id() });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
