//! `kind: exotel` as the daemon's registry sees it: the config block, its pure validation, and
//! the parts it builds (a webhook source, and the Call Details API poll source when `poll` is set).

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::poll::PollSource;

use crate::{Exotel, ExotelCalls, ExotelConfig, SourceRange, parse_offset};

/// The `exotel` connector kind.
#[derive(Debug)]
pub struct ExotelKind;

impl ConnectorKind for ExotelKind {
    const NAME: &'static str = "exotel";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: true, crm: false, messenger: false, routes: false };
    type Config = ExotelConfig;

    fn id(config: &ExotelConfig) -> &str {
        &config.id
    }

    fn default_region(config: &ExotelConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &ExotelConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    /// The poller only when `poll` is set.
    fn build(config: &ExotelConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let error = |message| BuildError { id: config.id.clone(), message };
        let source = Exotel::new(config.clone()).map_err(error)?;
        let poll_source = match &config.poll {
            Some(settings) => {
                Some(Arc::new(ExotelCalls::new(config, settings, source.offset, context.http.clone()).map_err(error)?)
                    as Arc<dyn PollSource>)
            }
            None => None,
        };
        Ok(Built { webhook_source: Some(Arc::new(source)), poll_source, ..Built::default() })
    }
}

/// Tokens shorter than this are refused: the token is the only secret an event carries.
const MIN_TOKEN_LEN: usize = 16;

/// Every problem in an `exotel` block. Pure: nothing is looked up.
pub fn validate(config: &ExotelConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if config.token.trim().len() < MIN_TOKEN_LEN {
        problems.push(ConfigProblem::at(
            "token",
            format!("must be at least {MIN_TOKEN_LEN} characters: it is the only secret Exotel's requests carry"),
        ));
    }
    if config.token.chars().any(|c| !(c.is_ascii_alphanumeric() || "-_.~".contains(c))) {
        problems.push(ConfigProblem::at("token", "use letters, digits and `-_.~` only (it goes into a URL as it is)"));
    }
    for (i, source) in config.allowed_sources.iter().enumerate() {
        if let Err(message) = SourceRange::parse(source) {
            problems.push(ConfigProblem::at(format!("allowed_sources[{i}]"), message));
        }
    }
    for (key, value) in
        [("account_sid", &config.account_sid), ("api_key", &config.api_key), ("api_token", &config.api_token)]
    {
        match value {
            Some(value) if value.trim().is_empty() => problems.push(ConfigProblem::at(key, "must not be empty")),
            None if config.poll.is_some() => {
                problems.push(ConfigProblem::at(key, "is required with `poll` (the Call Details API's credentials)"))
            }
            _ => {}
        }
    }
    if let Err(message) = parse_offset(&config.utc_offset) {
        problems.push(ConfigProblem::at("utc_offset", message));
    }
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if !(1..=100).contains(&config.poll_page_size) {
        problems.push(ConfigProblem::at("poll_page_size", "must be between 1 and 100 (Exotel's limit)"));
    }
    if let Some(poll) = &config.poll {
        let poll_problems = poll.validate();
        if poll_problems.is_empty() && poll.look_back() > std::time::Duration::from_secs(31 * 86_400) {
            problems.push(ConfigProblem::at("poll.look_back", "at most 31 days (the Call Details API's range)"));
        }
        problems.extend(poll_problems);
    }
    problems
}
