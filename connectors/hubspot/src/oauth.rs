//! Where the bearer token comes from: a private app's fixed token, or OAuth2 refresh.
//!
//! OAuth tokens are loaded from the vault on first use, refreshed before they expire (HubSpot
//! says a 401 is not a reliable signal to refresh), refreshed at most once at a time (callers
//! wait on the lock and then reuse the new token), and every refreshed token is saved so a
//! restart neither spends a refresh nor loses a rotated refresh token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::auth::{StoredToken, TokenVault};
use handoffd_contract::crm::CrmError;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse,
    RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;

use crate::classify::{api_message, describe, retry_after};
use crate::config::OAuthConfig;

/// Refresh this long before the token expires, so no call goes out with a dying token.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub enum TokenSource {
    /// A private app's access token: it does not expire.
    Fixed(String),
    OAuth(Box<OAuthTokens>),
}

impl TokenSource {
    /// The token to send now.
    pub async fn bearer(&self) -> Result<String, CrmError> {
        match self {
            Self::Fixed(token) => Ok(token.clone()),
            Self::OAuth(oauth) => oauth.bearer().await,
        }
    }

    /// After a 401 with `rejected`: a new token to retry with once, or `None` (fixed tokens).
    pub async fn after_unauthorized(&self, rejected: &str) -> Result<Option<String>, CrmError> {
        match self {
            Self::Fixed(_) => Ok(None),
            Self::OAuth(oauth) => oauth.replace(rejected).await.map(Some),
        }
    }
}

pub struct OAuthTokens {
    connector_id: String,
    client: TokenClient,
    http: TokenHttp,
    vault: Arc<dyn TokenVault>,
    configured_refresh_token: String,
    state: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    /// Whether the vault has been read (once, on first use).
    loaded: bool,
    token: Option<StoredToken>,
}

impl OAuthTokens {
    pub fn new(
        connector_id: &str,
        config: &OAuthConfig,
        token_url: TokenUrl,
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Self {
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.clone()))
            // HubSpot takes the client credentials as form fields, not HTTP Basic auth.
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        Self {
            connector_id: connector_id.to_owned(),
            client,
            http: TokenHttp { http, timeout },
            vault,
            configured_refresh_token: config.refresh_token.clone(),
            state: Mutex::new(TokenState::default()),
        }
    }

    async fn bearer(&self) -> Result<String, CrmError> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await;
        if let Some(token) = &state.token
            && is_fresh(token, Utc::now())
        {
            return Ok(token.access_token.clone());
        }
        self.refresh(&mut state).await
    }

    /// Refreshes unless another caller already replaced the rejected token meanwhile.
    async fn replace(&self, rejected: &str) -> Result<String, CrmError> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await;
        if let Some(token) = &state.token
            && token.access_token != rejected
            && is_fresh(token, Utc::now())
        {
            return Ok(token.access_token.clone());
        }
        self.refresh(&mut state).await
    }

    async fn load(&self, state: &mut TokenState) {
        if state.loaded {
            return;
        }
        match self.vault.load(&self.connector_id).await {
            Ok(token) => state.token = token,
            // Not fatal: a refresh gets a new token (and is saved again).
            Err(e) => tracing::warn!("Could not load the stored HubSpot token of `{}`: {e}", self.connector_id),
        }
        state.loaded = true;
    }

    async fn refresh(&self, state: &mut TokenState) -> Result<String, CrmError> {
        let refresh_token = state
            .token
            .as_ref()
            .and_then(|t| t.refresh_token.clone())
            .unwrap_or_else(|| self.configured_refresh_token.clone());
        tracing::debug!("Refreshing the HubSpot access token of `{}`.", self.connector_id);
        let response: BasicTokenResponse = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.clone()))
            .request_async(&self.http)
            .await
            .map_err(refresh_error)?;
        let expires_at = response.expires_in().and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| Utc::now() + d);
        let token = StoredToken {
            access_token: response.access_token().secret().clone(),
            refresh_token: Some(response.refresh_token().map(|r| r.secret().clone()).unwrap_or(refresh_token)),
            expires_at,
        };
        if let Err(e) = self.vault.save(&self.connector_id, &token).await {
            // The token is still good for this process; a restart will refresh again.
            tracing::error!("Could not save the refreshed HubSpot token of `{}`: {e}", self.connector_id);
        }
        let access = token.access_token.clone();
        state.token = Some(token);
        Ok(access)
    }
}

/// Usable for at least `REFRESH_MARGIN` more (a token without an expiry is used until a 401).
fn is_fresh(token: &StoredToken, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
    token.expires_at.is_none_or(|at| at - margin > now)
}

fn refresh_error(e: RequestTokenError<TokenHttpError, oauth2::basic::BasicErrorResponse>) -> CrmError {
    match e {
        RequestTokenError::Request(TokenHttpError::Transport(e)) => {
            CrmError::Unavailable(format!("token refresh failed: {}", describe(&e)))
        }
        RequestTokenError::Request(TokenHttpError::RateLimited { retry_after, message }) => {
            CrmError::RateLimited { retry_after, message }
        }
        RequestTokenError::Request(TokenHttpError::Server { status, message }) => {
            CrmError::Unavailable(format!("token refresh failed with {status}: {message}"))
        }
        RequestTokenError::ServerResponse(r) => CrmError::Auth(format!("token refresh refused: {r}")),
        // HubSpot's refusal (`{"status":"BAD_REFRESH_TOKEN","message":...}`) is not RFC 6749's
        // shape, so oauth2 reports it as unparseable: the message is still HubSpot's.
        RequestTokenError::Parse(_, body) => {
            CrmError::Auth(format!("token refresh refused: {}", api_message(&body).unwrap_or_default()))
        }
        RequestTokenError::Other(m) => CrmError::Auth(format!("token refresh refused: {m}")),
    }
}

/// oauth2's HTTP client, over our reqwest client (oauth2's own reqwest feature pins another
/// reqwest version). 429 and 5xx become transport-level errors so they are classified as
/// retriable; other statuses go to oauth2, which reads the error body.
pub struct TokenHttp {
    http: reqwest::Client,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("{0}")]
    Transport(reqwest::Error),
    #[error("rate limited: {message}")]
    RateLimited { retry_after: Option<Duration>, message: String },
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
}

impl<'c> AsyncHttpClient<'c> for TokenHttp {
    type Error = TokenHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TokenHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .timeout(self.timeout)
                .send()
                .await
                .map_err(TokenHttpError::Transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(TokenHttpError::Transport)?.to_vec();
            if status.as_u16() == 429 {
                let message = api_message(&body).unwrap_or_default();
                return Err(TokenHttpError::RateLimited { retry_after: retry_after(&headers), message });
            }
            if status.is_server_error() {
                let message = api_message(&body).unwrap_or_default();
                return Err(TokenHttpError::Server { status: status.as_u16(), message });
            }
            let mut out = http::Response::builder().status(status);
            if let Some(h) = out.headers_mut() {
                *h = headers;
            }
            out.body(body).map_err(|e| TokenHttpError::Server { status: status.as_u16(), message: e.to_string() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_inside_the_margin_is_not_fresh() {
        let now = Utc::now();
        let token = |expires_at| StoredToken { access_token: "a".into(), refresh_token: None, expires_at };
        assert!(is_fresh(&token(Some(now + chrono::Duration::minutes(30))), now));
        assert!(!is_fresh(&token(Some(now + chrono::Duration::minutes(4))), now));
        assert!(!is_fresh(&token(Some(now - chrono::Duration::minutes(1))), now));
        assert!(is_fresh(&token(None), now));
    }
}
