//! The `kind: pipedrive` block and its problems.

use std::time::Duration;

use handoffd_contract::kind::ConfigProblem;
use serde::{Deserialize, Deserializer};

/// `kind: pipedrive`: one Pipedrive company, through a user's API token or an OAuth app.
///
/// ```yaml
/// - id: pipedrive-main
///   kind: pipedrive
///   base_url: https://acme.pipedrive.com   # the company domain (default https://api.pipedrive.com)
///   api_token: ${PIPEDRIVE_API_TOKEN}      # or `oauth: {client_id, client_secret, refresh_token}`
/// ```
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipedriveConfig {
    /// The connector id, named by `delivery.crm`.
    pub id: String,
    /// The company's API host, without `/v1` (e.g. `https://acme.pipedrive.com`). Default `https://api.pipedrive.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A user's personal API token, sent as the `x-api-token` header. Exactly one of `api_token` and `oauth`.
    #[serde(default)]
    pub api_token: Option<String>,
    /// An OAuth app's refresh-token grant (scopes `contacts:full`, `activities:full`, `users:read`,
    /// `search:read`).
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// Where OAuth tokens are refreshed. Default `https://oauth.pipedrive.com`.
    #[serde(default = "default_oauth_url")]
    pub oauth_url: String,
    /// ISO 3166 region for CRM phone numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
    /// How long one HTTP call may take before its answer counts as lost (e.g. `30s`).
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// How far back a lost write is looked for among recently changed activities (default `72h`). A delivery
    /// whose answer was lost is looked up long before that.
    #[serde(default = "default_lookup_window", deserialize_with = "duration")]
    pub lookup_window: Duration,
    /// The company plan's limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// Pipedrive's limits for the token; any key left out keeps the default (the Essential plan's, the lowest).
///
/// ```yaml
/// limits:
///   requests: 20          # per 2-second window (Essential 20, Advanced 40, Professional 80, Power 100,
///                         # Enterprise 120 with an API token; four times that with OAuth)
///   search_requests: 10   # search endpoints, per 2-second window
///   daily_tokens: 30000   # the company's daily token budget (30,000 x plan multiplier x seats)
/// ```
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per 2-second window for this token (default 20).
    #[serde(default)]
    pub requests: Option<u32>,
    /// Search requests per 2-second window (default 10).
    #[serde(default)]
    pub search_requests: Option<u32>,
    /// The company's token budget per UTC day (default 30000).
    #[serde(default)]
    pub daily_tokens: Option<u32>,
}

#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// The refresh token from the app's installation; a rotated one is kept in the token vault.
    pub refresh_token: String,
}

fn default_base_url() -> String {
    "https://api.pipedrive.com".to_owned()
}

fn default_oauth_url() -> String {
    "https://oauth.pipedrive.com".to_owned()
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_lookup_window() -> Duration {
    Duration::from_secs(72 * 60 * 60)
}

fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for PipedriveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipedriveConfig")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("oauth", &self.oauth)
            .field("oauth_url", &self.oauth_url)
            .field("default_region", &self.default_region)
            .field("request_timeout", &self.request_timeout)
            .field("lookup_window", &self.lookup_window)
            .field("limits", &self.limits)
            .finish()
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// Every problem of a block, each at its key. Pure: no network, no file, no secret looked up.
pub fn validate(config: &PipedriveConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (key, url) in [("base_url", &config.base_url), ("oauth_url", &config.oauth_url)] {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            problems.push(ConfigProblem::at(key, format!("`{url}` must be an http:// or https:// URL with a host")));
        }
    }
    match (&config.api_token, &config.oauth) {
        (Some(_), Some(_)) => problems.push(ConfigProblem::at("oauth", "set either `api_token` or `oauth`, not both")),
        (None, None) => problems.push(ConfigProblem::block("needs `api_token` or `oauth`")),
        (Some(token), None) if token.trim().is_empty() => {
            problems.push(ConfigProblem::at("api_token", "must not be empty"))
        }
        (Some(_), None) => {}
        (None, Some(oauth)) => {
            for (key, value) in [
                ("oauth.client_id", &oauth.client_id),
                ("oauth.client_secret", &oauth.client_secret),
                ("oauth.refresh_token", &oauth.refresh_token),
            ] {
                if value.trim().is_empty() {
                    problems.push(ConfigProblem::at(key, "must not be empty"));
                }
            }
        }
    }
    for (key, value) in [("request_timeout", config.request_timeout), ("lookup_window", config.lookup_window)] {
        if value.is_zero() {
            problems.push(ConfigProblem::at(key, "must be more than zero"));
        }
    }
    let limits = &config.limits;
    for (key, value) in [
        ("limits.requests", limits.requests),
        ("limits.search_requests", limits.search_requests),
        ("limits.daily_tokens", limits.daily_tokens),
    ] {
        if value == Some(0) {
            problems.push(ConfigProblem::at(key, "must be more than zero"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use handoffd_contract::auth::MemoryVault;
    use serde_json::json;

    use super::*;
    use crate::Pipedrive;

    fn config(extra: serde_json::Value) -> PipedriveConfig {
        let mut block = json!({"id": "pd"});
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            block[key] = value;
        }
        serde_json::from_value(block).unwrap()
    }

    fn cases() -> Vec<(PipedriveConfig, Vec<&'static str>)> {
        let oauth = json!({"client_id": "c", "client_secret": "s", "refresh_token": "r"});
        vec![
            (config(json!({"api_token": "t"})), vec![]),
            (config(json!({"oauth": oauth})), vec![]),
            (config(json!({"api_token": "t", "oauth": oauth})), vec!["oauth"]),
            (config(json!({})), vec![""]),
            (config(json!({"api_token": " "})), vec!["api_token"]),
            (config(json!({"api_token": "t", "base_url": "nope"})), vec!["base_url"]),
            (config(json!({"api_token": "t", "lookup_window": "0s"})), vec!["lookup_window"]),
            (config(json!({"api_token": "t", "limits": {"requests": 0}})), vec!["limits.requests"]),
        ]
    }

    #[test]
    fn every_problem_is_at_its_key() {
        for (config, keys) in cases() {
            let found: Vec<String> = validate(&config).into_iter().map(|p| p.key).collect();
            assert_eq!(found, keys, "{config:?}");
        }
    }

    #[tokio::test]
    async fn the_connector_builds_exactly_when_validation_finds_nothing() {
        for (config, keys) in cases() {
            let built = Pipedrive::new(config.clone(), Arc::new(MemoryVault::default()), reqwest::Client::new());
            assert_eq!(built.is_ok(), keys.is_empty(), "{config:?}: {:?}", built.err());
        }
    }

    #[test]
    fn the_token_never_shows() {
        let shown = format!("{:?}", config(json!({"api_token": "secret-token-123"})));
        assert!(!shown.contains("secret-token-123"), "{shown}");
    }
}
