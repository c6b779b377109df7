//! `kind: whatsapp_cloud` as the daemon's registry sees it: the config block, its pure
//! validation, and the parts it builds (a webhook source, the turns and send-proxy routes, and
//! a messenger for templates).

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::routes::{Route, RoutePath};

use crate::routes::{SendProxyRoute, TurnsRoute};
use crate::send::WhatsappMessenger;
use crate::{WhatsappCloud, WhatsappCloudConfig};

/// The `whatsapp_cloud` connector kind.
#[derive(Debug)]
pub struct WhatsappCloudKind;

impl ConnectorKind for WhatsappCloudKind {
    const NAME: &'static str = "whatsapp_cloud";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: false, crm: false, messenger: true, routes: true };
    type Config = WhatsappCloudConfig;

    fn id(config: &WhatsappCloudConfig) -> &str {
        &config.id
    }

    fn default_region(config: &WhatsappCloudConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &WhatsappCloudConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    fn build(config: &WhatsappCloudConfig, _context: &BuildContext) -> Result<Built, BuildError> {
        let connector = Arc::new(WhatsappCloud::new(config.clone()));
        let proxy = SendProxyRoute::new(connector.clone())
            .map_err(|e| BuildError { id: config.id.clone(), message: format!("the send proxy's HTTP client: {e}") })?;
        let messenger = WhatsappMessenger::new(config.clone())
            .map_err(|e| BuildError { id: config.id.clone(), message: format!("the messenger's HTTP client: {e}") })?;
        Ok(Built {
            webhook_source: Some(connector),
            messenger: Some(Arc::new(messenger)),
            routes: vec![
                Route {
                    path: RoutePath::UnderWebhook("turns"),
                    handler: Arc::new(TurnsRoute::new(config.id.clone(), config.app_secret.clone())),
                },
                Route { path: RoutePath::Prefix("graph"), handler: Arc::new(proxy) },
            ],
            ..Built::default()
        })
    }
}

/// Every problem in a `whatsapp_cloud` block. Pure: nothing is looked up.
pub fn validate(config: &WhatsappCloudConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (key, secret) in [("app_secret", &config.app_secret), ("verify_token", &config.verify_token)] {
        if secret.trim().is_empty() {
            problems.push(ConfigProblem::at(key, "must not be empty"));
        }
    }
    let ids: Vec<&str> = config.phone_number_ids().collect();
    if ids.is_empty() {
        problems.push(ConfigProblem::at("phone_number_id", "needs at least one phone number id"));
    }
    // The send proxy only forwards to numeric ids (Meta's form): another would never be served.
    if let Some(id) = ids.iter().find(|id| id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit())) {
        problems.push(ConfigProblem::at(
            "phone_number_id",
            format!("`{id}` is not a phone number id (digits, as in `metadata.phone_number_id`)"),
        ));
    }
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if let Some(i) = config.agent_access_tokens.iter().position(|token| token.trim().is_empty()) {
        problems.push(ConfigProblem::at(format!("agent_access_tokens[{i}]"), "must not be empty"));
    }
    problems
}
