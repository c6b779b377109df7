//! The `kind: salesforce` config block.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `kind: salesforce`: one Salesforce org, reached through a connected app.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// The connector id, named by `delivery.crm`.
    pub id: String,
    /// The login host (`https://login.salesforce.com`, `https://test.salesforce.com` for a sandbox, or the org's
    /// My Domain). API calls go to the instance URL the token answer names, never here.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The connected app's consumer key.
    pub client_id: String,
    /// The connected app's consumer secret (needed with `refresh_token`; the JWT bearer flow does without).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A refresh token from the web-server flow. Exactly one of `refresh_token` and `jwt` is set.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The JWT bearer flow: a pre-authorised integration user and the private key of the connected app's
    /// certificate.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// The Task field (Text, External ID, Unique) that holds the handoff id, so a write whose answer was lost is
    /// found again and an upsert never creates a second task.
    #[serde(default = "default_external_id_field")]
    pub external_id_field: String,
    /// The REST API version, e.g. `v62.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The time zone (IANA) whose date a task's `ActivityDate` is, for owners whose own time zone is unknown.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// ISO 3166 region for CRM phone numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
    /// How long one HTTP call may take before it counts as lost (e.g. `30s`). A write whose answer does not
    /// arrive in time is reported as an unknown outcome, never retried here.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Overrides of the org's API limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// The JWT bearer flow's user and key.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The Salesforce username the tokens act as (the integration user).
    pub username: String,
    /// The connected app certificate's RSA private key, PEM (`-----BEGIN PRIVATE KEY-----` or
    /// `-----BEGIN RSA PRIVATE KEY-----`).
    pub private_key: String,
}

/// The org's limits; any key left out keeps its default.
///
/// ```yaml
/// limits:
///   daily: 100000     # API requests per rolling 24 hours (the org's allocation; read live from every answer)
///   concurrent: 25    # calls in flight at once
///   max_batch: 200    # records per sObject Collections call (Salesforce's maximum is 200)
/// ```
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// API requests per rolling 24 hours (default 100000, an Enterprise org's base allocation).
    #[serde(default)]
    pub daily: Option<u32>,
    /// Calls in flight at once (default 25, Salesforce's cap on long-running requests).
    #[serde(default)]
    pub concurrent: Option<u32>,
    /// Records per collections call (default and maximum 200).
    #[serde(default)]
    pub max_batch: Option<usize>,
}

fn default_base_url() -> String {
    "https://login.salesforce.com".to_owned()
}

pub fn default_external_id_field() -> String {
    "Handoffd_Handoff_Id__c".to_owned()
}

fn default_api_version() -> String {
    "v62.0".to_owned()
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("jwt", &self.jwt)
            .field("external_id_field", &self.external_id_field)
            .field("api_version", &self.api_version)
            .field("timezone", &self.timezone)
            .field("default_region", &self.default_region)
            .field("request_timeout", &self.request_timeout)
            .field("limits", &self.limits)
            .finish()
    }
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig").field("username", &self.username).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, schemars::JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Salesforce(SalesforceConfig),
    }

    #[test]
    fn parses_through_a_tagged_enum_with_defaults() {
        let json = serde_json::json!({
            "kind": "salesforce", "id": "sf", "client_id": "c", "client_secret": "s", "refresh_token": "r",
            "request_timeout": "5s", "limits": {"max_batch": 50}
        });
        let Tagged::Salesforce(config) = serde_json::from_value(json).unwrap();
        assert_eq!(config.base_url, "https://login.salesforce.com");
        assert_eq!(config.external_id_field, "Handoffd_Handoff_Id__c");
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.limits.max_batch, Some(50));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let json = serde_json::json!({
            "id": "sf", "client_id": "c", "client_secret": "very-secret", "refresh_token": "also-secret",
            "jwt": {"username": "u@example.com", "private_key": "-----BEGIN PRIVATE KEY-----secret"}
        });
        let config: SalesforceConfig = serde_json::from_value(json).unwrap();
        let shown = format!("{config:?}");
        for secret in ["very-secret", "also-secret", "BEGIN PRIVATE KEY"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
