//! Every problem of a `kind: salesforce` block, each at its key. Pure: no network, no file, no secret looked up
//! (the private key is read from the block itself). [`crate::Salesforce::new`] refuses a block exactly when this
//! finds a problem, so `handoffd check` refuses everything `handoffd run` would.

use handoffd_contract::kind::ConfigProblem;

use crate::config::SalesforceConfig;
use crate::limits;

pub fn validate(config: &SalesforceConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host (the login host)", config.base_url),
        )),
    }
    if config.client_id.trim().is_empty() {
        problems.push(ConfigProblem::at("client_id", "must not be empty"));
    }
    match (&config.refresh_token, &config.jwt) {
        (Some(_), Some(_)) => problems.push(ConfigProblem::at("jwt", "set either `refresh_token` or `jwt`, not both")),
        (None, None) => problems.push(ConfigProblem::block(
            "needs `refresh_token` (web-server flow) or `jwt: {username, private_key}` (JWT bearer flow)",
        )),
        (Some(token), None) => {
            if token.trim().is_empty() {
                problems.push(ConfigProblem::at("refresh_token", "must not be empty"));
            }
            if config.client_secret.as_deref().is_none_or(|s| s.trim().is_empty()) {
                problems.push(ConfigProblem::at("client_secret", "is needed with `refresh_token`"));
            }
        }
        (None, Some(jwt)) => {
            if jwt.username.trim().is_empty() {
                problems.push(ConfigProblem::at("jwt.username", "must not be empty"));
            }
            if let Err(e) = jsonwebtoken::EncodingKey::from_rsa_pem(jwt.private_key.trim().as_bytes()) {
                problems
                    .push(ConfigProblem::at("jwt.private_key", format!("is not an RSA private key in PEM form ({e})")));
            }
        }
    }
    if !is_custom_field_name(&config.external_id_field) {
        problems.push(ConfigProblem::at(
            "external_id_field",
            format!(
                "`{}` is not a custom field's API name (letters, digits and single underscores, ending in `__c`)",
                config.external_id_field
            ),
        ));
    }
    if !is_api_version(&config.api_version) {
        problems.push(ConfigProblem::at(
            "api_version",
            format!("`{}` is not a REST API version such as `v62.0`", config.api_version),
        ));
    }
    if config.timezone.parse::<chrono_tz::Tz>().is_err() {
        problems.push(ConfigProblem::at("timezone", format!("`{}` is not an IANA time zone", config.timezone)));
    }
    if config.request_timeout.is_zero() {
        problems.push(ConfigProblem::at("request_timeout", "must be more than zero"));
    }
    problems.extend(limits::check(&config.limits));
    problems
}

/// `Handoffd_Handoff_Id__c`: it goes into SOQL and URL paths as it is, so nothing else is accepted.
fn is_custom_field_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix("__c") else { return false };
    let mut chars = stem.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !stem.contains("__")
        && !stem.ends_with('_')
}

fn is_api_version(version: &str) -> bool {
    let Some((major, minor)) = version.strip_prefix('v').and_then(|v| v.split_once('.')) else { return false };
    !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor == "0"
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use handoffd_contract::auth::MemoryVault;
    use serde_json::json;

    use super::*;
    use crate::Salesforce;

    fn config(extra: serde_json::Value) -> SalesforceConfig {
        let mut block = json!({"id": "sf", "base_url": "http://127.0.0.1:9", "client_id": "c"});
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            block[key] = value;
        }
        serde_json::from_value(block).unwrap()
    }

    /// Blocks that parse, with the keys their problems are at (none: valid).
    fn cases() -> Vec<(SalesforceConfig, Vec<&'static str>)> {
        let refresh = json!({"client_secret": "s", "refresh_token": "r"});
        let with = |extra: serde_json::Value| {
            let mut block = refresh.clone();
            for (key, value) in extra.as_object().cloned().unwrap_or_default() {
                block[key] = value;
            }
            config(block)
        };
        vec![
            (with(json!({})), vec![]),
            (config(json!({"refresh_token": "r"})), vec!["client_secret"]),
            (config(json!({})), vec![""]),
            (with(json!({"jwt": {"username": "u", "private_key": "k"}})), vec!["jwt"]),
            (
                config(json!({"jwt": {"username": " ", "private_key": "not a key"}})),
                vec!["jwt.username", "jwt.private_key"],
            ),
            (with(json!({"external_id_field": "Handoff') OR Id != ('"})), vec!["external_id_field"]),
            (with(json!({"external_id_field": "Handoff_Id"})), vec!["external_id_field"]),
            (with(json!({"external_id_field": "My_Key__c"})), vec![]),
            (with(json!({"api_version": "62"})), vec!["api_version"]),
            (with(json!({"timezone": "Mars/Olympus"})), vec!["timezone"]),
            (with(json!({"base_url": "login.salesforce.com"})), vec!["base_url"]),
            (with(json!({"request_timeout": "0s"})), vec!["request_timeout"]),
            (with(json!({"limits": {"max_batch": 201, "daily": 0}})), vec!["limits.daily", "limits.max_batch"]),
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
    #[test]
    fn the_connector_builds_exactly_when_validation_finds_nothing() {
        for (config, keys) in cases() {
            let built = Salesforce::new(config.clone(), Arc::new(MemoryVault::default()), reqwest::Client::new());
            assert_eq!(built.is_ok(), keys.is_empty(), "{config:?}: {:?}", built.err());
        }
    }
}
