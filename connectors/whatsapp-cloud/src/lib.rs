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
//! - [`routes`]: the HTTP routes the connector serves (turns endpoint, send proxy).
//! - [`send`]: the connector as a messenger (templates, the 24-hour window).
//! - [`kind`]: `kind: whatsapp_cloud` for the daemon's registry (validation, what it builds).
//! - `keys`, `render`, `json`: identity keys, readable summaries, lenient JSON readers.

mod config;
pub mod handshake;
mod json;
pub mod keys;
pub mod kind;
mod parse;
pub mod proxy;
mod render;
pub mod routes;
pub mod send;
pub mod signature;
pub mod turns;

use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};

pub use config::WhatsappCloudConfig;
pub use kind::WhatsappCloudKind;
pub use proxy::{ProxyPath, outbound_from_send, parse_proxy_path};
pub use routes::send_proxy::parse_proxied_send;
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
}

impl WebhookSource for WhatsappCloud {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn handshake(&self, request: &RawRequest<'_>) -> Handshake {
        handshake::answer(request.query, &self.config.verify_token)
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        signature::verify(&self.config.app_secret, request.headers, request.body)
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse::parse_body(event.body(), event.received_at())
    }
}
