use serde::Deserialize;

/// `kind: hubspot`: one HubSpot portal (account).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotConfig {
    /// The connector id, named by `delivery.crm`.
    pub id: String,
    /// API base URL.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A private app's access token. Exactly one of `access_token` and `oauth` is set.
    #[serde(default)]
    pub access_token: Option<String>,
    /// OAuth2 refresh-token flow for a public app.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// ISO 3166 region for CRM phone numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

fn default_base_url() -> String {
    "https://api.hubapi.com".to_owned()
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for HubspotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotConfig")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token.as_ref().map(|_| "<redacted>"))
            .field("oauth", &self.oauth.as_ref().map(|o| &o.client_id))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}
