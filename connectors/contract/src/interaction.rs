//! Interactions: what a connector turns one verified vendor event into.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::conversation::Speaker;
use crate::identity::IdentityKey;

/// The channel an interaction happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Whatsapp,
    Voice,
    Sms,
    Webchat,
    Email,
    Crm,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Voice => "voice",
            Self::Sms => "sms",
            Self::Webchat => "webchat",
            Self::Email => "email",
            Self::Crm => "crm",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer to the business.
    Inbound,
    /// From the business (its AI or an agent) to the customer.
    Outbound,
}

/// One event of one customer on one channel, in canonical form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Stable across vendor redeliveries, unique within the connector: WhatsApp `wamid` for a
    /// message, `wamid:status` for a status, a call id + event for voice.
    pub dedup_key: String,
    pub channel: Channel,
    pub direction: Direction,
    /// When the vendor says it happened (not when we received it).
    pub at: DateTime<Utc>,
    /// The keys of the customer this interaction belongs to (never of the business).
    pub keys: Vec<IdentityKey>,
    /// The customer's display name where the vendor gives one (WhatsApp profile name).
    pub display_name: Option<String>,
    pub content: Content,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Message(Message),
    Call(Call),
    Status(DeliveryStatus),
    System(SystemEvent),
}

/// A chat message (any type: text, media, interactive reply, location, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub from: Speaker,
    /// The vendor's message type, kept as sent even when unknown to us
    /// (`text`, `image`, `interactive.button_reply`, `button`, `reaction`, `unsupported`, ...).
    pub kind: String,
    /// What a person reads: the text, a caption, a button title, a summary of a location or a
    /// shared contact. `None` when the message carries nothing readable.
    pub text: Option<String>,
    pub media: Vec<MediaRef>,
    /// The message this one replies to, reacts to, edits or deletes.
    pub refers_to: Option<String>,
    /// Whether this edits (`edit`) or deletes (`revoke`) `refers_to`.
    pub modifies: Option<Modification>,
    /// Click-to-chat ad or other attribution that brought the customer.
    pub referral: Option<Referral>,
    /// The sender marked this message as the handoff (e.g. a turn posted with `handoff: true`).
    pub handoff: bool,
    /// Vendor fields we keep for inspection but do not interpret.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub extra: serde_json::Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modification {
    Edit,
    Revoke,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    /// image | video | audio | voice | document | sticker
    pub kind: String,
    /// The vendor's media id or URL.
    pub id: String,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    /// e.g. "ad", "post" (WhatsApp `source_type`).
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub source_url: Option<String>,
    pub headline: Option<String>,
    pub body: Option<String>,
    /// Click id for ad attribution (WhatsApp `ctwa_clid`).
    pub click_id: Option<String>,
}

/// A finished call with its transcript.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub call_id: String,
    pub turns: Vec<CallTurn>,
    pub duration_secs: Option<u64>,
    pub recording_url: Option<String>,
    /// The vendor's own structured analysis (Vapi `analysis`, Retell `call_analysis`), as sent.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub analysis: serde_json::Value,
    /// Why the call ended, in the vendor's words.
    pub ended_reason: Option<String>,
    /// What became of the call, read by its connector from the vendor's reason: only a
    /// connected call can be a handoff; the others join the customer's history and are counted.
    #[serde(default)]
    pub outcome: CallOutcome,
}

/// What became of a call, whatever the vendor calls it (Vapi `endedReason`, Retell
/// `disconnection_reason`, Twilio `CallStatus`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The customer was on the line (whether or not they spoke: see the turns).
    #[default]
    Connected,
    /// An answering machine or voicemail took the call.
    Voicemail,
    /// The line was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The call could not be placed or broke before it connected.
    Failed,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Voicemail => "voicemail",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallTurn {
    pub from: Speaker,
    pub text: String,
    /// Offset from the start of the call.
    pub offset_secs: Option<f64>,
}

/// What happened to a message the business sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// The id of the outbound message (WhatsApp `wamid`).
    pub message_id: String,
    /// sent | delivered | read | played | failed | any other vendor value, kept as sent.
    pub status: String,
    pub errors: Vec<VendorError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VendorError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
}

/// A vendor system event about the customer (e.g. WhatsApp `system`: number changed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemEvent {
    /// The vendor's event type, e.g. `customer_changed_number`, `customer_identity_changed`.
    pub kind: String,
    pub text: Option<String>,
    /// Keys the customer is known by from now on (a new number, a new wa_id).
    pub new_keys: Vec<IdentityKey>,
}
