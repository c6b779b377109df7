use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `kind: zoho`: one Zoho CRM organisation, reached through a self-client or server-based OAuth app.
///
/// ```yaml
/// - id: zoho-main
///   kind: zoho
///   data_centre: in            # com, eu, in, com.au, jp, ca, sa, uk, com.cn
///   client_id: ${ZOHO_CLIENT_ID}
///   client_secret: ${ZOHO_CLIENT_SECRET}
///   refresh_token: ${ZOHO_REFRESH_TOKEN}
/// ```
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZohoConfig {
    /// The connector id, named by `delivery.crm`.
    pub id: String,
    /// Where the organisation's data lives: `com` (US), `eu`, `in`, `com.au`, `jp`, `ca`, `sa`, `uk`, `com.cn`.
    /// It sets both hosts: `https://accounts.zoho.<dc>` for tokens and `https://www.zohoapis.<dc>` for the API
    /// (Canada's accounts server is `accounts.zohocloud.ca`). Default `com`.
    #[serde(default = "default_data_centre")]
    pub data_centre: String,
    /// The OAuth client's id (Zoho API console).
    pub client_id: String,
    /// The OAuth client's secret.
    pub client_secret: String,
    /// The refresh token granted for the client (scopes `ZohoCRM.modules.ALL` and `ZohoCRM.users.READ`).
    pub refresh_token: String,
    /// Overrides the API host given by `data_centre` (e.g. a sandbox, or a mock in tests).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Overrides the accounts (token) host given by `data_centre`.
    #[serde(default)]
    pub accounts_url: Option<String>,
    /// ISO 3166 region for CRM phone numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
    /// The Tasks field that holds the handoff id, for upserts and lookups. An admin creates it once as a
    /// single-line field with "Do not allow duplicate values" (Zoho's `duplicate_check_fields` needs a unique
    /// field). Default `Handoffd_Handoff_Id`.
    #[serde(default = "default_external_key_field")]
    pub external_key_field: String,
    /// How long one HTTP call may take before its answer counts as lost (e.g. `30s`).
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// The organisation's API allowance (it depends on the edition and the number of licences).
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// Zoho's limits for the organisation; any key left out keeps the default.
///
/// ```yaml
/// limits:
///   credits_per_day: 50000   # API credits in a rolling 24 hours (Standard edition's floor)
///   concurrency: 10          # calls in flight at once (Free 5, Standard 10, Professional 15, Enterprise 20, Ultimate 25)
///   max_batch: 100           # records per insert, update or upsert (Zoho's own maximum)
/// ```
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// API credits in a rolling 24 hours (default 50000). The connector stops calling, and reports a rate limit
    /// that lasts until the oldest credit leaves the window, rather than let Zoho refuse calls.
    #[serde(default)]
    pub credits_per_day: Option<u32>,
    /// Calls in flight at once for this app and organisation (default 10).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Records in one insert, update or upsert (default and maximum 100).
    #[serde(default)]
    pub max_batch: Option<usize>,
}

pub(crate) fn default_data_centre() -> String {
    "com".to_owned()
}

fn default_external_key_field() -> String {
    "Handoffd_Handoff_Id".to_owned()
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for ZohoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoConfig")
            .field("id", &self.id)
            .field("data_centre", &self.data_centre)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("accounts_url", &self.accounts_url)
            .field("default_region", &self.default_region)
            .field("external_key_field", &self.external_key_field)
            .field("request_timeout", &self.request_timeout)
            .field("limits", &self.limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, schemars::JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Zoho(ZohoConfig),
    }

    #[test]
    fn parses_through_a_tagged_enum_and_hides_secrets() {
        let json = serde_json::json!({
            "kind": "zoho", "id": "zoho-main", "data_centre": "eu", "client_id": "1000.ABC",
            "client_secret": "shh-secret", "refresh_token": "1000.refresh-secret", "request_timeout": "5s",
            "limits": {"credits_per_day": 120000, "concurrency": 15}
        });
        let Tagged::Zoho(config) = serde_json::from_value(json).unwrap();
        assert_eq!(config.data_centre, "eu");
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!((config.limits.credits_per_day, config.limits.concurrency), (Some(120_000), Some(15)));
        assert_eq!(config.external_key_field, "Handoffd_Handoff_Id");
        let shown = format!("{config:?}");
        assert!(!shown.contains("shh-secret") && !shown.contains("refresh-secret"), "{shown}");
    }
}
