//! Zoho's OAuth 2.0 refresh-token grant on the data centre's accounts server, through handoffd-oauth.
//!
//! Access tokens last an hour; they are shared through the vault by every instance on the store and refreshed a
//! few minutes before they expire, by one caller at a time. Zoho limits how many access tokens a refresh token
//! may mint in ten minutes, which is one more reason never to refresh twice for one expiry.

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::auth::TokenVault;
use handoffd_oauth::TokenUrl;
use handoffd_oauth::{RefreshGrant, SharedToken};

use crate::config::ZohoConfig;

pub fn tokens(
    config: &ZohoConfig,
    token_url: TokenUrl,
    vault: Arc<dyn TokenVault>,
    http: reqwest::Client,
    timeout: Duration,
) -> SharedToken {
    // Zoho takes the client credentials as form fields.
    let grant = RefreshGrant::new("Zoho", &config.client_id, &config.client_secret, token_url, true, http, timeout);
    SharedToken::new(&config.id, "Zoho", Box::new(grant), vault, Some(config.refresh_token.clone()))
}
