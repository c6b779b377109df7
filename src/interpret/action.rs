//! The recommended action: one imperative sentence built from the brief.

use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Disposition, TimeWindow};

/// A short human label for an intent or objection code (unknown codes read as themselves).
pub fn label(code: &str) -> String {
    let text = match code {
        "pricing" => "the price",
        "negotiation" => "price flexibility",
        "site_visit" => "the site visit",
        "payment_plan" => "the payment plan",
        "demo" => "the demo",
        "callback_request" => "their call request",
        "reschedule" => "the new time",
        "cancel" => "the cancellation",
        "complaint" => "an apology",
        "support_issue" => "the fix",
        "brochure_request" => "the documents they asked for",
        "availability" => "what is available",
        "purchase_ready" => "closing the purchase",
        "refund" => "the refund",
        "appointment_booking" => "the appointment",
        "admission_inquiry" => "admission",
        "price" => "the price concern",
        "timing" => "their timing",
        "authority" => "the decision maker",
        "trust" => "their trust concern",
        "competitor" => "the competing offer",
        "financing" => "financing",
        "location" => "the location concern",
        "features" => "the missing features",
        other => return other.replace('_', " "),
    };
    text.to_owned()
}

/// The two clocks a task is read with: the owner's (the business's zone, where the rep works)
/// and the customer's (where the window was asked for).
#[derive(Clone, Copy, Debug)]
pub struct Clocks {
    pub owner: Tz,
    pub customer: Tz,
}

impl Clocks {
    /// One clock for both: a local customer.
    pub fn same(tz: Tz) -> Self {
        Clocks { owner: tz, customer: tz }
    }
}

/// "Sat 13 Jun 09:00-12:00" on the owner's clock; when the customer's clock differs, both with
/// their zones: "Sat 13 Jun 17:30-20:30 IST (customer: Sat 09:00-12:00 BRT)".
pub fn window_phrase(window: &TimeWindow, clocks: Clocks) -> String {
    let owner = span(window, clocks.owner, true);
    if clocks.customer == clocks.owner {
        return owner;
    }
    format!(
        "{owner} {} (customer: {} {})",
        zone_label(window, clocks.owner),
        span(window, clocks.customer, false),
        zone_label(window, clocks.customer)
    )
}

fn span(window: &TimeWindow, tz: Tz, with_date: bool) -> String {
    let from = window.not_before.with_timezone(&tz);
    let to = window.not_after.with_timezone(&tz);
    let day = if with_date { "%a %-d %b" } else { "%a" };
    if from.date_naive() == to.date_naive() {
        format!("{} {}-{}", from.format(day), from.format("%H:%M"), to.format("%H:%M"))
    } else {
        format!("{} {} to {} {}", from.format(day), from.format("%H:%M"), to.format(day), to.format("%H:%M"))
    }
}

/// The zone's abbreviation at the window's start ("IST", "EDT"), or its city where the tz
/// database has only an offset ("-03" reads as "Sao Paulo time").
fn zone_label(window: &TimeWindow, tz: Tz) -> String {
    let abbreviation = window.not_before.with_timezone(&tz).format("%Z").to_string();
    if abbreviation.chars().all(|c| c.is_ascii_alphabetic()) {
        return abbreviation;
    }
    let city = tz.name().rsplit('/').next().unwrap_or(tz.name()).replace('_', " ");
    format!("{city} time")
}

/// How to reach the customer when they said so: the channel they asked for, or a message when
/// they refused calls; None when a call is fine.
pub fn reach_by(brief: &Brief) -> Option<&'static str> {
    let preference = brief.contact_preference.as_ref()?;
    let channel_name = |c: &str| match c {
        "email" => Some("email"),
        "whatsapp" => Some("WhatsApp"),
        "sms" => Some("text message"),
        _ => None,
    };
    let refuses_calls = preference.avoid.iter().any(|c| c == "call");
    let first = preference.channels.first().map(String::as_str);
    match (first, refuses_calls) {
        (Some("call"), _) => None,
        (Some(other), _) => channel_name(other),
        (None, true) => Some("message"),
        (None, false) => None,
    }
}

/// The brief's recommended action: who to contact, how, when (the brief's window, on the
/// owner's clock) and about what.
pub fn recommended_action(brief: &Brief, clocks: Clocks) -> String {
    action_sentence(brief, clocks, true)
}

/// The action as the task shows it: the window and the facts not to re-ask have lines of their
/// own there, so the sentence does not repeat them.
pub fn task_action(brief: &Brief) -> String {
    action_sentence(brief, Clocks::same(chrono_tz::UTC), false)
}

fn action_sentence(brief: &Brief, clocks: Clocks, whole: bool) -> String {
    let name = brief.customer.name.as_deref().and_then(|n| n.split_whitespace().next()).unwrap_or("the customer");
    let when = match (&brief.requested_window, brief.do_not_ask.iter().find(|f| f.fact == "preferred_time")) {
        _ if !whole => String::new(),
        (Some(w), _) => format!(" {}", window_phrase(w, clocks)),
        (None, Some(named)) => format!(" at the time they named (\"{}\")", named.value),
        (None, None) => String::new(),
    };
    let escalation = brief.disposition == Disposition::Escalation;
    let topics: Vec<String> = brief
        .intents
        .iter()
        .filter(|f| !matches!(f.code.as_str(), "callback_request" | "not_interested"))
        // An escalation already says "apologise first": the complaint is not opened with twice.
        .filter(|f| !(escalation && f.code == "complaint"))
        .take(3)
        .map(|f| label(&f.code))
        .collect();
    let mut sentence = match brief.disposition {
        Disposition::ClosedLost => {
            return format!("Close the lead and do not contact {name} again; log the reason in the CRM.");
        }
        Disposition::Escalation => match reach_by(brief) {
            Some(channel) => {
                format!("Have a supervisor write to {name} by {channel}{when} (no calls) and apologise first")
            }
            None => format!("Have a supervisor call {name}{when} and apologise first"),
        },
        Disposition::Booked => format!("Prepare for {name}'s booked slot and confirm it{when}"),
        Disposition::Nurture => match reach_by(brief) {
            Some(channel) => format!("Follow up with {name} later by {channel}, without pressure"),
            None => format!("Follow up with {name} later without pressure"),
        },
        Disposition::Callback => match reach_by(brief) {
            Some(channel) => format!("Write to {name} by {channel}{when}, not a call"),
            None => format!("Call {name}{when}"),
        },
    };
    if !topics.is_empty() {
        sentence.push_str(&format!("; open with {}", join_and(&topics)));
    }
    if let Some(objection) = brief.objections.first() {
        sentence.push_str(&format!("; address {}", label(&objection.code)));
    }
    let facts: Vec<&str> =
        brief.do_not_ask.iter().filter(|f| f.fact != "preferred_time").map(|f| f.fact.as_str()).take(4).collect();
    if whole && !facts.is_empty() {
        sentence.push_str(&format!(
            "; do not re-ask {}",
            join_and(&facts.iter().map(|f| f.replace('_', " ")).collect::<Vec<_>>())
        ));
    }
    sentence.push('.');
    sentence
}

pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
