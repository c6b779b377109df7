//! The `kind: webhook` config block: how requests are signed, and where each canonical field
//! sits in the payload (JSON Pointers, RFC 6901).

use std::collections::HashMap;

use handoffd_contract::interaction::CallOutcome;
use serde::Deserialize;

/// `kind: webhook`: any vendor that posts JSON, without a connector of its own.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The connector id: events arrive on `POST /webhooks/{id}`.
    pub id: String,
    /// How the vendor signs its requests. (Boxed, like `fields`: the block is large and the
    /// daemon keeps every connector's block in one enum.)
    pub signature: Box<SignatureConfig>,
    /// The channel the events happened on: `voice` (each event is one call), or `whatsapp`,
    /// `sms`, `webchat`, `email` (each turn is one message).
    #[serde(default = "default_channel")]
    pub channel: String,
    /// Where the canonical fields are in the payload.
    pub fields: Box<FieldMap>,
    /// Only events whose value at `accept.pointer` is one of `accept.values` are recorded;
    /// others are listed as ignored (e.g. a vendor's `call.started`).
    #[serde(default)]
    pub accept: Option<AcceptRule>,
    /// The vendor's words for the speakers of turns.
    #[serde(default)]
    pub roles: Roles,
    /// Vendor values of `fields.ended_reason` that mean the call did not connect, by outcome
    /// (`voicemail`, `busy`, `no_answer`, `failed`), e.g. `voicemail: [voicemail,
    /// machine_detected]`; compared case-insensitively. Any other reason is a connected call.
    /// Such calls join the customer's history and make no task; so does a connected call with
    /// no customer turn (map `turns` or `text`, or every call counts as silent).
    #[serde(default)]
    pub call_outcomes: HashMap<CallOutcome, Vec<String>>,
    /// ISO 3166 region for numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
}

fn default_channel() -> String {
    "voice".to_owned()
}

/// `scheme: standard_webhooks` or `scheme: hmac`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum SignatureConfig {
    /// The Standard Webhooks specification: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` headers; HMAC-SHA256 of `{id}.{timestamp}.{body}`; one or more
    /// space-separated `v1,<base64>` signatures.
    StandardWebhooks {
        /// The endpoint's secret as the vendor shows it: `whsec_` and base64.
        secret: String,
        /// How far the signed timestamp may be from our clock, either way.
        #[serde(default = "default_tolerance")]
        tolerance: String,
    },
    /// An HMAC over a template of the body, a timestamp and an id.
    Hmac {
        /// The header that carries the signature (e.g. `X-Acme-Signature`).
        header: String,
        /// `sha1`, `sha256` or `sha512`.
        algorithm: HmacAlgorithm,
        /// How the digest is written: `hex` (either case is accepted) or `base64`.
        encoding: DigestEncoding,
        /// The key, used as its bytes (UTF-8).
        secret: String,
        /// What is signed: a template of `{body}` (the raw body), `{timestamp}` (the value of
        /// `timestamp_header`) and `{id}` (the value of `id_header`), e.g. `{timestamp}.{body}`.
        #[serde(default = "default_signed")]
        signed: String,
        /// Written before the digest in the header (e.g. `sha256=`); stripped before comparing.
        #[serde(default)]
        prefix: Option<String>,
        /// The header with the signed timestamp (Unix seconds or milliseconds). When given, a
        /// request outside `tolerance` is refused as stale.
        #[serde(default)]
        timestamp_header: Option<String>,
        /// The header with the event id, for `{id}` in `signed`.
        #[serde(default)]
        id_header: Option<String>,
        /// How far the signed timestamp may be from our clock, either way.
        #[serde(default = "default_tolerance")]
        tolerance: String,
    },
}

fn default_tolerance() -> String {
    "5m".to_owned()
}

fn default_signed() -> String {
    "{body}".to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    Hex,
    Base64,
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for SignatureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StandardWebhooks { tolerance, .. } => {
                f.debug_struct("StandardWebhooks").field("tolerance", tolerance).finish_non_exhaustive()
            }
            Self::Hmac {
                header, algorithm, encoding, signed, prefix, timestamp_header, id_header, tolerance, ..
            } => f
                .debug_struct("Hmac")
                .field("header", header)
                .field("algorithm", algorithm)
                .field("encoding", encoding)
                .field("signed", signed)
                .field("prefix", prefix)
                .field("timestamp_header", timestamp_header)
                .field("id_header", id_header)
                .field("tolerance", tolerance)
                .finish_non_exhaustive(),
        }
    }
}

/// JSON Pointers (`/call/customer/number`) into the payload. Every field is optional except
/// what makes an event identifiable: `dedup_key` (unless Standard Webhooks' `webhook-id` is
/// used), and at least one of `phone` and `email`.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// The event's stable id, one pointer or several (their values joined with `:`, e.g. a
    /// call id and an event type). Default with Standard Webhooks: the `webhook-id` header.
    #[serde(default)]
    pub dedup_key: Option<Pointers>,
    /// The customer's phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The customer's email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The customer's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The channel, when the payload names it (overrides `channel`).
    #[serde(default)]
    pub channel: Option<String>,
    /// When it happened: RFC 3339, or Unix seconds or milliseconds. Default: when received.
    #[serde(default)]
    pub time: Option<String>,
    /// An array of turns; each turn is read with `turn_role`, `turn_text`, `turn_offset`.
    #[serde(default)]
    pub turns: Option<String>,
    /// Inside a turn: who spoke (matched against `roles`).
    #[serde(default = "default_turn_role")]
    pub turn_role: String,
    /// Inside a turn: what was said.
    #[serde(default = "default_turn_text")]
    pub turn_text: String,
    /// Inside a turn: seconds from the start of the call.
    #[serde(default)]
    pub turn_offset: Option<String>,
    /// A whole transcript as text, when there is no array of turns: lines starting with a
    /// role and `:` (`User: ...`, `AI: ...`) become turns; a text without them is one
    /// customer turn.
    #[serde(default)]
    pub text: Option<String>,
    /// The call's id (default: the dedup key).
    #[serde(default)]
    pub call_id: Option<String>,
    /// The call's length in seconds.
    #[serde(default)]
    pub duration: Option<String>,
    /// A recording's URL (referenced, never downloaded).
    #[serde(default)]
    pub recording_url: Option<String>,
    /// Why the call ended, in the vendor's words (read by `not_a_handoff`).
    #[serde(default)]
    pub ended_reason: Option<String>,
    /// Vendor analysis kept on the call under the names given here (e.g. `summary:
    /// /analysis/summary`, `structured_data: /analysis/structuredData`); interpretation maps
    /// them onto the brief by the connector's id.
    #[serde(default)]
    pub analysis: HashMap<String, String>,
}

fn default_turn_role() -> String {
    "/role".to_owned()
}

fn default_turn_text() -> String {
    "/text".to_owned()
}

/// One JSON Pointer or several.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Pointers {
    One(String),
    Many(Vec<String>),
}

impl Pointers {
    pub fn all(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRule {
    /// Where the event type is.
    pub pointer: String,
    /// The event types that are recorded.
    pub values: Vec<String>,
}

/// The vendor's words for each speaker, compared case-insensitively.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    #[serde(default = "default_customer_roles")]
    pub customer: Vec<String>,
    #[serde(default = "default_ai_roles")]
    pub ai: Vec<String>,
    #[serde(default = "default_agent_roles")]
    pub agent: Vec<String>,
}

impl Default for Roles {
    fn default() -> Self {
        Self { customer: default_customer_roles(), ai: default_ai_roles(), agent: default_agent_roles() }
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

fn default_customer_roles() -> Vec<String> {
    words(&["user", "customer", "caller", "human", "lead"])
}

fn default_ai_roles() -> Vec<String> {
    words(&["assistant", "bot", "ai", "agent"])
}

fn default_agent_roles() -> Vec<String> {
    words(&["operator", "human_agent", "representative"])
}
