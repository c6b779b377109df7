//! Every problem of a `kind: hubspot` block, each at its key. Pure: no network, no file, no
//! secret looked up. [`crate::Hubspot::new`] refuses a block exactly when this finds a problem,
//! so `handoffd check` refuses everything `handoffd run` would.

use handoffd_contract::kind::ConfigProblem;

use crate::config::HubspotConfig;
use crate::limits;

pub fn validate(config: &HubspotConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let base_url = api_base(config);
    match url::Url::parse(&base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            if config.oauth.is_some()
                && let Err(problem) = token_url(&base_url)
            {
                problems.push(problem);
            }
        }
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if config.request_timeout.is_zero() {
        problems.push(ConfigProblem::at("request_timeout", "must be more than zero"));
    }
    problems.extend(limits::check(&config.limits));
    if let Some(marker) = &config.contact_marker
        && (marker.trim().is_empty() || marker.len() > 100)
    {
        problems.push(ConfigProblem::at("contact_marker", "must be a name of 1 to 100 characters"));
    }
    match (&config.access_token, &config.oauth) {
        (Some(_), Some(_)) => {
            problems.push(ConfigProblem::at("oauth", "set either `access_token` or `oauth`, not both"))
        }
        (None, None) => problems.push(ConfigProblem::block("needs `access_token` (private app) or `oauth`")),
        (Some(token), None) if token.trim().is_empty() => {
            problems.push(ConfigProblem::at("access_token", "must not be empty"))
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
    problems
}

/// The API base URL without a trailing slash (paths are appended to it).
pub(crate) fn api_base(config: &HubspotConfig) -> String {
    config.base_url.trim_end_matches('/').to_owned()
}

/// Where OAuth tokens are refreshed: `{base_url}/oauth/v1/token`.
pub(crate) fn token_url(base_url: &str) -> Result<handoffd_oauth::TokenUrl, ConfigProblem> {
    handoffd_oauth::TokenUrl::new(format!("{base_url}/oauth/v1/token"))
        .map_err(|e| ConfigProblem::at("base_url", format!("`{base_url}` gives no OAuth token URL: {e}")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use handoffd_contract::auth::MemoryVault;
    use serde_json::json;

    use super::*;
    use crate::Hubspot;

    fn config(extra: serde_json::Value) -> HubspotConfig {
        let mut block = json!({"id": "hs", "base_url": "http://127.0.0.1:9"});
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            block[key] = value;
        }
        serde_json::from_value(block).unwrap()
    }

    /// Blocks that parse, with the keys their problems are at (none: valid).
    fn cases() -> Vec<(HubspotConfig, Vec<&'static str>)> {
        let oauth = json!({"client_id": "c", "client_secret": "s", "refresh_token": "r"});
        vec![
            (config(json!({"access_token": "pat"})), vec![]),
            (config(json!({"oauth": oauth})), vec![]),
            (config(json!({"access_token": "pat", "oauth": oauth})), vec!["oauth"]),
            (config(json!({})), vec![""]),
            (config(json!({"access_token": "  "})), vec!["access_token"]),
            (
                config(json!({"oauth": {"client_id": "", "client_secret": "s", "refresh_token": " "}})),
                vec!["oauth.client_id", "oauth.refresh_token"],
            ),
            (config(json!({"access_token": "pat", "request_timeout": "0s"})), vec!["request_timeout"]),
            (config(json!({"access_token": "pat", "base_url": "not a url"})), vec!["base_url"]),
            (config(json!({"access_token": "pat", "limits": {"max_batch": 500}})), vec!["limits.max_batch"]),
            (
                config(json!({"access_token": "pat", "limits": {"search_requests": 0, "search_window": "0s"}})),
                vec!["limits.search_requests", "limits.search_window"],
            ),
        ]
    }

    #[test]
    fn every_problem_is_at_its_key() {
        for (config, keys) in cases() {
            let found: Vec<String> = validate(&config).into_iter().map(|p| p.key).collect();
            assert_eq!(found, keys, "{config:?}");
        }
    }

    /// `check` and `run` agree: the connector builds exactly when validation finds nothing.
    #[tokio::test]
    async fn the_connector_builds_exactly_when_validation_finds_nothing() {
        for (config, keys) in cases() {
            let built = Hubspot::new(config.clone(), Arc::new(MemoryVault::default()), reqwest::Client::new());
            assert_eq!(built.is_ok(), keys.is_empty(), "{config:?}: {:?}", built.err());
        }
    }
}
