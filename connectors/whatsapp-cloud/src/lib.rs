//! WhatsApp Business Cloud API connector: webhook handshake, signature verification, parsing
//! of every message and status type, and what the send proxy needs to know of Graph API sends.
//!
//! Layout:
//! - [`config`]: the `kind: whatsapp_cloud` config block.
//! - [`signature`]: `X-Hub-Signature-256` (webhooks and the turns endpoint).
//! - [`handshake`]: the `hub.mode=subscribe` GET.
//! - `parse/`: webhook bodies into interactions (`message.rs`, `status.rs`).
//! - [`proxy`]: the send proxy's path and the `ai` turn a Graph API send becomes.
//! - [`turns`]: the turns endpoint's body.
//! - `keys`, `render`, `json`: identity keys, readable summaries, lenient JSON readers.

mod config;
pub mod handshake;
mod json;
pub mod keys;
mod parse;
pub mod proxy;
mod render;
pub mod signature;
pub mod turns;

use handoffd_contract::webhook::{Handshake, ParseError, ParsedEvent, RawRequest, VerifyError, WebhookSource};

pub use config::WhatsappCloudConfig;
pub use proxy::{ProxyPath, outbound_from_send, parse_proxy_path};
pub use signature::sign;
pub use turns::parse_turn;

/// One WhatsApp Business Account, as a webhook source and as the send proxy's target.
#[derive(Debug)]
pub struct WhatsappCloud {
    config: WhatsappCloudConfig,
}

impl WhatsappCloud {
    pub fn new(config: WhatsappCloudConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &WhatsappCloudConfig {
        &self.config
    }

    /// Whether `phone_number_id` is one this connector serves (`phone_number_id` in the config,
    /// which may list several, comma-separated). The send proxy forwards only for these.
    pub fn serves_phone_number(&self, phone_number_id: &str) -> bool {
        !phone_number_id.is_empty() && self.config.phone_number_ids().any(|id| id == phone_number_id)
    }

    /// Check a turns-endpoint post: signed like Meta's webhooks, with the same app secret.
    pub fn verify_turn(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        signature::verify(&self.config.app_secret, request.headers, request.body)
    }
}

impl WebhookSource for WhatsappCloud {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn handshake(&self, query: &str) -> Handshake {
        handshake::answer(query, &self.config.verify_token)
    }

    fn verify(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        signature::verify(&self.config.app_secret, request.headers, request.body)
    }

    fn parse(&self, body: &[u8]) -> Result<ParsedEvent, ParseError> {
        parse::parse_body(body)
    }
}
