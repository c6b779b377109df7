//! Pipedrive's OAuth 2.0 refresh-token grant (`POST https://oauth.pipedrive.com/oauth/token`, the app's
//! credentials in HTTP Basic).
//!
//! An access token is loaded from the vault on first use, refreshed a few minutes before it expires, refreshed by
//! one caller at a time (the others wait on the lock and reuse it), and saved with the refresh token the answer
//! carries, so a restart neither spends a refresh nor loses a rotated refresh token.

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

/// Refresh this long before the token expires, so no call goes out with a dying token.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct OAuthTokens {
    connector_id: String,
    client: TokenClient,
    http: TokenHttp,
    vault: Arc<dyn TokenVault>,
    refresh_token: String,
    state: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    loaded: bool,
    token: Option<StoredToken>,
}

impl OAuthTokens {
    pub fn new(
        connector_id: &str,
        credentials: (&str, &str, &str),
        token_url: TokenUrl,
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Self {
        let (client_id, client_secret, refresh_token) = credentials;
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            // Pipedrive takes the app's credentials as HTTP Basic authentication.
            .set_auth_type(AuthType::BasicAuth)
            .set_token_uri(token_url);
        Self {
            connector_id: connector_id.to_owned(),
            client,
            http: TokenHttp { http, timeout },
            vault,
            refresh_token: refresh_token.to_owned(),
            state: Mutex::new(TokenState::default()),
        }
    }

    /// The token to send now.
    pub async fn bearer(&self) -> Result<String, CrmError> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await;
        if let Some(token) = &state.token
            && is_fresh(token, Utc::now())
        {
            return Ok(token.access_token.clone());
        }
        self.refresh(&mut state).await
    }

    /// After Pipedrive refused `rejected`: a new token, unless another caller replaced it meanwhile.
    pub async fn replace(&self, rejected: &str) -> Result<String, CrmError> {
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
            Err(e) => tracing::warn!("Could not load the stored Pipedrive token of `{}`: {e}", self.connector_id),
        }
        state.loaded = true;
    }

    async fn refresh(&self, state: &mut TokenState) -> Result<String, CrmError> {
        tracing::debug!("Refreshing the Pipedrive access token of `{}`.", self.connector_id);
        let refresh_token =
            state.token.as_ref().and_then(|t| t.refresh_token.clone()).unwrap_or_else(|| self.refresh_token.clone());
        let response: BasicTokenResponse = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.clone()))
            .request_async(&self.http)
            .await
            .map_err(refresh_error)?;
        let expires_at = response.expires_in().and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| Utc::now() + d);
        // The answer may carry a new refresh token: it replaces the old one from now on.
        let refresh_token = response.refresh_token().map(|r| r.secret().clone()).unwrap_or(refresh_token);
        let token = StoredToken {
            access_token: response.access_token().secret().clone(),
            refresh_token: Some(refresh_token),
            expires_at,
        };
        if let Err(e) = self.vault.save(&self.connector_id, &token).await {
            tracing::error!("Could not save the refreshed Pipedrive token of `{}`: {e}", self.connector_id);
        }
        let access = token.access_token.clone();
        state.token = Some(token);
        Ok(access)
    }
}

fn is_fresh(token: &StoredToken, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
    token.expires_at.is_none_or(|at| at - margin > now)
}

fn refresh_error(e: RequestTokenError<TokenHttpError, oauth2::basic::BasicErrorResponse>) -> CrmError {
    match e {
        RequestTokenError::Request(TokenHttpError::Transport(e)) => {
            CrmError::Unavailable(format!("Pipedrive token refresh failed: {e}"))
        }
        RequestTokenError::Request(TokenHttpError::Status { status, body }) if status == 429 || status >= 500 => {
            CrmError::Unavailable(format!("Pipedrive token refresh failed with {status}: {body}"))
        }
        RequestTokenError::Request(TokenHttpError::Status { status, body }) => {
            CrmError::Auth(format!("Pipedrive refused the token refresh ({status}): {body}"))
        }
        RequestTokenError::ServerResponse(r) => CrmError::Auth(format!("Pipedrive refused the token refresh: {r}")),
        // An answer that is neither a token nor RFC 6749's error: the body says what is wrong.
        RequestTokenError::Parse(_, body) => CrmError::Auth(format!(
            "Pipedrive refused the token refresh: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )),
        RequestTokenError::Other(m) => CrmError::Auth(format!("Pipedrive refused the token refresh: {m}")),
    }
}

/// oauth2's HTTP client over our reqwest client (oauth2's own reqwest feature pins another reqwest). 429 and
/// 5xx come back as errors so they are classified as retriable.
pub struct TokenHttp {
    http: reqwest::Client,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("{0}")]
    Transport(reqwest::Error),
    #[error("status {status}: {body}")]
    Status { status: u16, body: String },
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
            if status.as_u16() == 429 || status.is_server_error() {
                let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                return Err(TokenHttpError::Status { status: status.as_u16(), body });
            }
            let mut out = http::Response::builder().status(status);
            if let Some(h) = out.headers_mut() {
                *h = headers;
            }
            out.body(body).map_err(|e| TokenHttpError::Status { status: status.as_u16(), body: e.to_string() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_inside_the_margin_is_not_fresh() {
        let now = Utc::now();
        let token = |secs: i64| StoredToken {
            access_token: "a".into(),
            refresh_token: None,
            expires_at: Some(now + chrono::Duration::seconds(secs)),
        };
        assert!(is_fresh(&token(3600), now));
        assert!(!is_fresh(&token(60), now));
    }
}
