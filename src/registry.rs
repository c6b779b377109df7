//! The one place that lists every connector kind. Adding a vendor touches its crate and
//! this file.

use serde::Deserialize;

/// One entry of `connectors:`, dispatched on `kind`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorConfig {
    WhatsappCloud(handoffd_whatsapp_cloud::WhatsappCloudConfig),
    Hubspot(handoffd_hubspot::HubspotConfig),
}

impl ConnectorConfig {
    pub fn id(&self) -> &str {
        match self {
            Self::WhatsappCloud(c) => &c.id,
            Self::Hubspot(c) => &c.id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::WhatsappCloud(_) => "whatsapp_cloud",
            Self::Hubspot(_) => "hubspot",
        }
    }
}
