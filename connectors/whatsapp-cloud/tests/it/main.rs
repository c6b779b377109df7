//! Integration tests of the WhatsApp Cloud connector, one binary (faster to build and link).
//! Fixtures in `tests/fixtures/` are our own, shaped like Meta's webhook reference.

mod fuzz;
mod handshake;
mod kind;
mod messenger;
mod parse_messages;
mod parse_statuses;
mod proxy;
mod routes;
mod signature;
mod turns;

use chrono::{DateTime, Utc};
use handoffd_contract::interaction::{Content, Interaction, Message};
use handoffd_contract::webhook::{Handshake, ParseError, ParsedEvent, RawRequest, WebhookSource};
use handoffd_whatsapp_cloud::{WhatsappCloud, WhatsappCloudConfig, sign};
use http::{HeaderMap, HeaderValue, Method};

pub const APP_SECRET: &str = "wa-test-app-secret-71";
pub const VERIFY_TOKEN: &str = "verify-me-4471";

pub fn config() -> WhatsappCloudConfig {
    serde_json::from_value(serde_json::json!({
        "id": "wa-main",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "phone_number_id": "106600112233, 106600112299",
    }))
    .expect("the test config is valid")
}

pub fn connector() -> WhatsappCloud {
    WhatsappCloud::new(config())
}

/// A request as the daemon hands it over.
pub fn request<'a>(method: &'a Method, query: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> RawRequest<'a> {
    RawRequest { method, path: "/webhooks/wa-main", query, headers, body, received_at: chrono::Utc::now(), peer: None }
}

/// Headers with Meta's signature of `body`.
pub fn signed_headers(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-hub-signature-256", HeaderValue::from_str(&sign(APP_SECRET, body)).unwrap());
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

/// Parse `body` the only way the connector allows: signed, verified, then parsed.
pub fn parse(body: &[u8]) -> Result<ParsedEvent, ParseError> {
    let headers = signed_headers(body);
    let connector = connector();
    let verified = connector.verify(&request(&Method::POST, "", &headers, body)).expect("a signed body verifies");
    connector.parse(&verified)
}

/// The connector's answer to a GET with `query`.
pub fn handshake(query: &str) -> Handshake {
    connector().handshake(&request(&Method::GET, query, &HeaderMap::new(), b""))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

pub fn parse_fixture(name: &str) -> ParsedEvent {
    parse(&fixture(name)).unwrap_or_else(|error| panic!("{name} does not parse: {error}"))
}

pub fn message(interaction: &Interaction) -> &Message {
    match &interaction.content {
        Content::Message(message) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Unix seconds to UTC, for expected `at` values.
pub fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a valid timestamp")
}
