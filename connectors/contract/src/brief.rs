//! The handoff brief. Field names are fixed by DESIGN.md: the evaluation set and users'
//! tooling read them.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    pub customer: BriefCustomer,
    /// e.g. "meta_lead_ad", "vapi:inbound-sales".
    pub source: Option<String>,
    /// Most recent first, short.
    pub channel_history: Vec<ChannelEvent>,
    /// One sentence in the customer's own terms.
    pub stated_need: Option<String>,
    pub intents: Vec<Finding>,
    pub urgency: Urgency,
    pub disposition: Disposition,
    pub objections: Vec<Finding>,
    /// The time the customer named for the next contact; `None` when they named none.
    pub requested_window: Option<TimeWindow>,
    /// How the customer wants to be reached ("no calls, email is fine"), or null.
    #[serde(default)]
    pub contact_preference: Option<ContactPreference>,
    /// What the AI promised, verbatim-short.
    pub promised_next_step: Option<String>,
    /// Facts the customer already gave: the owner must not ask them again.
    pub do_not_ask: Vec<FactValue>,
    pub recommended_owner: Option<OwnerChoice>,
    /// One imperative sentence.
    pub recommended_action: String,
    pub due: Option<Due>,
    /// Facts on `do_not_ask` that the owner asked again after the handoff.
    pub reasked_facts: Vec<Reask>,
    /// False when there is nothing to act on (no customer turn): no task is created.
    pub actionable: bool,
    /// What ended the conversation: `quiet_period`, `handoff_marker`, `call_ended`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// The language the customer wrote or spoke in, as the vocabulary's folders name them: `en`, `hi`
    /// (Hindi and Hinglish, Hindi in Latin letters), `es`, `pt`; `None` when their turns are too short to
    /// tell. Routing rules match it (`when.language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Things the owner should know about the data itself (an unparseable phone kept raw, two
    /// CRM contacts claiming the same phone, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The channels a customer asked to be reached on and those they refused, with the phrase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPreference {
    /// Channels they asked for, in the order they named them (`call`, `whatsapp`, `email`, `sms`).
    pub channels: Vec<String>,
    /// Channels they refused.
    pub avoid: Vec<String>,
    pub evidence: String,
    pub turn: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BriefCustomer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_contact_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelEvent {
    pub channel: String,
    pub at: DateTime<FixedOffset>,
    pub summary: String,
}

/// A conclusion with its evidence: a code (intent, objection or urgency reason), the phrase
/// quoted short, and the 0-based turn it came from (`None` when it came from a vendor field or
/// a rule rather than a turn).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub evidence: String,
    pub turn: Option<usize>,
}

/// A fact the customer had given that the owner asked for again after the handoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reask {
    pub fact: String,
    pub evidence: String,
    pub turn: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyLevel {
    Low,
    Medium,
    High,
}

impl UrgencyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Urgency {
    pub level: UrgencyLevel,
    pub reasons: Vec<Finding>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Callback,
    Escalation,
    Nurture,
    ClosedLost,
    Booked,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Callback => "callback",
            Self::Escalation => "escalation",
            Self::Nurture => "nurture",
            Self::ClosedLost => "closed_lost",
            Self::Booked => "booked",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub not_before: DateTime<FixedOffset>,
    pub not_after: DateTime<FixedOffset>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactValue {
    pub fact: String,
    pub value: String,
    pub turn: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnerChoice {
    pub id: String,
    pub name: Option<String>,
    /// The routing rule that chose the owner.
    pub rule: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Due {
    pub at: DateTime<FixedOffset>,
    pub reason: String,
}
