//! The webhook-source side of the contract: answer handshakes, verify the whole request, parse.
//!
//! The daemon calls [`WebhookSource::verify`] on the request as it arrived, before anything is
//! stored. Only a successful verification yields a [`Verified`], and parsing takes nothing
//! else: an unverified body cannot be parsed by mistake. The daemon commits the verified event
//! to the inbox, answers the vendor, and only later calls [`WebhookSource::parse`] on the
//! stored row, so parsing never delays an acknowledgement.

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};

use crate::interaction::Interaction;
pub use crate::verified::Verified;

/// A request as it arrived, before any parsing: everything a vendor may sign. Twilio signs the
/// URL and the form parameters, Exotel sends its events as GET query parameters, Vapi and
/// Retell put timestamps in headers.
#[derive(Debug)]
pub struct RawRequest<'a> {
    pub method: &'a Method,
    /// The path as requested, e.g. `/webhooks/wa-main`.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub received_at: DateTime<Utc>,
    /// The address the request came from, as the server's socket saw it (a reverse proxy's
    /// address when there is one); `None` when unknown (tests, offline tools). Exotel signs
    /// nothing, so its connector may allow only listed source addresses.
    pub peer: Option<std::net::IpAddr>,
}

/// The answer to a vendor handshake (a GET that is not an event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handshake {
    /// Answer 200 with this body (WhatsApp: the `hub.challenge` value).
    Accept(String),
    /// The handshake was for this source, but its token is wrong: 403.
    Forbidden,
    /// Not a handshake this source knows.
    NotAHandshake,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the request carries no signature (expected header `{0}`)")]
    Missing(&'static str),
    #[error("the signature header is malformed: {0}")]
    Malformed(String),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signed timestamp is outside the allowed window")]
    Stale,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("the body does not have the expected shape: {0}")]
    Shape(String),
}

/// What a verified body holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedEvent {
    pub interactions: Vec<Interaction>,
    /// Parts the connector recognised but does not turn into interactions (e.g. a change on a
    /// field we do not subscribe to), described for the logs.
    pub ignored: Vec<String>,
}

/// A vendor that pushes events to `/webhooks/{id}`.
pub trait WebhookSource: Send + Sync {
    /// The connector id from the config (the `{id}` in the webhook path).
    fn id(&self) -> &str;

    /// Answer a vendor handshake (WhatsApp's `hub.mode=subscribe` GET).
    fn handshake(&self, request: &RawRequest<'_>) -> Handshake;

    /// Whether the vendor delivers events by GET (Exotel's Passthru): a GET that is not a
    /// handshake is then verified and stored like a POST, instead of answered 400.
    fn events_by_get(&self) -> bool {
        false
    }

    /// Headers that parsing will need, kept with the body in the inbox (lowercase names; never
    /// credentials or signatures). The query string and the body are always kept.
    fn kept_headers(&self) -> &[&'static str] {
        &["content-type"]
    }

    /// Check the request's signature, token or timestamp window. Connectors implement this;
    /// the daemon calls [`WebhookSource::verify`], which alone turns a pass into a [`Verified`].
    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError>;

    /// Authenticate the request and keep what parsing needs.
    fn verify(&self, request: &RawRequest<'_>) -> Result<Verified, VerifyError> {
        Verified::check(request, self.kept_headers(), |request| self.authenticate(request))
    }

    /// Turn a verified, stored event into interactions.
    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError>;
}
