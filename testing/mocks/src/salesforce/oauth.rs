//! `POST /services/oauth2/token` on the login host: the refresh-token grant and the JWT bearer grant (RS256,
//! checked against the connected app's certificate). The answer names the instance URL every API call goes to.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::org::Session;
use crate::state::Shared;

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

pub(super) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let login_url = format!("http://{host}/salesforce/login");
    let mut state = shared.lock();
    let org = &mut state.salesforce;
    let options = &org.options;
    match field("grant_type") {
        Some("refresh_token") => {
            if field("client_id") != Some(options.client_id.as_str()) {
                return refused("invalid_client_id", "client identifier invalid");
            }
            if field("client_secret") != Some(options.client_secret.0.as_str()) {
                return refused("invalid_client", "invalid client credentials");
            }
            if field("refresh_token") != Some(options.refresh_token.0.as_str()) {
                return refused("invalid_grant", "expired access/refresh token");
            }
        }
        Some(JWT_GRANT) => {
            let Some(public_key) = &options.jwt_public_key_pem else {
                return refused("invalid_grant", "invalid assertion");
            };
            let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(public_key.as_bytes()) else {
                return refused("invalid_grant", "invalid assertion");
            };
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.set_audience(&[login_url.as_str()]);
            validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            let assertion = field("assertion").unwrap_or_default();
            let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
                Ok(decoded) => decoded.claims,
                Err(_) => return refused("invalid_grant", "invalid assertion"),
            };
            if claims.iss != options.client_id {
                return refused("invalid_client_id", "client identifier invalid");
            }
            if claims.sub != options.jwt_username {
                return refused("invalid_grant", "user hasn't approved this consumer");
            }
        }
        _ => return refused("unsupported_grant_type", "grant type not supported"),
    }
    let access_token = format!("00D000000000001!mock.{}", uuid::Uuid::new_v4().simple());
    org.sessions.insert(access_token.clone(), Session { expired: false });
    org.tokens_issued += 1;
    state.counters.oauth_tokens_issued += 1;
    let scope = state.salesforce.options.scope.clone();
    let user = state.salesforce.api_user().unwrap_or_default();
    Json(json!({
        "access_token": access_token,
        "instance_url": format!("http://{host}/salesforce"),
        "id": format!("{login_url}/id/00D000000000001AAA/{user}"),
        "token_type": "Bearer",
        "issued_at": Utc::now().timestamp_millis().to_string(),
        "signature": "bW9jay1zaWduYXR1cmU=",
        "scope": scope,
    }))
    .into_response()
}

fn refused(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description }))).into_response()
}
