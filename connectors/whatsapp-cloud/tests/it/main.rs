//! Integration tests of the WhatsApp Cloud connector, one binary (faster to build and link).
//! Fixtures in `tests/fixtures/` are our own, shaped like Meta's webhook reference.

mod fuzz;
mod handshake;
mod parse_messages;
mod parse_statuses;
mod proxy;
mod signature;
mod turns;

use chrono::{DateTime, Utc};
use handoffd_contract::interaction::{Content, Interaction, Message};
use handoffd_contract::webhook::{ParsedEvent, WebhookSource};
use handoffd_whatsapp_cloud::{WhatsappCloud, WhatsappCloudConfig};

pub const APP_SECRET: &str = "wa-test-app-secret-71";
pub const VERIFY_TOKEN: &str = "verify-me-4471";

pub fn connector() -> WhatsappCloud {
    let config: WhatsappCloudConfig = serde_json::from_value(serde_json::json!({
        "id": "wa-main",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "phone_number_id": "106600112233, 106600112299",
    }))
    .expect("the test config is valid");
    WhatsappCloud::new(config)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

pub fn parse_fixture(name: &str) -> ParsedEvent {
    connector().parse(&fixture(name)).unwrap_or_else(|error| panic!("{name} does not parse: {error}"))
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
