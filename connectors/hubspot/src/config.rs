use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `kind: hubspot`: one HubSpot portal (account).
#[derive(Clone, Deserialize, schemars::JsonSchema)]
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
    /// How long one HTTP call may take before it counts as lost (e.g. `30s`). A write whose
    /// answer does not arrive in time is reported as an unknown outcome, never retried here.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Overrides of HubSpot's published request limits (e.g. for an API add-on or a test portal).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// A name for this daemon (e.g. `handoffd-prod`), written into the contact property `handoffd_created_by` of
    /// every contact it creates (the property is created at start; a private app then needs the scope
    /// `crm.schemas.contacts.write`). With it, the change feed can leave out our own new contacts, and a backlog
    /// of new customers is delivered without one search per 200 of them (see `Crm::contacts_changed_elsewhere`).
    /// Unset (the default): every customer the identity cache does not know is looked up by a search first.
    /// Each daemon writing to the portal needs a name of its own.
    #[serde(default)]
    pub contact_marker: Option<String>,
}

/// HubSpot's limits as published for a Professional private app; any key left out keeps it.
///
/// ```yaml
/// limits:
///   requests: 190        # per `window`, for the whole portal
///   window: 10s
///   daily: 650000
///   search_requests: 4   # per `search_window`, search endpoints only
///   search_window: 1s
///   max_batch: 100       # inputs per batch call (HubSpot's own maximum is 100)
/// ```
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests allowed per `window` for the account (default 190).
    #[serde(default)]
    pub requests: Option<u32>,
    /// The rolling window `requests` applies to (default `10s`).
    #[serde(default, deserialize_with = "opt_duration")]
    pub window: Option<Duration>,
    /// Requests allowed per day (default 650000); reported, not enforced locally.
    #[serde(default)]
    pub daily: Option<u32>,
    /// Search requests allowed per `search_window` (default 4).
    #[serde(default)]
    pub search_requests: Option<u32>,
    /// The window `search_requests` applies to (default `1s`).
    #[serde(default, deserialize_with = "opt_duration")]
    pub search_window: Option<Duration>,
    /// Largest number of inputs in one batch call (default and maximum 100).
    #[serde(default)]
    pub max_batch: Option<usize>,
}

#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The public app's client id.
    pub client_id: String,
    /// The public app's client secret.
    pub client_secret: String,
    /// The refresh token from the portal's install; a rotated one is kept in the token vault.
    pub refresh_token: String,
}

fn default_base_url() -> String {
    "https://api.hubapi.com".to_owned()
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}

fn opt_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    duration(de).map(Some)
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for HubspotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotConfig")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token.as_ref().map(|_| "<redacted>"))
            .field("oauth", &self.oauth)
            .field("default_region", &self.default_region)
            .field("request_timeout", &self.request_timeout)
            .field("limits", &self.limits)
            .field("contact_marker", &self.contact_marker)
            .finish()
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon reads this block through a `kind:`-tagged enum: the tag must not trip
    /// `deny_unknown_fields`, and durations are strings.
    #[derive(Deserialize, schemars::JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Hubspot(HubspotConfig),
    }

    #[test]
    fn parses_through_a_tagged_enum_with_limits_and_durations() {
        let json = serde_json::json!({
            "kind": "hubspot", "id": "hubspot-main", "access_token": "pat", "request_timeout": "5s",
            "limits": { "requests": 100, "window": "10s", "search_window": "2s", "max_batch": 50 }
        });
        let Tagged::Hubspot(config) = serde_json::from_value(json).unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.limits.window, Some(Duration::from_secs(10)));
        assert_eq!(config.limits.search_window, Some(Duration::from_secs(2)));
        assert_eq!((config.limits.requests, config.limits.max_batch), (Some(100), Some(50)));
        assert_eq!(config.base_url, "https://api.hubapi.com");
    }

    #[test]
    fn a_bad_duration_names_the_value() {
        let json = serde_json::json!({ "id": "h", "access_token": "pat", "request_timeout": "soon" });
        let err = serde_json::from_value::<HubspotConfig>(json).err().unwrap().to_string();
        assert!(err.contains("invalid duration `soon`"), "{err}");
    }
}
