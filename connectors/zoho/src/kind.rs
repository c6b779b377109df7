//! `kind: zoho` as the daemon's registry sees it: a CRM, validated by [`crate::validate`].

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};

use crate::{Zoho, ZohoConfig};

/// The `zoho` connector kind.
#[derive(Debug)]
pub struct ZohoKind;

impl ConnectorKind for ZohoKind {
    const NAME: &'static str = "zoho";
    const BUILDS: Builds =
        Builds { webhook_source: false, poll_source: false, crm: true, messenger: false, routes: false };
    type Config = ZohoConfig;

    fn id(config: &ZohoConfig) -> &str {
        &config.id
    }

    fn default_region(config: &ZohoConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &ZohoConfig) -> Vec<ConfigProblem> {
        crate::validate(config)
    }

    fn build(config: &ZohoConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let zoho = Zoho::new(config.clone(), context.vault.clone(), context.http.clone())
            .map_err(|error| BuildError { id: config.id.clone(), message: error.to_string() })?;
        Ok(Built { crm: Some(Arc::new(zoho)), ..Built::default() })
    }
}
