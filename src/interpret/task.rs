//! The CRM task text: a subject that reads as an action and facts a rep reads in 30 seconds.

use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Disposition};
use handoffd_contract::conversation::Conversation;
use handoffd_contract::task::{LabelledFact, TaskText};

use super::action::{join_and, label, window_phrase};
use super::text::shorten;

const SUBJECT_CHARS: usize = 79;

pub fn task_text(brief: &Brief, conversation: &Conversation, tz: Tz) -> TaskText {
    let name = brief.customer.name.as_deref().and_then(|n| n.split_whitespace().next()).unwrap_or("customer");
    let reach = super::action::reach_by(brief);
    let verb = match (brief.disposition, reach) {
        (Disposition::Callback, Some(channel)) => format!("{} {name}", capitalised(channel)),
        (Disposition::Escalation, Some(channel)) => format!("Escalation: {channel} {name}"),
        (disposition, _) => match disposition {
            Disposition::Callback => format!("Call {name}"),
            Disposition::Escalation => format!("Escalation: call {name}"),
            Disposition::Booked => format!("Prepare {name}'s booking"),
            Disposition::Nurture => format!("Nurture {name}"),
            Disposition::ClosedLost => format!("Close {name}'s lead"),
        },
    };
    let named = brief.do_not_ask.iter().find(|f| f.fact == "preferred_time").map(|f| f.value.as_str());
    let when = match (&brief.requested_window, named) {
        (Some(w), _) => format!(" {}", window_phrase(w, tz)),
        (None, Some(named)) if named.chars().count() <= 24 => format!(" ({named})"),
        _ => String::new(),
    };
    let topics: Vec<String> = brief
        .intents
        .iter()
        .filter(|f| !matches!(f.code.as_str(), "callback_request" | "not_interested"))
        .take(2)
        .map(|f| short_label(&f.code))
        .collect();
    let mut subject = format!("{verb}{when}");
    if !topics.is_empty() {
        subject.push_str(": ");
        subject.push_str(&topics.join(" + "));
    }
    let subject = shorten(&subject, SUBJECT_CHARS);

    let mut facts = Vec::new();
    let mut add = |label: &str, value: String| {
        if !value.is_empty() {
            facts.push(LabelledFact { label: label.to_owned(), value });
        }
    };
    add("Need", brief.stated_need.clone().unwrap_or_default());
    let mut why: Vec<String> = Vec::new();
    for reason in &brief.urgency.reasons {
        let quoted = format!("\"{}\"", reason.evidence);
        if why.len() < 3 && !why.contains(&quoted) {
            why.push(quoted);
        }
    }
    let urgency = if why.is_empty() {
        brief.urgency.level.as_str().to_owned()
    } else {
        format!("{} ({})", brief.urgency.level.as_str(), why.join(", "))
    };
    add("Urgency", urgency);
    if let Some(w) = &brief.requested_window {
        add("Requested time", window_phrase(w, tz));
    }
    let objections: Vec<String> =
        brief.objections.iter().map(|o| format!("{} (\"{}\")", label(&o.code), o.evidence)).collect();
    add("Objection", objections.join("; "));
    add("AI promised", brief.promised_next_step.clone().unwrap_or_default());
    let known: Vec<String> =
        brief.do_not_ask.iter().map(|f| format!("{}: {}", f.fact.replace('_', " "), f.value)).collect();
    add("Do not re-ask", join_and(&known));
    for fact in vendor_facts(brief, conversation) {
        add(&fact.label, fact.value);
    }
    add("Action", brief.recommended_action.clone());
    // Routing found nobody: the task is still written, and says so where a rep looks first.
    if brief.recommended_owner.is_none()
        && let Some(why) = brief.notes.iter().find(|n| n.starts_with("Unassigned:"))
    {
        add("Owner", why.clone());
    }
    let history: Vec<String> = brief.channel_history.iter().map(|e| e.summary.clone()).collect();
    add("History", history.join(" | "));
    TaskText { subject, facts, transcript_url: transcript_url(conversation) }
}

/// A topic as a subject reads it ("price", "visit", "payment plan").
fn short_label(code: &str) -> String {
    match code {
        "pricing" => "price".into(),
        "negotiation" => "discount".into(),
        "site_visit" => "site visit".into(),
        "support_issue" => "fix".into(),
        "appointment_booking" => "appointment".into(),
        "brochure_request" => "send documents".into(),
        "purchase_ready" => "ready to buy".into(),
        "admission_inquiry" => "admission".into(),
        other => other.replace('_', " "),
    }
}

/// Vendor fields that hold the call's summary, in order of preference.
const SUMMARY_FIELDS: &[&str] = &["summary", "call_summary"];
/// At most this many of the vendor's structured fields are shown; a task is read in 30 seconds.
const MAX_VENDOR_FIELDS: usize = 8;
const VENDOR_VALUE_CHARS: usize = 120;

/// The voice vendor's own analysis as labelled facts: its summary (unless it already is the
/// stated need) and its structured data, one `field: value` per field. Never the transcript.
fn vendor_facts(brief: &Brief, conversation: &Conversation) -> Vec<LabelledFact> {
    let Some(analysis) = &conversation.vendor_analysis else { return Vec::new() };
    let mut facts = Vec::new();
    let summary = SUMMARY_FIELDS.iter().find_map(|name| analysis.fields.get(*name)?.as_str()).map(str::trim);
    if let Some(summary) = summary.filter(|s| !s.is_empty() && brief.stated_need.as_deref() != Some(*s)) {
        facts.push(LabelledFact { label: "Call summary".into(), value: shorten(summary, 400) });
    }
    let data: Vec<String> = analysis
        .fields
        .iter()
        .filter(|(name, _)| !SUMMARY_FIELDS.contains(&name.as_str()) && !TRANSCRIPT_FIELDS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name, readable(value)?)))
        // A value already on the brief as a fact not to re-ask is not repeated.
        .filter(|(_, value)| !brief.do_not_ask.iter().any(|fact| fact.value.eq_ignore_ascii_case(value)))
        .map(|(name, value)| format!("{}: {}", words(name), shorten(&value, VENDOR_VALUE_CHARS)))
        .take(MAX_VENDOR_FIELDS)
        .collect();
    if !data.is_empty() {
        facts.push(LabelledFact { label: "Call data".into(), value: data.join("; ") });
    }
    facts
}

/// A vendor value as a person reads it (`yes`/`no`, lists joined); `None` for nothing to show.
fn readable(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::Bool(true) => Some("yes".into()),
        Value::Bool(false) => Some("no".into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(readable).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Object(_) => None,
    }
}

/// `callbackRequested` / `callback_requested` -> `callback requested`.
fn words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c == '_' || c == '-' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Vendor fields that carry a link to the transcript or recording, in order of preference.
const TRANSCRIPT_FIELDS: &[&str] =
    &["transcript_url", "transcriptUrl", "public_log_url", "recording_url", "recordingUrl"];

/// The transcript link, when the vendor analysis carries one.
fn transcript_url(conversation: &Conversation) -> Option<String> {
    let fields = &conversation.vendor_analysis.as_ref()?.fields;
    TRANSCRIPT_FIELDS
        .iter()
        .find_map(|name| fields.get(*name)?.as_str().filter(|url| url.starts_with("http")).map(str::to_owned))
}

/// "Email" for "email": a channel as a subject's first word.
fn capitalised(channel: &str) -> String {
    let mut chars = channel.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
