//! The one place that lists every connector kind. Adding a vendor touches its crate and one
//! line of `connector_kinds!` below, nothing else: the config's `kind:` dispatch, `handoffd
//! check`'s validation, building, webhook and route dispatch and parsing all follow from it.

use std::collections::HashMap;
use std::sync::Arc;

use handoffd_contract::crm::Crm;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::kind::{BuildContext, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::messenger::Messenger;
use handoffd_contract::poll::PollSource;
use handoffd_contract::routes::{RouteHandler, RoutePath};
use handoffd_contract::webhook::{ParsedEvent, Verified, WebhookSource};
use serde::Deserialize;

use crate::store::InboxEvent;

/// Generates [`ConnectorConfig`] (tagged on `kind:`, its error listing the valid kinds) and
/// [`KINDS`] from one line per kind: `"kind_name" => Variant(crate::KindType)`.
macro_rules! connector_kinds {
    ($($name:literal => $variant:ident($kind:ty)),+ $(,)?) => {
        /// One entry of `connectors:`, dispatched on `kind`.
        #[derive(Debug, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "kind")]
        pub enum ConnectorConfig {
            $(#[serde(rename = $name)] $variant(<$kind as ConnectorKind>::Config),)+
        }

        /// Every kind, with what it builds.
        pub const KINDS: &[Kind] = &[$(Kind { name: $name, builds: <$kind as ConnectorKind>::BUILDS }),+];

        // The registry's `kind:` literal is the crate's own name for its kind.
        $(const _: () = assert!(same_str($name, <$kind as ConnectorKind>::NAME), concat!("`", $name, "` is not the kind's NAME"));)+

        impl ConnectorConfig {
            pub fn id(&self) -> &str {
                match self { $(Self::$variant(c) => <$kind as ConnectorKind>::id(c),)+ }
            }

            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name,)+ }
            }

            pub fn default_region(&self) -> Option<&str> {
                match self { $(Self::$variant(c) => <$kind as ConnectorKind>::default_region(c),)+ }
            }

            /// The kind's own problems with this block (keys relative to it). Pure.
            pub fn validate(&self) -> Vec<ConfigProblem> {
                match self { $(Self::$variant(c) => <$kind as ConnectorKind>::validate(c),)+ }
            }

            fn build(&self, context: &BuildContext) -> anyhow::Result<Built> {
                Ok(match self { $(Self::$variant(c) => <$kind as ConnectorKind>::build(c, context)?,)+ })
            }
        }
    };
}

connector_kinds! {
    "whatsapp_cloud" => WhatsappCloud(handoffd_whatsapp_cloud::WhatsappCloudKind),
    "hubspot" => Hubspot(handoffd_hubspot::HubspotKind),
    "twilio" => Twilio(handoffd_twilio::TwilioKind),
    "exotel" => Exotel(handoffd_exotel::ExotelKind),
    "webhook" => Webhook(handoffd_webhook::WebhookKind),
    "zoho" => Zoho(handoffd_zoho::ZohoKind),
    "pipedrive" => Pipedrive(handoffd_pipedrive::PipedriveKind),
    "vapi" => Vapi(handoffd_vapi::VapiKind),
    "retell" => Retell(handoffd_retell::RetellKind),
    "salesforce" => Salesforce(handoffd_salesforce::SalesforceKind),
}

/// A connector kind: its `kind:` name and the parts it builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub builds: Builds,
}

/// The names of the kinds that build a CRM (what `delivery.crm` may name).
pub fn crm_kinds() -> impl Iterator<Item = &'static str> {
    KINDS.iter().filter(|kind| kind.builds.crm).map(|kind| kind.name)
}

/// The names of the kinds that build a messenger (what `sla.confirm.messenger` and a manager's WhatsApp may name).
pub fn messenger_kinds() -> impl Iterator<Item = &'static str> {
    KINDS.iter().filter(|kind| kind.builds.messenger).map(|kind| kind.name)
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `handoffd demo` posts sample WhatsApp webhooks, signed as Meta signs them, to the first `whatsapp_cloud`
/// connector of the configuration. Vendor knowledge, so it lives here rather than in the CLI.
pub struct DemoWebhooks {
    pub connector_id: String,
    app_secret: String,
}

impl DemoWebhooks {
    pub fn find(configs: &[ConnectorConfig]) -> Option<Self> {
        configs.iter().find_map(|config| match config {
            ConnectorConfig::WhatsappCloud(c) => {
                Some(Self { connector_id: c.id.clone(), app_secret: c.app_secret.clone() })
            }
            _ => None,
        })
    }

    pub fn signature_header(&self) -> &'static str {
        handoffd_whatsapp_cloud::signature::SIGNATURE_HEADER
    }

    pub fn signature(&self, body: &[u8]) -> String {
        handoffd_whatsapp_cloud::sign(&self.app_secret, body)
    }
}

/// A webhook source with what the pipeline needs to know of it.
pub struct WebhookEntry {
    pub source: Arc<dyn WebhookSource>,
    pub default_region: Option<String>,
}

/// A connector's route, with the connector it belongs to.
#[derive(Clone)]
pub struct MountedRoute {
    pub connector_id: String,
    pub handler: Arc<dyn RouteHandler>,
}

/// The running connectors, by id.
#[derive(Default)]
pub struct Connectors {
    pub webhooks: HashMap<String, WebhookEntry>,
    pub crms: HashMap<String, Arc<dyn Crm>>,
    pub poll_sources: HashMap<String, Arc<dyn PollSource>>,
    pub messengers: HashMap<String, Arc<dyn Messenger>>,
    /// `/webhooks/{id}/{name}` routes: (connector id, name) -> handler.
    pub webhook_routes: HashMap<(String, String), Arc<dyn RouteHandler>>,
    /// `/{prefix}/...` routes: prefix -> the connectors serving it, in config order.
    pub prefix_routes: HashMap<String, Vec<MountedRoute>>,
    /// Which route parses a stored event: (connector id, event name) -> handler.
    route_events: HashMap<(String, String), Arc<dyn RouteHandler>>,
    /// Default regions of every connector, for the phone numbers it reports.
    regions: HashMap<String, String>,
    /// The kind of every connector (`vapi`, `retell`, ...), by id.
    kinds: HashMap<String, &'static str>,
}

impl Connectors {
    /// Build every configured connector. Makes no network call.
    pub fn build(configs: &[ConnectorConfig], context: &BuildContext) -> anyhow::Result<Self> {
        let mut connectors = Self::default();
        for config in configs {
            let id = config.id().to_owned();
            let built = config.build(context)?;
            connectors.kinds.insert(id.clone(), config.kind());
            if let Some(region) = config.default_region() {
                connectors.regions.insert(id.clone(), region.to_owned());
            }
            if let Some(source) = built.webhook_source {
                let default_region = config.default_region().map(str::to_owned);
                connectors.webhooks.insert(id.clone(), WebhookEntry { source, default_region });
            }
            if let Some(crm) = built.crm {
                connectors.crms.insert(id.clone(), crm);
            }
            if let Some(poll) = built.poll_source {
                connectors.poll_sources.insert(id.clone(), poll);
            }
            if let Some(messenger) = built.messenger {
                connectors.messengers.insert(id.clone(), messenger);
            }
            for route in built.routes {
                let event_name = route.handler.event_name().to_owned();
                connectors.route_events.insert((id.clone(), event_name), route.handler.clone());
                match route.path {
                    RoutePath::UnderWebhook(name) => {
                        connectors.webhook_routes.insert((id.clone(), name.to_owned()), route.handler);
                    }
                    RoutePath::Prefix(prefix) => connectors
                        .prefix_routes
                        .entry(prefix.to_owned())
                        .or_default()
                        .push(MountedRoute { connector_id: id.clone(), handler: route.handler }),
                    other => anyhow::bail!("connector `{id}`: a route at {other:?} cannot be mounted by this daemon"),
                }
            }
        }
        Ok(connectors)
    }

    /// Every configured connector's id, in no order.
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.kinds.keys()
    }

    /// The kind of a configured connector.
    pub fn kind_of(&self, connector_id: &str) -> Option<&'static str> {
        self.kinds.get(connector_id).copied()
    }

    pub fn default_region(&self, connector_id: &str) -> Option<&str> {
        self.regions.get(connector_id).map(String::as_str)
    }

    /// The names of `/webhooks/{id}/{name}` routes, each once.
    pub fn webhook_route_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.webhook_routes.keys().map(|(_, name)| name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Parse a committed inbox row with the connector part that received it.
    pub fn parse(&self, event: &InboxEvent) -> Result<ParsedEvent, String> {
        self.parse_event(&event.connector_id, &event.source, &event.event)
    }

    /// Parse a raw vendor payload read from a file, as the connector's webhook would have after
    /// verifying it: for offline tools (`handoffd explain --connector ID --input FILE`) only.
    pub fn parse_offline(
        &self,
        connector_id: &str,
        body: Vec<u8>,
        received_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<ParsedEvent, String> {
        self.parse_event(connector_id, &InboxSource::Webhook, &Verified::for_offline_tool(body, received_at))
    }

    fn parse_event(&self, connector_id: &str, source: &InboxSource, event: &Verified) -> Result<ParsedEvent, String> {
        match source {
            InboxSource::Webhook => {
                let entry = self
                    .webhooks
                    .get(connector_id)
                    .ok_or_else(|| format!("no webhook connector `{connector_id}` is configured"))?;
                entry.source.parse(event).map_err(|e| e.to_string())
            }
            // A poller's page: the connector's own interactions, stored as it produced them.
            InboxSource::Poll => {
                if !self.poll_sources.contains_key(connector_id) {
                    return Err(format!("no poller `{connector_id}` is configured"));
                }
                let interactions = serde_json::from_slice(event.body())
                    .map_err(|e| format!("a stored poll page of `{connector_id}` does not read back: {e}"))?;
                Ok(ParsedEvent { interactions, ignored: Vec::new() })
            }
            InboxSource::Route(name) => {
                let route = self
                    .route_events
                    .get(&(connector_id.to_owned(), name.clone()))
                    .ok_or_else(|| format!("connector `{connector_id}` has no route for inbox source `{name}`"))?;
                route.parse(event).map_err(|e| e.to_string())
            }
            other => Err(format!("unknown inbox source `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use handoffd_contract::auth::MemoryVault;

    use super::*;

    fn context() -> BuildContext {
        BuildContext { vault: Arc::new(MemoryVault::default()), http: reqwest::Client::new() }
    }

    #[test]
    fn kind_names_are_unique_and_the_crms_are_known() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
        assert_eq!(crm_kinds().collect::<Vec<_>>(), ["hubspot", "zoho", "pipedrive", "salesforce"]);
    }

    #[test]
    fn an_unknown_kind_is_refused_with_the_list_of_kinds() {
        let error = serde_json::from_value::<ConnectorConfig>(serde_json::json!({"kind": "dynamics", "id": "x"}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`whatsapp_cloud`") && error.contains("`hubspot`") && error.contains("`salesforce`"),
            "{error}"
        );
    }

    fn whatsapp() -> Connectors {
        let configs: Vec<ConnectorConfig> = serde_json::from_value(serde_json::json!([
            {"kind": "whatsapp_cloud", "id": "wa", "app_secret": "s", "verify_token": "t", "phone_number_id": "1066"},
        ]))
        .unwrap();
        Connectors::build(&configs, &context()).unwrap()
    }

    #[test]
    fn an_offline_tool_parses_a_raw_payload_as_the_connectors_webhook_would() {
        let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messages": [{"from": "919820011111", "id": "wamid.OFF1",
            "timestamp": "1764057600", "type": "text", "text": {"body": "hello"}}]}}]}]});
        let parsed = whatsapp().parse_offline("wa", body.to_string().into_bytes(), chrono::Utc::now()).unwrap();
        assert_eq!(parsed.interactions.len(), 1);
        assert_eq!(parsed.interactions[0].dedup_key, "wamid.OFF1");
        let error = whatsapp().parse_offline("nope", b"{}".to_vec(), chrono::Utc::now()).unwrap_err();
        assert!(error.contains("`nope`"), "{error}");
    }

    #[test]
    fn a_stored_event_goes_to_the_part_that_committed_it() {
        let connectors = whatsapp();
        let turn = serde_json::json!({"to": "+919820011111", "at": "2025-11-25T08:35:00Z", "from": "ai", "text": "Hi"});
        let event = Verified::for_offline_tool(turn.to_string().into_bytes(), chrono::Utc::now());
        let parsed = connectors.parse_event("wa", &InboxSource::Route("turn".into()), &event).unwrap();
        assert_eq!(parsed.interactions.len(), 1);
        // The same body is no webhook body, and a route nobody serves is refused (the row is quarantined).
        assert!(connectors.parse_event("wa", &InboxSource::Webhook, &event).is_err());
        let unknown = connectors.parse_event("wa", &InboxSource::Route("sms".into()), &event).unwrap_err();
        assert!(unknown.contains("`sms`"), "{unknown}");
    }

    #[test]
    fn a_poll_page_reads_back_as_the_interactions_its_poller_produced() {
        let configs: Vec<ConnectorConfig> = serde_json::from_value(serde_json::json!([
            {"kind": "retell", "id": "retell", "api_key": "k", "poll": {}},
            {"kind": "retell", "id": "no-poll", "api_key": "k"},
        ]))
        .unwrap();
        let connectors = Connectors::build(&configs, &context()).unwrap();
        assert_eq!(connectors.kind_of("retell"), Some("retell"));
        let call = handoffd_retell::parse_body(
            br#"{"event": "call_ended", "call": {"call_id": "c1", "from_number": "+14155550142", "transcript": "User: hi"}}"#,
            chrono::Utc::now(),
        )
        .unwrap()
        .interactions;
        let page = Verified::produced_by_connector(serde_json::to_vec(&call).unwrap(), chrono::Utc::now());
        let parsed = connectors.parse_event("retell", &InboxSource::Poll, &page).unwrap();
        assert_eq!(parsed.interactions, call);
        let refused = connectors.parse_event("no-poll", &InboxSource::Poll, &page).unwrap_err();
        assert!(refused.contains("no poller"), "{refused}");
        let corrupt = Verified::produced_by_connector(b"{}".to_vec(), chrono::Utc::now());
        assert!(connectors.parse_event("retell", &InboxSource::Poll, &corrupt).is_err());
    }

    #[test]
    fn every_kind_builds_what_it_declares() {
        let configs: Vec<ConnectorConfig> = serde_json::from_value(serde_json::json!([
            {"kind": "whatsapp_cloud", "id": "wa", "app_secret": "s", "verify_token": "t", "phone_number_id": "1066"},
            {"kind": "hubspot", "id": "hs", "access_token": "pat"},
            {"kind": "twilio", "id": "tw", "auth_token": "t", "account_sid": "AC00000000000000000000000000000000",
             "poll": {}},
            {"kind": "exotel", "id": "ex", "token": "0123456789abcdef", "account_sid": "acme", "api_key": "k",
             "api_token": "t", "poll": {}},
            {"kind": "webhook", "id": "gw", "signature": {"scheme": "standard_webhooks",
             "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "fields": {"phone": "/phone"}},
            {"kind": "zoho", "id": "zo", "data_centre": "eu", "client_id": "c", "client_secret": "s", "refresh_token": "r"},
            {"kind": "pipedrive", "id": "pd", "api_token": "t"},
            {"kind": "vapi", "id": "vapi", "secret": "s", "api_key": "k"},
            {"kind": "retell", "id": "retell", "api_key": "k", "poll": {}},
            {"kind": "salesforce", "id": "sf", "client_id": "c", "client_secret": "s", "refresh_token": "r"},
        ]))
        .unwrap();
        assert_eq!(configs.len(), KINDS.len(), "one example per kind");
        for config in &configs {
            let declared = KINDS.iter().find(|k| k.name == config.kind()).unwrap().builds;
            assert_eq!(Builds::of(&config.build(&context()).unwrap()), declared, "{}", config.kind());
        }
    }
}
