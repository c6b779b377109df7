//! `kind: twilio` as the daemon's registry sees it: the config block, its pure validation, and
//! the parts it builds (a webhook source, and the Calls API poll source when `poll` is set).

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::poll::PollSource;

use crate::{Twilio, TwilioCalls, TwilioConfig};

/// The `twilio` connector kind.
#[derive(Debug)]
pub struct TwilioKind;

impl ConnectorKind for TwilioKind {
    const NAME: &'static str = "twilio";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: true, crm: false, messenger: false, routes: false };
    type Config = TwilioConfig;

    fn id(config: &TwilioConfig) -> &str {
        &config.id
    }

    fn default_region(config: &TwilioConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &TwilioConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    /// The poller only when `poll` is set.
    fn build(config: &TwilioConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let poll_source = match &config.poll {
            Some(settings) => Some(Arc::new(
                TwilioCalls::new(config, settings, context.http.clone())
                    .map_err(|message| BuildError { id: config.id.clone(), message })?,
            ) as Arc<dyn PollSource>),
            None => None,
        };
        Ok(Built { webhook_source: Some(Arc::new(Twilio::new(config.clone()))), poll_source, ..Built::default() })
    }
}

/// Every problem in a `twilio` block. Pure: nothing is looked up.
pub fn validate(config: &TwilioConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if config.auth_token.trim().is_empty() {
        problems.push(ConfigProblem::at("auth_token", "must not be empty"));
    }
    match &config.account_sid {
        Some(sid) if !(sid.starts_with("AC") && sid.len() == 34) => {
            problems.push(ConfigProblem::at("account_sid", "must be the account SID: `AC` and 32 hex digits"));
        }
        None if config.poll.is_some() => {
            problems.push(ConfigProblem::at("account_sid", "is required with `poll` (the Calls API is per account)"));
        }
        _ => {}
    }
    if config.shared_key.as_deref().is_some_and(|key| key.trim().is_empty()) {
        problems.push(ConfigProblem::at("shared_key", "must not be empty when given"));
    }
    if let Some(public_url) = &config.public_url {
        match url::Url::parse(public_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if url.query().is_some() || url.fragment().is_some() {
                    problems.push(ConfigProblem::at(
                        "public_url",
                        "must not carry a query or fragment: the request's own query string is appended to it",
                    ));
                }
            }
            _ => problems.push(ConfigProblem::at(
                "public_url",
                format!("`{public_url}` must be an http:// or https:// URL with a host"),
            )),
        }
    }
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if !(1..=1000).contains(&config.poll_page_size) {
        problems.push(ConfigProblem::at("poll_page_size", "must be between 1 and 1000 (Twilio's limit)"));
    }
    if let Some(poll) = &config.poll {
        problems.extend(poll.validate());
    }
    problems
}
