//! The canonical conversation: what interpretation reads and `handoffd explain` accepts.
//!
//! Its JSON form is the `input` object of `shared/eval/README.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Who spoke a turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    #[default]
    Customer,
    Ai,
    Agent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// The moment the handoff is made (RFC 3339 with offset).
    pub now: DateTime<FixedOffset>,
    /// IANA zone of the customer / business, e.g. `Asia/Kolkata`: business hours are read in it.
    pub timezone: String,
    /// The customer's own zone when it is not `timezone` (a +55 customer of a business in
    /// India): the window the customer names is read in it. Absent, it comes from the customer's
    /// phone when that is in another country than `timezone`, else it is `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_timezone: Option<String>,
    /// Opening hours per day (`mon`..`sun` -> `"09:30-19:30"`); a missing day is closed.
    #[serde(default)]
    pub business_hours: BTreeMap<String, String>,
    #[serde(default)]
    pub customer: ConversationCustomer,
    /// whatsapp | voice | sms | webchat | email
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub turns: Vec<Turn>,
    /// When present, the brief is made from the turns up to this instant; later turns are the
    /// owner's first contact (used to find re-asked facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_at: Option<DateTime<FixedOffset>>,
    /// Structured analysis a voice vendor sent with the call, keyed by the vendor's field
    /// names (Vapi `analysis.structuredData`, Retell `call_analysis.custom_analysis_data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_analysis: Option<VendorAnalysis>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationCustomer {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    pub at: DateTime<FixedOffset>,
    pub from: Speaker,
    pub text: String,
}

/// A voice vendor's own structured analysis of a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorAnalysis {
    /// `vapi`, `retell`, ...: selects the configured field mapping.
    pub vendor: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}
