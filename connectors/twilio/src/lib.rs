//! Twilio Voice connector: status callbacks verified by `X-Twilio-Signature` (the Auth Token's
//! HMAC-SHA1, or a SharedKey's HMAC-SHA256), parsed into call interactions, and the Calls API
//! polled for the callbacks that never arrived.
//!
//! Layout:
//! - `config`: the `kind: twilio` config block, field by field ([`TwilioConfig`]).
//! - [`signature`]: the signed string, the URLs Twilio may have signed, the check.
//! - [`parse`]: form, JSON and GET callbacks into interactions; which calls are not handoffs.
//! - [`poll`]: the Calls API as a poll source.
//! - [`kind`]: `kind: twilio` for the daemon's registry.
//!
//! Dedup: `CallSid:CallStatus`, the same from a callback and from the poller. Only a finished
//! call is an interaction; its [`handoffd_contract::interaction::CallOutcome`] says whether it
//! connected (`busy`, `no-answer`, `failed`, `canceled` and calls a machine answered did not).
//! A status callback carries no transcript, so a connected Twilio call has no customer turn:
//! the pipeline keeps it in the customer's history; the conversation itself comes from the
//! voice AI's own connector (Vapi, Retell, `webhook`).

mod config;
pub mod kind;
pub mod parse;
pub mod poll;
pub mod signature;

use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};

pub use config::TwilioConfig;
pub use kind::TwilioKind;
pub use poll::TwilioCalls;

/// One Twilio account as a webhook source.
#[derive(Debug)]
pub struct Twilio {
    config: TwilioConfig,
}

impl Twilio {
    pub fn new(config: TwilioConfig) -> Self {
        Self { config }
    }
}

impl WebhookSource for Twilio {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn handshake(&self, _request: &RawRequest<'_>) -> Handshake {
        Handshake::NotAHandshake
    }

    /// Twilio sends status callbacks by GET when `StatusCallbackMethod=GET`.
    fn events_by_get(&self) -> bool {
        true
    }

    fn kept_headers(&self) -> &[&'static str] {
        &["content-type"]
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        let keys = signature::Keys {
            auth_token: &self.config.auth_token,
            shared_key: self.config.shared_key.as_deref(),
            public_url: self.config.public_url.as_deref(),
        };
        signature::verify(&keys, request).map_err(|refusal| {
            if !refusal.checked_urls.is_empty() {
                // The usual cause is a proxy that changed the URL Twilio called: say what was checked.
                tracing::warn!(
                    connector = %self.config.id,
                    checked_urls = ?refusal.checked_urls,
                    public_url_set = self.config.public_url.is_some(),
                    "The Twilio signature matches none of the URLs checked; behind a proxy that rewrites \
                     the URL, set `public_url` to the URL Twilio was given."
                );
            }
            refusal.error
        })
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse::parse(event)
    }
}
