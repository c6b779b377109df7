//! The generic `webhook` connector: any vendor that posts signed JSON, configured instead of
//! coded. The signature is Standard Webhooks or an HMAC described in the config; JSON Pointers
//! say where the customer, the turns, the time, the vendor's analysis and the dedup key are.
//!
//! Layout:
//! - [`config`]: the `kind: webhook` config block, field by field.
//! - [`signature`]: Standard Webhooks and the configurable HMAC.
//! - [`mapping`]: a payload onto canonical interactions.
//! - [`kind`]: `kind: webhook` for the daemon's registry.
//!
//! Replays: a signed timestamp outside the tolerance is refused (401, nothing stored); a replay
//! inside it is stored and then dropped by its dedup key (Standard Webhooks' `webhook-id` by
//! default), as the specification intends (a vendor's retry reuses the id).

pub mod config;
pub mod kind;
pub mod mapping;
pub mod signature;

use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};

pub use config::WebhookConfig;
pub use kind::WebhookKind;
use signature::Scheme;

/// One configured vendor as a webhook source.
pub struct GenericWebhook {
    config: WebhookConfig,
    scheme: Scheme,
}

impl std::fmt::Debug for GenericWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericWebhook").field("config", &self.config).finish_non_exhaustive()
    }
}

impl GenericWebhook {
    /// Fails on what validation refuses (a secret that does not decode, a bad duration).
    pub fn new(config: WebhookConfig) -> Result<Self, String> {
        let scheme = kind::scheme(&config.signature)?;
        Ok(Self { config, scheme })
    }
}

impl WebhookSource for GenericWebhook {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn handshake(&self, _request: &RawRequest<'_>) -> Handshake {
        Handshake::NotAHandshake
    }

    fn kept_headers(&self) -> &[&'static str] {
        self.scheme.kept_headers()
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        self.scheme.verify(request)
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        mapping::parse(&self.config, event)
    }
}
