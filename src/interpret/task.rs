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
    add("Action", brief.recommended_action.clone());
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
