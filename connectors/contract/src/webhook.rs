//! The webhook-source side of the contract: verify raw bytes, answer handshakes, parse.
//!
//! The daemon calls [`WebhookSource::verify`] on the raw request before anything is stored,
//! commits the raw body, answers the vendor, and only later calls [`WebhookSource::parse`] on
//! the stored body. Parsing therefore never sees an unverified body and never delays an ack.

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};

use crate::interaction::Interaction;

/// A request as it arrived, before any parsing.
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
}

/// The answer to a vendor handshake (a GET that is not an event).
#[derive(Clone, Debug, PartialEq, Eq)]
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
    fn handshake(&self, query: &str) -> Handshake;

    /// Check the request's signature (and timestamp window) on the raw bytes.
    fn verify(&self, request: &RawRequest<'_>) -> Result<(), VerifyError>;

    /// Turn a verified, stored body into interactions.
    fn parse(&self, body: &[u8]) -> Result<ParsedEvent, ParseError>;
}
