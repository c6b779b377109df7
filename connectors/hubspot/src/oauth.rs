//! Where the bearer token comes from: a private app's fixed token, or OAuth2 refresh.
//!
//! OAuth tokens are handoffd-oauth's [`SharedToken`]: kept in the vault (shared by every instance on the
//! store), refreshed before they expire (HubSpot says a 401 is not a reliable signal to refresh), by one caller
//! at a time, the rotated refresh token saved before anyone else may refresh.

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::auth::TokenVault;
use handoffd_contract::crm::CrmError;
use handoffd_oauth::TokenUrl;
use handoffd_oauth::{RefreshGrant, SharedToken};

use crate::config::OAuthConfig;

pub use handoffd_oauth::REFRESH_MARGIN;

pub enum TokenSource {
    /// A private app's access token: it does not expire.
    Fixed(String),
    OAuth(Box<SharedToken>),
}

impl TokenSource {
    pub fn oauth(
        connector_id: &str,
        config: &OAuthConfig,
        token_url: TokenUrl,
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Self {
        // HubSpot takes the client credentials as form fields, not HTTP Basic auth.
        let grant =
            RefreshGrant::new("HubSpot", &config.client_id, &config.client_secret, token_url, true, http, timeout);
        Self::OAuth(Box::new(SharedToken::new(
            connector_id,
            "HubSpot",
            Box::new(grant),
            vault,
            Some(config.refresh_token.clone()),
        )))
    }

    /// The token to send now.
    pub async fn bearer(&self) -> Result<String, CrmError> {
        match self {
            Self::Fixed(token) => Ok(token.clone()),
            Self::OAuth(oauth) => Ok(oauth.current().await?.access_token),
        }
    }

    /// After a 401 with `rejected`: a new token to retry with once, or `None` (fixed tokens).
    pub async fn after_unauthorized(&self, rejected: &str) -> Result<Option<String>, CrmError> {
        match self {
            Self::Fixed(_) => Ok(None),
            Self::OAuth(oauth) => Ok(Some(oauth.replace(rejected).await?.access_token)),
        }
    }
}
