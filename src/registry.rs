//! The one place that lists every connector kind. Adding a vendor touches its crate and
//! this file.

use std::collections::HashMap;
use std::sync::Arc;

use handoffd_contract::auth::TokenVault;
use handoffd_contract::conversation::Speaker;
use handoffd_contract::crm::Crm;
use handoffd_contract::interaction::Content;
use handoffd_contract::webhook::{ParsedEvent, WebhookSource};
use handoffd_hubspot::Hubspot;
use handoffd_whatsapp_cloud::WhatsappCloud;
use serde::Deserialize;

use crate::store::InboxEvent;

/// One entry of `connectors:`, dispatched on `kind`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorConfig {
    WhatsappCloud(handoffd_whatsapp_cloud::WhatsappCloudConfig),
    Hubspot(handoffd_hubspot::HubspotConfig),
}

/// Kinds that are CRMs (tasks are written there).
pub const CRM_KINDS: &[&str] = &["hubspot"];

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

    pub fn default_region(&self) -> Option<&str> {
        match self {
            Self::WhatsappCloud(c) => c.default_region.as_deref(),
            Self::Hubspot(c) => c.default_region.as_deref(),
        }
    }
}

/// A webhook source with what the pipeline needs to know of it.
pub struct WebhookEntry {
    pub source: Arc<dyn WebhookSource>,
    pub default_region: Option<String>,
}

/// The running connectors, by id.
#[derive(Default)]
pub struct Connectors {
    pub webhooks: HashMap<String, WebhookEntry>,
    pub crms: HashMap<String, Arc<dyn Crm>>,
    /// WhatsApp connectors, for the send proxy and the turns endpoint.
    pub whatsapp: HashMap<String, Arc<WhatsappCloud>>,
}

impl Connectors {
    /// Build every configured connector. Makes no network call.
    pub fn build(
        configs: &[ConnectorConfig],
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let mut connectors = Self::default();
        for config in configs {
            let region = config.default_region().map(str::to_owned);
            match config {
                ConnectorConfig::WhatsappCloud(c) => {
                    let whatsapp = Arc::new(WhatsappCloud::new(c.clone()));
                    connectors.whatsapp.insert(c.id.clone(), whatsapp.clone());
                    connectors.webhooks.insert(c.id.clone(), WebhookEntry { source: whatsapp, default_region: region });
                }
                ConnectorConfig::Hubspot(c) => {
                    let hubspot = Hubspot::new(c.clone(), vault.clone(), http.clone())
                        .map_err(|e| anyhow::anyhow!("connector `{}`: {e}", c.id))?;
                    connectors.crms.insert(c.id.clone(), Arc::new(hubspot));
                }
            }
        }
        Ok(connectors)
    }

    pub fn default_region(&self, connector_id: &str) -> Option<&str> {
        self.webhooks.get(connector_id).and_then(|w| w.default_region.as_deref())
    }

    /// Parse a committed inbox row with the connector that received it.
    pub fn parse(&self, event: &InboxEvent) -> Result<ParsedEvent, String> {
        match event.source.as_str() {
            "webhook" => {
                let entry = self
                    .webhooks
                    .get(&event.connector_id)
                    .ok_or_else(|| format!("no webhook connector `{}` is configured", event.connector_id))?;
                entry.source.parse(&event.body).map_err(|e| e.to_string())
            }
            "turn" => handoffd_whatsapp_cloud::parse_turn(&event.body)
                .map(|turn| ParsedEvent { interactions: vec![turn], ignored: Vec::new() })
                .map_err(|e| e.to_string()),
            "proxied_send" => {
                let send: ProxiedSend = serde_json::from_slice(&event.body).map_err(|e| e.to_string())?;
                let mut outbound = handoffd_whatsapp_cloud::outbound_from_send(
                    send.request.as_bytes(),
                    send.response.as_bytes(),
                    event.received_at,
                );
                if send.agent
                    && let Some(Content::Message(message)) = outbound.as_mut().map(|o| &mut o.content)
                {
                    message.from = Speaker::Agent;
                }
                Ok(ParsedEvent { interactions: outbound.into_iter().collect(), ignored: Vec::new() })
            }
            other => Err(format!("unknown inbox source `{other}`")),
        }
    }
}

/// A send that went through the Graph API proxy, as stored in the inbox.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct ProxiedSend {
    pub request: String,
    pub response: String,
    /// Sent with one of the connector's `agent_access_tokens`: a human agent, not the AI.
    #[serde(default)]
    pub agent: bool,
}
