//! How a new access token is minted.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use handoffd_contract::auth::StoredToken;
use handoffd_contract::crm::CrmError;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError, TokenResponse,
    TokenUrl,
};

use crate::http::{TokenHttp, TokenHttpError, refusal_text};

/// A vendor's way to a new access token.
#[async_trait]
pub trait Grant: Send + Sync {
    /// A new token. `refresh_token` is the newest one known (`None` for grants without one, e.g. JWT bearer).
    /// The answer's `refresh_token` is `Some` only when the vendor sent one (rotated or repeated); the caller
    /// keeps the one it used otherwise.
    async fn mint(&self, refresh_token: Option<&str>) -> Result<StoredToken, CrmError>;
}

type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// RFC 6749's refresh-token grant (section 6), via `oauth2`.
pub struct RefreshGrant {
    /// The vendor's name, for messages ("HubSpot refused the token refresh: ...").
    vendor: &'static str,
    client: TokenClient,
    http: TokenHttp,
}

impl RefreshGrant {
    /// `in_body`: the client credentials go as form fields (HubSpot, Zoho) rather than HTTP Basic (Pipedrive).
    pub fn new(
        vendor: &'static str,
        client_id: &str,
        client_secret: &str,
        token_url: TokenUrl,
        in_body: bool,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Self {
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_type(if in_body { AuthType::RequestBody } else { AuthType::BasicAuth })
            .set_token_uri(token_url);
        Self { vendor, client, http: TokenHttp::new(http, timeout) }
    }
}

#[async_trait]
impl Grant for RefreshGrant {
    async fn mint(&self, refresh_token: Option<&str>) -> Result<StoredToken, CrmError> {
        let Some(refresh_token) = refresh_token else {
            return Err(CrmError::Auth(format!("no {} refresh token is configured", self.vendor)));
        };
        let response: BasicTokenResponse = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| refresh_error(self.vendor, e))?;
        let expires_at = response.expires_in().and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| Utc::now() + d);
        Ok(StoredToken {
            access_token: response.access_token().secret().clone(),
            refresh_token: response.refresh_token().map(|r| r.secret().clone()),
            expires_at,
            instance_url: None,
            // oauth2 splits the answer's `scope` on spaces; joined again it is what the vendor sent.
            scope: response.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        })
    }
}

fn refresh_error(vendor: &str, e: RequestTokenError<TokenHttpError, BasicErrorResponse>) -> CrmError {
    match e {
        RequestTokenError::Request(TokenHttpError::Transport(e)) => {
            CrmError::Unavailable(format!("the {vendor} token refresh failed: {}", crate::describe(&e)))
        }
        RequestTokenError::Request(TokenHttpError::RateLimited { retry_after, body }) => {
            CrmError::RateLimited { retry_after, message: format!("the {vendor} token refresh: {body}") }
        }
        RequestTokenError::Request(TokenHttpError::Server { status, body }) => {
            CrmError::Unavailable(format!("the {vendor} token refresh failed with {status}: {body}"))
        }
        RequestTokenError::ServerResponse(r) => CrmError::Auth(format!("{vendor} refused the token refresh: {r}")),
        // Refusals outside RFC 6749's shape (HubSpot's `{"status":"BAD_REFRESH_TOKEN",...}`, Zoho's 200 with
        // `{"error":"invalid_code"}`) do not parse as a token or an error: the body says what is wrong.
        RequestTokenError::Parse(_, body) => {
            CrmError::Auth(format!("{vendor} refused the token refresh: {}", refusal_text(&body)))
        }
        RequestTokenError::Other(m) => CrmError::Auth(format!("{vendor} refused the token refresh: {m}")),
    }
}
