//! Zoho's OAuth 2.0 refresh-token grant on the data centre's accounts server, through handoffd-oauth.
//!
//! Access tokens last an hour; they are shared through the vault by every instance on the store and refreshed a
//! few minutes before they expire, by one caller at a time. Zoho limits how many access tokens a refresh token
//! may mint in ten minutes, which is one more reason never to refresh twice for one expiry.

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::auth::TokenVault;
use handoffd_oauth::TokenUrl;
use handoffd_oauth::{NeededScope, RefreshGrant, SharedToken};

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

/// The scopes the connector's calls need (Zoho's v8 scope list; COQL needs its own scope beside the module's).
pub const NEEDED_SCOPES: [NeededScope; 4] = [
    NeededScope {
        any_of: &["ZohoCRM.modules.ALL", "ZohoCRM.modules.contacts.ALL"],
        for_what: "finding and creating contacts",
    },
    NeededScope {
        any_of: &["ZohoCRM.modules.ALL", "ZohoCRM.modules.tasks.ALL"],
        for_what: "writing and reading tasks",
    },
    NeededScope { any_of: &["ZohoCRM.coql.READ"], for_what: "finding contacts by phone or email (COQL)" },
    NeededScope { any_of: &["ZohoCRM.users.ALL", "ZohoCRM.users.READ"], for_what: "listing users as task owners" },
];
