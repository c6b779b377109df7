//! The CRM task text: a subject that reads as an action and facts a rep reads in 30 seconds,
//! each said once.

use handoffd_contract::brief::{Brief, Disposition};
use handoffd_contract::conversation::Conversation;
use handoffd_contract::task::{LabelledFact, TaskText};

use super::action::{Clocks, join_and, label, task_action, window_phrase};
use super::text::shorten;

const SUBJECT_CHARS: usize = 79;
/// Facts named in the "Need" line, after the intents: what the rep needs to picture the deal.
const NEED_FACTS: &[&str] = &[
    "unit_type",
    "course",
    "location",
    "budget",
    "company_size",
    "payment_method",
    "timeline",
    "issue_details",
    "patient_details",
    "order_id",
];
const NEED_FACTS_SHOWN: usize = 4;
/// Facts that picture what the customer wants (a timeline or a payment method alone does not).
const PICTURE_FACTS: &[&str] =
    &["unit_type", "course", "location", "budget", "company_size", "issue_details", "patient_details", "order_id"];

pub fn task_text(brief: &Brief, conversation: &Conversation, clocks: Clocks) -> TaskText {
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
    let named = brief.do_not_ask.iter().find(|f| f.fact == "preferred_time").map(|f| fact_value(&f.value));
    let when = match (&brief.requested_window, &named) {
        // The subject is short: the owner's clock only; the body adds the customer's.
        (Some(w), _) => format!(" {}", window_phrase(w, Clocks::same(clocks.owner))),
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
    add("Need", need(brief));
    // A reason already on the requested-time line is not quoted again.
    let window_evidence = brief.requested_window.as_ref().and(named.as_deref());
    let mut why: Vec<String> = Vec::new();
    let mut near = false;
    for reason in &brief.urgency.reasons {
        if matches!(reason.code.as_str(), "near_window" | "named_day")
            || window_evidence.is_some_and(|e| e.eq_ignore_ascii_case(fact_value(&reason.evidence).as_str()))
        {
            near |= reason.code != "named_day";
            continue;
        }
        // "tomorrow" as a cue of its own, when the near window already says it.
        if reason.code == "near_time" && brief.urgency.reasons.iter().any(|r| r.code == "near_window") {
            continue;
        }
        let quoted = format!("\"{}\"", reason.evidence);
        if why.len() < 3 && !why.contains(&quoted) {
            why.push(quoted);
        }
    }
    if near && brief.requested_window.is_some() {
        why.insert(0, "the time they asked for is near".into());
    }
    let urgency = if why.is_empty() {
        brief.urgency.level.as_str().to_owned()
    } else {
        format!("{} ({})", brief.urgency.level.as_str(), why.join(", "))
    };
    add("Urgency", urgency);
    if let Some(w) = &brief.requested_window {
        let phrase = window_phrase(w, clocks);
        add(
            "Requested time",
            match &named {
                Some(named) => format!("{phrase}, as they said \"{named}\""),
                None => phrase,
            },
        );
    }
    if let Some(owner) = &brief.recommended_owner {
        // A name reads better than a CRM id; the id stays on the task's owner field.
        add("Owner", owner.name.clone().unwrap_or_default());
    }
    let objections: Vec<String> =
        brief.objections.iter().map(|o| format!("{} (\"{}\")", label(&o.code), o.evidence)).collect();
    add("Objection", objections.join("; "));
    add("AI promised", brief.promised_next_step.clone().unwrap_or_default());
    let known: Vec<String> = brief
        .do_not_ask
        .iter()
        // The requested-time line already holds the preferred time.
        .filter(|f| !(f.fact == "preferred_time" && brief.requested_window.is_some()))
        .map(|f| format!("{} ({})", f.fact.replace('_', " "), fact_value(&f.value)))
        .collect();
    add("Do not re-ask", join_and(&known));
    for fact in vendor_facts(brief, conversation) {
        add(&fact.label, fact.value);
    }
    add("Action", task_action(brief));
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

/// The need in the customer's terms: what they asked for (the intents) and the facts that
/// picture it ("the price and a site visit: 3BHK, Baner, 1.2 crore"); the customer's own
/// sentence where no fact pictures what they want ("12 rooms for a wedding"). A call back is
/// left to the subject and the action, which say it already.
fn need(brief: &Brief) -> String {
    let asks: Vec<String> =
        brief.intents.iter().filter(|f| f.code != "callback_request").map(|f| need_label(&f.code)).collect();
    let pictured = brief.do_not_ask.iter().any(|f| PICTURE_FACTS.contains(&f.fact.as_str()));
    // A sentence that voices an objection ("I have to ask my husband") is not the need.
    let said = brief.stated_need.as_deref().map(str::trim).filter(|s| {
        !s.is_empty() && !brief.objections.iter().any(|o| !o.evidence.is_empty() && s.contains(o.evidence.as_str()))
    });
    if let (false, Some(said)) = (pictured, said) {
        return match asks.is_empty() {
            true => format!("\"{said}\""),
            false => format!("{}: \"{said}\"", capitalised(&join_and(&asks))),
        };
    }
    let mut values: Vec<String> = Vec::new();
    for fact in NEED_FACTS {
        if let Some(found) = brief.do_not_ask.iter().find(|f| f.fact == *fact) {
            let value = fact_value(&found.value);
            if !value.is_empty() && !values.iter().any(|v| v.contains(&value)) {
                // A bare number or date says more with its name.
                values.push(match *fact {
                    "budget" => format!("budget {value}"),
                    "order_id" => format!("order {value}"),
                    "timeline" => format!("timeline {value}"),
                    _ => value,
                });
            }
        }
    }
    values.truncate(NEED_FACTS_SHOWN);
    match (asks.is_empty(), values.is_empty()) {
        (true, true) => brief.stated_need.clone().unwrap_or_default(),
        (false, true) => capitalised(&join_and(&asks)),
        (true, false) => values.join(", "),
        (false, false) => format!("{}: {}", capitalised(&join_and(&asks)), values.join(", ")),
    }
}

/// What the customer asked for, as the "Need" line says it.
fn need_label(code: &str) -> String {
    match code {
        "pricing" => "the price",
        "negotiation" => "a better price",
        "site_visit" => "a site visit",
        "payment_plan" => "a payment plan",
        "demo" => "a demo",
        "callback_request" => "a call back",
        "reschedule" => "a new time",
        "cancel" => "to cancel",
        "complaint" => "to complain",
        "support_issue" => "a fix",
        "brochure_request" => "the brochure or details",
        "availability" => "what is available",
        "purchase_ready" => "to buy now",
        "refund" => "a refund",
        "appointment_booking" => "an appointment",
        "admission_inquiry" => "admission",
        "not_interested" => "no further contact",
        other => return other.replace('_', " "),
    }
    .to_owned()
}

/// A fact's value as a value: the phrase up to the end of its sentence ("Saturday morning?
/// Please call me after 6 pm" is "Saturday morning"), without trailing punctuation.
pub(crate) fn fact_value(value: &str) -> String {
    let mut end = value.len();
    for (i, c) in value.char_indices() {
        let next = value[i + c.len_utf8()..].chars().next();
        let ends = match c {
            '?' | '!' | '\n' | ';' => true,
            // "1.2 crore" keeps its point; "Baner. Please" ends at it.
            '.' => next.is_none_or(|n| !n.is_ascii_digit()),
            _ => false,
        };
        if ends {
            end = i;
            break;
        }
    }
    value[..end].trim().trim_end_matches([',', ':', '-']).trim().to_owned()
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

#[cfg(test)]
mod tests {
    use super::fact_value;

    #[test]
    fn a_fact_value_ends_with_its_sentence() {
        assert_eq!(fact_value("Saturday morning? Please call me after 6 pm"), "Saturday morning");
        assert_eq!(fact_value("1.2 crore. We can stretch"), "1.2 crore");
        assert_eq!(fact_value("3BHK, "), "3BHK");
        assert_eq!(fact_value("Baner!"), "Baner");
        assert_eq!(fact_value("Pulsar 150"), "Pulsar 150");
    }
}
