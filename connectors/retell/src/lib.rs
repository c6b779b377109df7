//! Retell AI connector: `call_ended` and `call_analyzed` webhooks signed with
//! `x-retell-signature`, and a poller that lists calls to reconcile webhooks that never arrived.
//!
//! Layout:
//! - [`config`]: the `kind: retell` config block, field by field.
//! - [`signature`]: `x-retell-signature` (HMAC-SHA256 of body + timestamp, five minutes either way).
//! - [`call`]: a Retell call object as a canonical voice interaction.
//! - [`poll`]: the poller (`POST /v3/list-calls` by start time, a cursor that never skips a call).
//! - [`kind`]: `kind: retell` for the daemon's registry.
//!
//! Dedup key: the call id and the event (`<call_id>:call_ended`, `<call_id>:call_analyzed`).
//! Retell waits 10 s and retries three times: the daemon answers right after the durable write.

pub mod call;
pub mod config;
pub mod kind;
pub mod poll;
pub mod signature;

use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};
use serde_json::Value;

pub use config::RetellConfig;
pub use kind::RetellKind;
pub use signature::sign;

/// The events that carry a finished call.
pub const CALL_EVENTS: &[&str] = &["call_ended", "call_analyzed"];

/// One Retell workspace as a webhook source.
pub struct Retell {
    id: String,
    api_key: String,
}

impl std::fmt::Debug for Retell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retell").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Retell {
    pub fn new(config: &RetellConfig) -> Self {
        Self { id: config.id.clone(), api_key: config.api_key.clone() }
    }
}

impl WebhookSource for Retell {
    fn id(&self) -> &str {
        &self.id
    }

    fn handshake(&self, _request: &RawRequest<'_>) -> Handshake {
        Handshake::NotAHandshake
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        signature::verify(&self.api_key, request)
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse_body(event.body(), event.received_at())
    }
}

/// A webhook body (`{"event": ..., "call": {...}}`) into interactions: `call_ended` and
/// `call_analyzed` become one voice interaction each; other events are named in `ignored`.
pub fn parse_body(body: &[u8], received_at: chrono::DateTime<chrono::Utc>) -> Result<ParsedEvent, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    let event = value
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError::Shape("expected `{\"event\": ..., \"call\": {...}}`".to_owned()))?;
    if !CALL_EVENTS.contains(&event) {
        return Ok(ParsedEvent { interactions: Vec::new(), ignored: vec![format!("event `{event}`")] });
    }
    let call = value
        .get("call")
        .filter(|call| call.is_object())
        .ok_or_else(|| ParseError::Shape(format!("the `{event}` event has no `call` object")))?;
    let interaction = call::interaction(call, event, received_at).map_err(|e| ParseError::Shape(e.0))?;
    Ok(ParsedEvent { interactions: vec![interaction], ignored: Vec::new() })
}
