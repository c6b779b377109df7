//! Vapi connector: `end-of-call-report` server messages, authenticated by the credential the
//! admin configured in Vapi (an HMAC or bearer `authentication_plan` in Vapi's own shape, or the
//! legacy `X-Vapi-Secret`), and a poller that lists recent calls to fill the gaps (Vapi sends
//! each report once and does not retry).
//!
//! Layout:
//! - [`config`]: the `kind: vapi` config block, field by field.
//! - [`auth`]: HMAC, bearer and legacy-secret checks on the raw request.
//! - [`report`]: a report (or a Call object of `GET /call`) as a canonical voice interaction.
//! - [`poll`]: the poller (`GET /call` by creation time, a cursor that never skips a call).
//! - [`kind`]: `kind: vapi` for the daemon's registry (validation, what it builds).
//!
//! Dedup key: the call id and the message type (`<call.id>:end-of-call-report`): Vapi reuses a
//! call's id across its message types, and the poller keys a call the same way.

pub mod auth;
pub mod config;
pub mod kind;
pub mod poll;
pub mod report;

use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};
use serde_json::Value;

pub use config::{AuthenticationPlan, BearerPlan, HmacAlgorithm, HmacPlan, SignatureEncoding, VapiConfig};
pub use kind::VapiKind;

/// One Vapi server URL as a webhook source.
#[derive(Clone)]
pub struct Vapi {
    id: String,
    credential: auth::Credential,
}

impl std::fmt::Debug for Vapi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapi").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Vapi {
    /// The source a validated config describes (`None`: it names no credential).
    pub fn new(config: &VapiConfig) -> Option<Self> {
        let credential = match (&config.authentication_plan, &config.secret) {
            (Some(plan), _) => auth::Credential::Plan(plan.clone()),
            (None, Some(secret)) => auth::Credential::LegacySecret(secret.clone()),
            (None, None) => return None,
        };
        Some(Self { id: config.id.clone(), credential })
    }
}

impl WebhookSource for Vapi {
    fn id(&self) -> &str {
        &self.id
    }

    fn handshake(&self, _request: &RawRequest<'_>) -> Handshake {
        Handshake::NotAHandshake
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        self.credential.check(request)
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse_body(event.body(), event.received_at())
    }
}

/// A server message body (`{"message": {...}}`) into interactions: an end-of-call report
/// becomes one voice interaction; other message types are named in `ignored`.
pub fn parse_body(body: &[u8], received_at: chrono::DateTime<chrono::Utc>) -> Result<ParsedEvent, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    let message = value
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| ParseError::Shape("expected a server message `{\"message\": {...}}`".to_owned()))?;
    let kind = message
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError::Shape("the message has no `type`".to_owned()))?;
    if kind != report::END_OF_CALL_REPORT {
        return Ok(ParsedEvent { interactions: Vec::new(), ignored: vec![format!("message type `{kind}`")] });
    }
    let interaction = report::from_report(message, received_at).map_err(|e| ParseError::Shape(e.0))?;
    Ok(ParsedEvent { interactions: vec![interaction], ignored: Vec::new() })
}
