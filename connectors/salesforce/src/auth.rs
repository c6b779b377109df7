//! Sessions from the token endpoint: the refresh-token flow (web-server flow's refresh) or the JWT bearer flow.
//!
//! Both are a form POST to `{login host}/services/oauth2/token`, answered with an access token and the org's
//! instance URL. They are sent here rather than through the `oauth2` crate: it has no JWT bearer grant and does
//! not keep the answer's `instance_url`. Salesforce gives no expiry, so a session is used until it is refused
//! (401 `INVALID_SESSION_ID`), then replaced once; replacements are single-flight, and a rotated refresh token is
//! saved to the vault so a restart does not use a dead one.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use handoffd_contract::auth::{StoredToken, TokenVault};
use handoffd_contract::crm::CrmError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::classify::{describe, retry_after};
use crate::wire::{OAuthError, TokenAnswer};

/// The scopes that allow REST API calls: `api`, or `full` which includes it.
const API_SCOPES: [&str; 2] = ["api", "full"];

/// How long a JWT assertion is valid: Salesforce accepts at most three minutes.
const ASSERTION_LIFETIME: chrono::Duration = chrono::Duration::minutes(3);

/// An access token and where to use it.
pub struct Session {
    pub access_token: String,
    /// `https://yourorg.my.salesforce.com`, without a trailing slash.
    pub instance_url: String,
    /// The granted scopes, when the answer listed them.
    pub scopes: Option<Vec<String>>,
}

impl Session {
    /// `Err` naming the missing scope when the token cannot call the REST API.
    pub fn check_api_scope(&self) -> Result<(), CrmError> {
        let Some(scopes) = &self.scopes else { return Ok(()) };
        if scopes.iter().any(|s| API_SCOPES.contains(&s.as_str())) {
            return Ok(());
        }
        Err(CrmError::Auth(format!(
            "the connected app's token lacks the `api` scope (\"Manage user data via APIs\"), which every call \
             needs; it has: {}. Add the scope to the connected app and authorise it again",
            if scopes.is_empty() { "none".to_owned() } else { scopes.join(" ") }
        )))
    }
}

/// How tokens are obtained.
pub enum Grant {
    Refresh { client_secret: String, refresh_token: String },
    Jwt { username: String, key: Box<EncodingKey> },
}

pub struct Auth {
    connector_id: String,
    /// The login host, also the JWT's audience.
    login_url: String,
    client_id: String,
    grant: Grant,
    http: reqwest::Client,
    timeout: Duration,
    vault: Arc<dyn TokenVault>,
    state: Mutex<AuthState>,
}

#[derive(Default)]
struct AuthState {
    /// Whether the vault has been read (once, for a rotated refresh token).
    loaded: bool,
    rotated_refresh_token: Option<String>,
    session: Option<Arc<Session>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

impl Auth {
    pub fn new(
        connector_id: &str,
        login_url: &str,
        client_id: &str,
        grant: Grant,
        http: reqwest::Client,
        timeout: Duration,
        vault: Arc<dyn TokenVault>,
    ) -> Self {
        Self {
            connector_id: connector_id.to_owned(),
            login_url: login_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            grant,
            http,
            timeout,
            vault,
            state: Mutex::new(AuthState::default()),
        }
    }

    /// The current session, fetching one if there is none.
    pub async fn session(&self) -> Result<Arc<Session>, CrmError> {
        let mut state = self.state.lock().await;
        if let Some(session) = &state.session {
            return Ok(session.clone());
        }
        self.fetch(&mut state).await
    }

    /// After `rejected` was refused: a new session, unless another caller replaced it meanwhile.
    pub async fn replace(&self, rejected: &str) -> Result<Arc<Session>, CrmError> {
        let mut state = self.state.lock().await;
        if let Some(session) = &state.session
            && session.access_token != rejected
        {
            return Ok(session.clone());
        }
        state.session = None;
        self.fetch(&mut state).await
    }

    async fn fetch(&self, state: &mut AuthState) -> Result<Arc<Session>, CrmError> {
        let form: Vec<(&str, String)> = match &self.grant {
            Grant::Refresh { client_secret, refresh_token } => {
                if !state.loaded {
                    match self.vault.load(&self.connector_id).await {
                        Ok(stored) => state.rotated_refresh_token = stored.and_then(|t| t.refresh_token),
                        Err(e) => {
                            tracing::warn!("Could not load the stored Salesforce token of `{}`: {e}", self.connector_id)
                        }
                    }
                    state.loaded = true;
                }
                let refresh_token = state.rotated_refresh_token.clone().unwrap_or_else(|| refresh_token.clone());
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("client_id", self.client_id.clone()),
                    ("client_secret", client_secret.clone()),
                    ("refresh_token", refresh_token),
                ]
            }
            Grant::Jwt { username, key } => {
                let claims = Claims {
                    iss: &self.client_id,
                    sub: username,
                    aud: &self.login_url,
                    exp: (Utc::now() + ASSERTION_LIFETIME).timestamp(),
                };
                let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
                    .map_err(|e| CrmError::Auth(format!("could not sign the JWT assertion: {e}")))?;
                vec![("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()), ("assertion", assertion)]
            }
        };
        tracing::debug!("Requesting a Salesforce session for `{}`.", self.connector_id);
        let answer = self.token_request(&form).await?;
        if let (Grant::Refresh { .. }, Some(rotated)) = (&self.grant, &answer.refresh_token) {
            let stored = StoredToken {
                access_token: answer.access_token.clone(),
                refresh_token: Some(rotated.clone()),
                expires_at: None,
            };
            if let Err(e) = self.vault.save(&self.connector_id, &stored).await {
                tracing::error!("Could not save the rotated Salesforce refresh token of `{}`: {e}", self.connector_id);
            }
            state.rotated_refresh_token = Some(rotated.clone());
        }
        let session = Arc::new(Session {
            access_token: answer.access_token,
            instance_url: answer.instance_url.trim_end_matches('/').to_owned(),
            scopes: answer.scope.map(|s| s.split_whitespace().map(str::to_owned).collect()),
        });
        state.session = Some(session.clone());
        Ok(session)
    }

    async fn token_request(&self, form: &[(&str, String)]) -> Result<TokenAnswer, CrmError> {
        let url = format!("{}/services/oauth2/token", self.login_url);
        let response = self
            .http
            .post(url)
            .form(form)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| CrmError::Unavailable(format!("the token request failed: {}", describe(&e))))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| CrmError::Unavailable(format!("the token answer was cut off: {}", describe(&e))))?;
        let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned();
        if status.as_u16() == 429 {
            return Err(CrmError::RateLimited {
                retry_after: retry_after(&headers),
                message: format!("the token request: {}", text()),
            });
        }
        if status.is_server_error() {
            return Err(CrmError::Unavailable(format!("the token request failed with {status}: {}", text())));
        }
        if !status.is_success() {
            let refusal = match serde_json::from_slice::<OAuthError>(&body) {
                Ok(e) => format!("{}: {}", e.error, e.error_description.unwrap_or_default()),
                Err(_) => text(),
            };
            return Err(CrmError::Auth(format!("Salesforce refused the token request ({status}): {refusal}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| CrmError::Protocol(format!("the token answer: {e}; the answer was: {}", text())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(scopes: Option<&str>) -> Session {
        Session {
            access_token: "t".into(),
            instance_url: "https://x".into(),
            scopes: scopes.map(|s| s.split_whitespace().map(str::to_owned).collect()),
        }
    }

    #[test]
    fn a_token_without_the_api_scope_is_named() {
        assert!(session(Some("api refresh_token")).check_api_scope().is_ok());
        assert!(session(Some("full")).check_api_scope().is_ok());
        assert!(session(None).check_api_scope().is_ok());
        let error = session(Some("refresh_token openid")).check_api_scope().unwrap_err();
        assert!(matches!(&error, CrmError::Auth(m) if m.contains("`api` scope") && m.contains("refresh_token openid")));
    }
}
