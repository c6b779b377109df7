//! `kind: retell` as the daemon's registry sees it: the config block, its pure validation, and
//! the parts it builds (a webhook source, and a poller when `poll` is set).

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::poll::{PollSettings, PollSource};

use crate::Retell;
use crate::config::RetellConfig;
use crate::poll::RetellPoller;

/// The `retell` connector kind.
#[derive(Debug)]
pub struct RetellKind;

impl ConnectorKind for RetellKind {
    const NAME: &'static str = "retell";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: true, crm: false, messenger: false, routes: false };
    type Config = RetellConfig;

    fn id(config: &RetellConfig) -> &str {
        &config.id
    }

    fn default_region(config: &RetellConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &RetellConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    fn build(config: &RetellConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let poll_source = config.poll.as_ref().map(|settings| {
            Arc::new(RetellPoller {
                id: config.id.clone(),
                base_url: config.base_url.clone(),
                api_key: config.api_key.clone(),
                schedule: settings.schedule.clone(),
                look_back: settings.look_back(),
                settle: settings.settle(),
                http: context.http.clone(),
                now: chrono::Utc::now,
            }) as Arc<dyn PollSource>
        });
        Ok(Built { webhook_source: Some(Arc::new(Retell::new(config))), poll_source, ..Built::default() })
    }
}

/// Every problem in a `retell` block. Pure: nothing is looked up.
pub fn validate(config: &RetellConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if config.api_key.trim().is_empty() {
        problems.push(ConfigProblem::at("api_key", "must not be empty (the API key with the webhook badge)"));
    }
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if let Some(poll) = &config.poll {
        problems.extend(PollSettings::validate(poll));
    }
    problems
}
