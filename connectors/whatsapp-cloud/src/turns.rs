//! The turns endpoint (`POST /webhooks/{id}/turns`): bots that cannot point their Graph API
//! base URL at handoffd post what they (or a human agent) said, signed with the app secret.

use chrono::{DateTime, FixedOffset, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, Message};
use handoffd_contract::webhook::ParseError;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::keys::user_keys;

/// The body of a turns post.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnBody {
    /// The customer: an E.164 number (`+9198...`), a `wa_id`, or a business-scoped user id.
    to: String,
    /// When the turn was said (RFC 3339 with offset).
    at: DateTime<FixedOffset>,
    from: TurnSpeaker,
    text: String,
    /// The speaker hands the conversation to a human now (the end signal).
    #[serde(default)]
    handoff: bool,
    /// The bot's own id for the message, the dedup key when given.
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TurnSpeaker {
    Ai,
    Agent,
}

/// Parse a turns post into an outbound message.
pub fn parse_turn(body: &[u8]) -> Result<Interaction, ParseError> {
    let turn: TurnBody = serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => ParseError::Shape(error.to_string()),
        _ => ParseError::Json(error.to_string()),
    })?;
    let keys = user_keys(Some(&turn.to), None);
    if keys.is_empty() {
        return Err(ParseError::Shape("`to` is empty".to_owned()));
    }
    let text = turn.text.trim();
    if text.is_empty() {
        return Err(ParseError::Shape("`text` is empty".to_owned()));
    }
    let at = turn.at.with_timezone(&Utc);
    let from = match turn.from {
        TurnSpeaker::Ai => Speaker::Ai,
        TurnSpeaker::Agent => Speaker::Agent,
    };
    let dedup_key = match turn.message_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => content_key(&turn.to, at, turn.from, text),
    };
    Ok(Interaction {
        dedup_key,
        channel: Channel::Whatsapp,
        direction: Direction::Outbound,
        at,
        keys,
        display_name: None,
        content: Content::Message(Message {
            from,
            kind: "text".to_owned(),
            text: Some(text.to_owned()),
            handoff: turn.handoff,
            ..Message::default()
        }),
    })
}

/// A key stable across re-posts of the same turn: a hash of who, when, which side and what.
fn content_key(to: &str, at: DateTime<Utc>, from: TurnSpeaker, text: &str) -> String {
    let mut hasher = Sha256::new();
    // NUL separators keep ("ab", "c") and ("a", "bc") apart.
    for part in [to.trim(), &at.to_rfc3339(), if matches!(from, TurnSpeaker::Ai) { "ai" } else { "agent" }, text] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    format!("turn:{}", &hex::encode(hasher.finalize())[..32])
}
