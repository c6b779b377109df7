//! Sessions from the token endpoint: the refresh-token flow (web-server flow's refresh) or the JWT bearer flow.
//!
//! Both are a form POST to `{login host}/services/oauth2/token`, answered with an access token and the org's
//! instance URL. They are sent here rather than through the `oauth2` crate: it has no JWT bearer grant and does
//! not keep the answer's `instance_url`. What is done with the answer (kept in the vault for every instance on
//! the store, replaced by one caller at a time, a rotated refresh token saved before anyone else may refresh) is
//! handoffd-oauth's [`SharedToken`]. Salesforce gives no expiry, so a session is used until it is refused
//! (401 `INVALID_SESSION_ID`), then replaced once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use handoffd_contract::auth::{StoredToken, TokenVault};
use handoffd_contract::crm::CrmError;
use handoffd_oauth::{SharedToken, describe, retry_after};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

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

    fn from_token(token: StoredToken) -> Option<Self> {
        Some(Self {
            instance_url: token.instance_url?,
            scopes: token.scope.map(|s| s.split_whitespace().map(str::to_owned).collect()),
            access_token: token.access_token,
        })
    }
}

/// How tokens are obtained.
pub enum Grant {
    Refresh { client_secret: String, refresh_token: String },
    Jwt { username: String, key: Box<EncodingKey> },
}

pub struct Auth {
    tokens: SharedToken,
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
        let configured_refresh_token = match &grant {
            Grant::Refresh { refresh_token, .. } => Some(refresh_token.clone()),
            Grant::Jwt { .. } => None,
        };
        let endpoint = TokenEndpoint {
            login_url: login_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            grant,
            http,
            timeout,
        };
        Self {
            tokens: SharedToken::new(connector_id, "Salesforce", Box::new(endpoint), vault, configured_refresh_token),
        }
    }

    /// The current session, fetching one if there is none.
    pub async fn session(&self) -> Result<Arc<Session>, CrmError> {
        let token = self.tokens.current().await?;
        let access = token.access_token.clone();
        match Session::from_token(token) {
            Some(session) => Ok(Arc::new(session)),
            // Stored by a version that did not keep the instance URL: a new session has one.
            None => self.replace(&access).await,
        }
    }

    /// After `rejected` was refused: a new session, unless another caller (or instance) replaced it meanwhile.
    pub async fn replace(&self, rejected: &str) -> Result<Arc<Session>, CrmError> {
        let token = self.tokens.replace(rejected).await?;
        Session::from_token(token)
            .map(Arc::new)
            .ok_or_else(|| CrmError::Protocol("the token answer had no instance_url".into()))
    }
}

/// `{login host}/services/oauth2/token`, with either grant.
struct TokenEndpoint {
    /// The login host, also the JWT's audience.
    login_url: String,
    client_id: String,
    grant: Grant,
    http: reqwest::Client,
    timeout: Duration,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

#[async_trait]
impl handoffd_oauth::Grant for TokenEndpoint {
    async fn mint(&self, refresh_token: Option<&str>) -> Result<StoredToken, CrmError> {
        let form: Vec<(&str, String)> = match &self.grant {
            Grant::Refresh { client_secret, refresh_token: configured } => vec![
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", self.client_id.clone()),
                ("client_secret", client_secret.clone()),
                ("refresh_token", refresh_token.unwrap_or(configured).to_owned()),
            ],
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
        let answer = self.token_request(&form).await?;
        Ok(StoredToken {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            expires_at: None,
            instance_url: Some(answer.instance_url.trim_end_matches('/').to_owned()),
            scope: answer.scope,
        })
    }
}

impl TokenEndpoint {
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
