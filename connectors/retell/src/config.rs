//! The `kind: retell` config block.

use handoffd_contract::poll::PollSettings;
use serde::Deserialize;

/// Retell's API host, for the poller.
pub const DEFAULT_BASE_URL: &str = "https://api.retellai.com";

/// One Retell workspace sending call webhooks.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetellConfig {
    /// The connector id: Retell's webhook URL is `https://<host>/webhooks/<id>`.
    pub id: String,
    /// The Retell API key with the webhook badge: it signs every webhook
    /// (`x-retell-signature`), and the poller lists calls with it.
    pub api_key: String,
    /// The region for numbers written without a country code (ISO 3166, e.g. `IN`).
    #[serde(default)]
    pub default_region: Option<String>,
    /// Retell's API, for the poller (default `https://api.retellai.com`); a mock or proxy in tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// When and how far back the poller lists calls, to reconcile webhooks that never arrived.
    /// Unset: no poller.
    #[serde(default)]
    pub poll: Option<PollSettings>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

// The API key never reaches a log.
impl std::fmt::Debug for RetellConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetellConfig")
            .field("id", &self.id)
            .field("api_key", &"<redacted>")
            .field("default_region", &self.default_region)
            .field("base_url", &self.base_url)
            .field("poll", &self.poll)
            .finish()
    }
}
