//! `kind: hubspot` as the daemon's registry sees it: a CRM, validated by [`crate::validate`].

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};

use crate::{Hubspot, HubspotConfig};

/// The `hubspot` connector kind.
#[derive(Debug)]
pub struct HubspotKind;

impl ConnectorKind for HubspotKind {
    const NAME: &'static str = "hubspot";
    const BUILDS: Builds =
        Builds { webhook_source: false, poll_source: false, crm: true, messenger: false, routes: false };
    type Config = HubspotConfig;

    fn id(config: &HubspotConfig) -> &str {
        &config.id
    }

    fn default_region(config: &HubspotConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &HubspotConfig) -> Vec<ConfigProblem> {
        crate::validate(config)
    }

    fn build(config: &HubspotConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let hubspot = Hubspot::new(config.clone(), context.vault.clone(), context.http.clone())
            .map_err(|error| BuildError { id: config.id.clone(), message: error.to_string() })?;
        Ok(Built { crm: Some(Arc::new(hubspot)), ..Built::default() })
    }
}
