//! `kind: salesforce` as the daemon's registry sees it: a CRM, validated by [`crate::validate`].

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};

use crate::{Salesforce, SalesforceConfig};

/// The `salesforce` connector kind.
#[derive(Debug)]
pub struct SalesforceKind;

impl ConnectorKind for SalesforceKind {
    const NAME: &'static str = "salesforce";
    const BUILDS: Builds =
        Builds { webhook_source: false, poll_source: false, crm: true, messenger: false, routes: false };
    type Config = SalesforceConfig;

    fn id(config: &SalesforceConfig) -> &str {
        &config.id
    }

    fn default_region(config: &SalesforceConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &SalesforceConfig) -> Vec<ConfigProblem> {
        crate::validate(config)
    }

    fn build(config: &SalesforceConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let salesforce = Salesforce::new(config.clone(), context.vault.clone(), context.http.clone())
            .map_err(|error| BuildError { id: config.id.clone(), message: error.to_string() })?;
        Ok(Built { crm: Some(Arc::new(salesforce)), ..Built::default() })
    }
}
