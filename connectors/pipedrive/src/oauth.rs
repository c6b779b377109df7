//! Pipedrive's OAuth 2.0 refresh-token grant (`POST https://oauth.pipedrive.com/oauth/token`, the app's
//! credentials in HTTP Basic), through handoffd-oauth: tokens shared through the vault by every instance on the
//! store, refreshed a few minutes before they expire by one caller at a time, and the refresh token each answer
//! carries saved before anyone else may refresh (Pipedrive's rotate).

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::auth::TokenVault;
use handoffd_oauth::TokenUrl;
use handoffd_oauth::{NeededScope, RefreshGrant, SharedToken};

use crate::config::OAuthConfig;

pub fn tokens(
    connector_id: &str,
    config: &OAuthConfig,
    token_url: TokenUrl,
    vault: Arc<dyn TokenVault>,
    http: reqwest::Client,
    timeout: Duration,
) -> SharedToken {
    let grant =
        RefreshGrant::new("Pipedrive", &config.client_id, &config.client_secret, token_url, false, http, timeout);
    SharedToken::new(connector_id, "Pipedrive", Box::new(grant), vault, Some(config.refresh_token.clone()))
}

/// The OAuth scopes the connector's calls need (from the security of each operation in Pipedrive's OpenAPI
/// description). An API token carries its user's permissions and has no scopes.
pub const NEEDED_SCOPES: [NeededScope; 4] = [
    NeededScope { any_of: &["contacts:full"], for_what: "creating persons" },
    NeededScope { any_of: &["search:read"], for_what: "finding persons by phone or email" },
    NeededScope { any_of: &["activities:full"], for_what: "writing activities" },
    NeededScope { any_of: &["users:read", "admin"], for_what: "listing users as activity owners" },
];
