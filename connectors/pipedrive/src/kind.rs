//! `kind: pipedrive` as the daemon's registry sees it: a CRM, validated by [`crate::validate`].

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};

use crate::{Pipedrive, PipedriveConfig};

/// The `pipedrive` connector kind.
#[derive(Debug)]
pub struct PipedriveKind;

impl ConnectorKind for PipedriveKind {
    const NAME: &'static str = "pipedrive";
    const BUILDS: Builds =
        Builds { webhook_source: false, poll_source: false, crm: true, messenger: false, routes: false };
    type Config = PipedriveConfig;

    fn id(config: &PipedriveConfig) -> &str {
        &config.id
    }

    fn default_region(config: &PipedriveConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &PipedriveConfig) -> Vec<ConfigProblem> {
        crate::validate(config)
    }

    fn build(config: &PipedriveConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let pipedrive = Pipedrive::new(config.clone(), context.vault.clone(), context.http.clone())
            .map_err(|error| BuildError { id: config.id.clone(), message: error.to_string() })?;
        Ok(Built { crm: Some(Arc::new(pipedrive)), ..Built::default() })
    }
}
