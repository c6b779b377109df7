//! Every problem of a `kind: zoho` block, each at its key. Pure: no network, no file, no secret looked up.
//! [`crate::Zoho::new`] refuses a block exactly when this finds a problem.

use handoffd_contract::kind::ConfigProblem;

use crate::config::ZohoConfig;

/// Zoho's data centres: the suffix of both hosts.
pub const DATA_CENTRES: [&str; 9] = ["com", "eu", "in", "com.au", "jp", "ca", "sa", "uk", "com.cn"];

/// Zoho's own maximum of records in one insert, update or upsert.
pub const MAX_BATCH: usize = 100;

pub fn validate(config: &ZohoConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if !DATA_CENTRES.contains(&config.data_centre.as_str()) {
        problems.push(ConfigProblem::at(
            "data_centre",
            format!("`{}` is not a Zoho data centre; expected one of: {}", config.data_centre, DATA_CENTRES.join(", ")),
        ));
    }
    for (key, url) in [("base_url", &config.base_url), ("accounts_url", &config.accounts_url)] {
        if let Some(url) = url
            && !is_http_url(url)
        {
            problems.push(ConfigProblem::at(key, format!("`{url}` must be an http:// or https:// URL with a host")));
        }
    }
    for (key, value) in [
        ("client_id", &config.client_id),
        ("client_secret", &config.client_secret),
        ("refresh_token", &config.refresh_token),
    ] {
        if value.trim().is_empty() {
            problems.push(ConfigProblem::at(key, "must not be empty"));
        }
    }
    let field = &config.external_key_field;
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        problems.push(ConfigProblem::at(
            "external_key_field",
            format!("`{field}` is not a Zoho field API name (letters, digits and `_`)"),
        ));
    }
    if config.request_timeout.is_zero() {
        problems.push(ConfigProblem::at("request_timeout", "must be more than zero"));
    }
    let limits = &config.limits;
    if limits.credits_per_day == Some(0) {
        problems.push(ConfigProblem::at("limits.credits_per_day", "must be more than zero"));
    }
    if limits.concurrency == Some(0) {
        problems.push(ConfigProblem::at("limits.concurrency", "must be more than zero"));
    }
    if let Some(batch) = limits.max_batch
        && !(1..=MAX_BATCH).contains(&batch)
    {
        problems.push(ConfigProblem::at("limits.max_batch", format!("{batch} is not between 1 and {MAX_BATCH}")));
    }
    problems
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// The API host without a trailing slash: `base_url`, or `https://www.zohoapis.<dc>`.
pub(crate) fn api_base(config: &ZohoConfig) -> String {
    match &config.base_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("https://www.zohoapis.{}", config.data_centre),
    }
}

/// The accounts host without a trailing slash: `accounts_url`, or the data centre's accounts server.
pub(crate) fn accounts_base(config: &ZohoConfig) -> String {
    match &config.accounts_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        // Canada's data centre has its accounts server on its own domain.
        None if config.data_centre == "ca" => "https://accounts.zohocloud.ca".to_owned(),
        None => format!("https://accounts.zoho.{}", config.data_centre),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use handoffd_contract::auth::MemoryVault;
    use serde_json::json;

    use super::*;
    use crate::Zoho;

    fn config(extra: serde_json::Value) -> ZohoConfig {
        let mut block = json!({"id": "zoho", "client_id": "c", "client_secret": "s", "refresh_token": "r"});
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            block[key] = value;
        }
        serde_json::from_value(block).unwrap()
    }

    fn cases() -> Vec<(ZohoConfig, Vec<&'static str>)> {
        vec![
            (config(json!({})), vec![]),
            (config(json!({"data_centre": "com.au"})), vec![]),
            (config(json!({"data_centre": "mars"})), vec!["data_centre"]),
            (config(json!({"client_secret": " ", "refresh_token": ""})), vec!["client_secret", "refresh_token"]),
            (config(json!({"base_url": "ftp://x", "accounts_url": "nope"})), vec!["base_url", "accounts_url"]),
            (config(json!({"external_key_field": "Handoff Id"})), vec!["external_key_field"]),
            (config(json!({"request_timeout": "0s"})), vec!["request_timeout"]),
            (
                config(json!({"limits": {"credits_per_day": 0, "concurrency": 0, "max_batch": 101}})),
                vec!["limits.credits_per_day", "limits.concurrency", "limits.max_batch"],
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

    #[tokio::test]
    async fn the_connector_builds_exactly_when_validation_finds_nothing() {
        for (config, keys) in cases() {
            let built = Zoho::new(config.clone(), Arc::new(MemoryVault::default()), reqwest::Client::new());
            assert_eq!(built.is_ok(), keys.is_empty(), "{config:?}: {:?}", built.err());
        }
    }

    #[test]
    fn the_data_centre_sets_both_hosts() {
        let eu = config(json!({"data_centre": "eu"}));
        assert_eq!(
            (api_base(&eu), accounts_base(&eu)),
            ("https://www.zohoapis.eu".into(), "https://accounts.zoho.eu".into())
        );
        let au = config(json!({"data_centre": "com.au"}));
        assert_eq!(api_base(&au), "https://www.zohoapis.com.au");
        assert_eq!(accounts_base(&au), "https://accounts.zoho.com.au");
        let ca = config(json!({"data_centre": "ca"}));
        assert_eq!(accounts_base(&ca), "https://accounts.zohocloud.ca");
        let overridden = config(json!({"base_url": "http://127.0.0.1:9/", "accounts_url": "http://127.0.0.1:8"}));
        assert_eq!(api_base(&overridden), "http://127.0.0.1:9");
        assert_eq!(accounts_base(&overridden), "http://127.0.0.1:8");
    }
}
