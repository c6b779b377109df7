//! A Vapi call as a canonical interaction, from an `end-of-call-report` server message or from
//! a Call object of `GET /call` (the poller): the report's own fields win, the call's fill in.
//!
//! - turns: `artifact.messages` (`user` is the customer; `bot`/`assistant` the AI; system and
//!   tool messages are left out), or the `artifact.transcript` text when there are none;
//! - analysis: `analysis.summary`, `analysis.successEvaluation`, the fields of
//!   `analysis.structuredData`, and each `artifact.structuredOutputs` entry by its `name`
//!   (an object result adds its fields), flat, as the vendor mapping reads them;
//! - the customer: `customer.number` (and `name`, `email`); the outcome from `endedReason`.

use chrono::{DateTime, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, CallTurn, Channel, Content, Direction, Interaction};
use serde_json::{Map, Value};

/// The message type this connector turns into interactions.
pub const END_OF_CALL_REPORT: &str = "end-of-call-report";

/// A report (or call) that is not a call we can record.
#[derive(Debug)]
pub struct ShapeError(pub String);

/// Where a field is looked for: the report message first, then its call.
struct Sources<'a> {
    report: &'a Value,
    call: &'a Value,
}

impl<'a> Sources<'a> {
    fn get(&self, path: &[&str]) -> Option<&'a Value> {
        [self.report, self.call].into_iter().find_map(|root| lookup(root, path).filter(|v| !v.is_null()))
    }

    fn str(&self, path: &[&str]) -> Option<&'a str> {
        self.get(path)?.as_str().map(str::trim).filter(|s| !s.is_empty())
    }
}

fn lookup<'v>(root: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, key| value.get(key))
}

/// The interaction of an `end-of-call-report` message (the `message` object of the body).
pub fn from_report(message: &Value, received_at: DateTime<Utc>) -> Result<Interaction, ShapeError> {
    let empty = Value::Null;
    let call = message.get("call").unwrap_or(&empty);
    interaction(&Sources { report: message, call }, received_at)
}

/// The interaction of a Call object from `GET /call`, keyed as its report would be, so a call
/// the webhook delivered and the poller found again is stored once.
pub fn from_call(call: &Value, received_at: DateTime<Utc>) -> Result<Interaction, ShapeError> {
    interaction(&Sources { report: call, call }, received_at)
}

fn interaction(sources: &Sources<'_>, received_at: DateTime<Utc>) -> Result<Interaction, ShapeError> {
    let call_id = sources
        .call
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| sources.report.get("id").and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ShapeError("the report has no `call.id`".to_owned()))?;
    let started = time(sources.get(&["startedAt"]));
    let ended = time(sources.get(&["endedAt"]));
    let at = ended
        .or_else(|| sources.report.get("timestamp").and_then(Value::as_i64).and_then(DateTime::from_timestamp_millis))
        .or(started)
        .unwrap_or(received_at);
    let duration_secs = sources
        .get(&["durationSeconds"])
        .and_then(Value::as_f64)
        .map(|secs| secs.round() as u64)
        .or_else(|| Some((ended? - started?).num_seconds().max(0) as u64));
    let ended_reason = sources.str(&["endedReason"]).map(str::to_owned);
    let outcome = ended_reason.as_deref().map(outcome_of).unwrap_or_default();
    let direction = match sources.str(&["call", "type"]).or_else(|| sources.str(&["type"])) {
        Some("outboundPhoneCall") => Direction::Outbound,
        _ => Direction::Inbound,
    };
    let mut keys = Vec::new();
    if let Some(number) = sources.str(&["customer", "number"]) {
        keys.push(IdentityKey::phone(number));
    }
    if let Some(email) = sources.str(&["customer", "email"]) {
        keys.push(IdentityKey::email(email));
    }
    Ok(Interaction {
        dedup_key: format!("{call_id}:{END_OF_CALL_REPORT}"),
        channel: Channel::Voice,
        direction,
        at,
        keys,
        display_name: sources.str(&["customer", "name"]).map(str::to_owned),
        content: Content::Call(Call {
            call_id: call_id.to_owned(),
            turns: turns(sources),
            duration_secs,
            recording_url: recording_url(sources),
            analysis: analysis(sources),
            ended_reason,
            outcome,
        }),
    })
}

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?).ok().map(|at| at.with_timezone(&Utc))
}

/// Vapi's `endedReason` as an outcome: only a connected call can be a handoff.
pub fn outcome_of(reason: &str) -> CallOutcome {
    match reason {
        "voicemail" => CallOutcome::Voicemail,
        "customer-busy" | "call.forwarding.operator-busy" => CallOutcome::Busy,
        "customer-did-not-answer" | "call.forwarding.no-answer" => CallOutcome::NoAnswer,
        reason
            if reason.contains("error")
                || reason.contains("failed")
                || reason.contains("misdialed")
                || reason.contains("rejected")
                || reason.contains("not-found")
                || reason.contains("not-valid")
                || reason.starts_with("assistant-request-")
                || reason == "scheduled-call-deleted"
                || reason == "call-deleted"
                || reason == "call.ringing.sip-inbound-caller-hungup-before-call-connect" =>
        {
            CallOutcome::Failed
        }
        _ => CallOutcome::Connected,
    }
}

fn turns(sources: &Sources<'_>) -> Vec<CallTurn> {
    let messages = sources.get(&["artifact", "messages"]).or_else(|| sources.get(&["messages"]));
    let from_messages: Vec<CallTurn> = messages
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|message| {
            let from = match message.get("role")?.as_str()? {
                "user" => Speaker::Customer,
                "bot" | "assistant" => Speaker::Ai,
                _ => return None,
            };
            let text = message.get("message").or_else(|| message.get("content"))?.as_str()?.trim();
            (!text.is_empty()).then(|| CallTurn {
                from,
                text: text.to_owned(),
                offset_secs: message.get("secondsFromStart").and_then(Value::as_f64),
            })
        })
        .collect();
    if !from_messages.is_empty() {
        return from_messages;
    }
    let transcript = sources.str(&["artifact", "transcript"]).or_else(|| sources.str(&["transcript"]));
    transcript.map(transcript_turns).unwrap_or_default()
}

/// `AI: ...` / `User: ...` lines; a line without a speaker continues the turn before it.
pub fn transcript_turns(transcript: &str) -> Vec<CallTurn> {
    let mut turns: Vec<CallTurn> = Vec::new();
    for line in transcript.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let speaker = line.split_once(':').and_then(|(who, text)| {
            let from = match who.trim().to_ascii_lowercase().as_str() {
                "user" | "customer" => Speaker::Customer,
                "ai" | "bot" | "assistant" => Speaker::Ai,
                _ => return None,
            };
            Some((from, text.trim()))
        });
        match (speaker, turns.last_mut()) {
            (Some((from, text)), _) => turns.push(CallTurn { from, text: text.to_owned(), offset_secs: None }),
            (None, Some(last)) => {
                last.text.push(' ');
                last.text.push_str(line);
            }
            (None, None) => {}
        }
    }
    turns.retain(|turn| !turn.text.is_empty());
    turns
}

fn recording_url(sources: &Sources<'_>) -> Option<String> {
    [
        &["artifact", "recordingUrl"][..],
        &["artifact", "recording", "mono", "combinedUrl"],
        &["artifact", "recording", "stereoUrl"],
        &["artifact", "stereoRecordingUrl"],
        &["recordingUrl"],
    ]
    .into_iter()
    .find_map(|path| sources.str(path))
    .map(str::to_owned)
}

/// The analysis, flat: the summary, the success evaluation, structured data and outputs.
fn analysis(sources: &Sources<'_>) -> Value {
    let mut fields = Map::new();
    if let Some(summary) = sources.str(&["analysis", "summary"]) {
        fields.insert("summary".into(), summary.into());
    }
    if let Some(evaluation) = sources.get(&["analysis", "successEvaluation"]) {
        fields.insert("successEvaluation".into(), evaluation.clone());
    }
    if let Some(Value::Object(data)) = sources.get(&["analysis", "structuredData"]) {
        fields.extend(data.clone());
    }
    if let Some(Value::Object(outputs)) = sources.get(&["artifact", "structuredOutputs"]) {
        for (id, output) in outputs {
            match output.get("result") {
                Some(Value::Object(result)) => fields.extend(result.clone()),
                Some(result) if !result.is_null() => {
                    let name = output.get("name").and_then(Value::as_str).unwrap_or(id);
                    fields.insert(name.to_owned(), result.clone());
                }
                _ => {}
            }
        }
    }
    if fields.is_empty() { Value::Null } else { Value::Object(fields) }
}
