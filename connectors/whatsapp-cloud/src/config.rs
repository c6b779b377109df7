use serde::Deserialize;

/// `kind: whatsapp_cloud`: one WhatsApp Business Account's webhook and Graph API access.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatsappCloudConfig {
    /// The connector id: webhooks arrive on `/webhooks/{id}`.
    pub id: String,
    /// The Meta app secret: signs every webhook (`X-Hub-Signature-256`) and every turns post.
    pub app_secret: String,
    /// The token Meta echoes in the subscription handshake (`hub.verify_token`).
    pub verify_token: String,
    /// Graph API token, for sending templates (optional: the proxy forwards the bot's own).
    #[serde(default)]
    pub access_token: Option<String>,
    /// The business phone number(s) this connector serves (`metadata.phone_number_id`); several
    /// are written comma-separated (`"1066001,1066002"`).
    pub phone_number_id: String,
    /// Graph API base URL (the send proxy forwards here).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Bearer tokens that human agents' tools send through the proxy with: their sends are
    /// recorded as `agent` turns (the owner's first contact), all others as `ai` turns.
    #[serde(default)]
    pub agent_access_tokens: Vec<String>,
    /// ISO 3166 region for numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
}

impl WhatsappCloudConfig {
    /// Each phone number id of `phone_number_id`, trimmed, empty parts skipped.
    pub fn phone_number_ids(&self) -> impl Iterator<Item = &str> {
        self.phone_number_id.split(',').map(str::trim).filter(|id| !id.is_empty())
    }
}

fn default_base_url() -> String {
    "https://graph.facebook.com".to_owned()
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for WhatsappCloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappCloudConfig")
            .field("id", &self.id)
            .field("phone_number_id", &self.phone_number_id)
            .field("base_url", &self.base_url)
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}
