//! A Retell call object (a webhook's `call`, or an item of the list-calls API) as a canonical
//! voice interaction.
//!
//! - the customer: `from_number` of an inbound call, `to_number` of an outbound one (a web
//!   call has no number); a `customer_name` dynamic variable names them;
//! - turns: `transcript_object` (`user` is the customer, `agent` the AI), offsets from each
//!   turn's first word; else the `transcript` text;
//! - analysis: the fields of `call_analysis` (`call_summary`, `user_sentiment`,
//!   `call_successful`, `in_voicemail`, ...) with those of `custom_analysis_data`, flat, as the
//!   vendor mapping reads them;
//! - the outcome from `disconnection_reason`, `call_status` and `in_voicemail`.

use chrono::{DateTime, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, CallTurn, Channel, Content, Direction, Interaction};
use serde_json::{Map, Value};

/// A call object we cannot record.
#[derive(Debug)]
pub struct ShapeError(pub String);

/// The interaction of `call` as reported by `event` (`call_ended`, `call_analyzed`): the dedup
/// key is the call id and the event.
pub fn interaction(call: &Value, event: &str, received_at: DateTime<Utc>) -> Result<Interaction, ShapeError> {
    let text = |key: &str| call.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let call_id = text("call_id").ok_or_else(|| ShapeError("the call has no `call_id`".to_owned()))?;
    let millis = |key: &str| call.get(key).and_then(Value::as_i64).and_then(DateTime::from_timestamp_millis);
    let (started, ended) = (millis("start_timestamp"), millis("end_timestamp"));
    let direction = match text("direction") {
        Some("outbound") => Direction::Outbound,
        _ => Direction::Inbound,
    };
    let number = match direction {
        Direction::Inbound => text("from_number"),
        Direction::Outbound => text("to_number"),
    };
    let duration_secs = call
        .get("duration_ms")
        .and_then(Value::as_u64)
        .map(|ms| (ms + 500) / 1000)
        .or_else(|| Some((ended? - started?).num_seconds().max(0) as u64));
    let analysis = analysis(call);
    let reason = text("disconnection_reason").map(str::to_owned);
    let outcome = outcome_of(reason.as_deref(), text("call_status"), &analysis);
    let display_name = call
        .pointer("/retell_llm_dynamic_variables/customer_name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    Ok(Interaction {
        dedup_key: format!("{call_id}:{event}"),
        channel: Channel::Voice,
        direction,
        at: ended.or(started).unwrap_or(received_at),
        keys: number.map(IdentityKey::phone).into_iter().collect(),
        display_name,
        content: Content::Call(Call {
            call_id: call_id.to_owned(),
            turns: turns(call),
            duration_secs,
            recording_url: text("recording_url").map(str::to_owned),
            analysis,
            ended_reason: reason,
            outcome,
        }),
    })
}

/// What became of the call: only a connected call can be a handoff.
pub fn outcome_of(reason: Option<&str>, status: Option<&str>, analysis: &Value) -> CallOutcome {
    if analysis.get("in_voicemail").and_then(Value::as_bool) == Some(true) {
        return CallOutcome::Voicemail;
    }
    match reason {
        Some("voicemail_reached") => return CallOutcome::Voicemail,
        Some("dial_busy") => return CallOutcome::Busy,
        Some("dial_no_answer" | "user_declined") => return CallOutcome::NoAnswer,
        Some(
            "dial_failed"
            | "invalid_destination"
            | "telephony_provider_permission_denied"
            | "telephony_provider_unavailable"
            | "sip_routing_error"
            | "marked_as_spam"
            | "scam_detected"
            | "no_valid_payment"
            | "concurrency_limit_reached"
            | "registered_call_timeout",
        ) => return CallOutcome::Failed,
        Some(reason) if reason.starts_with("error") => return CallOutcome::Failed,
        _ => {}
    }
    match status {
        Some("not_connected" | "error") => CallOutcome::Failed,
        _ => CallOutcome::Connected,
    }
}

fn turns(call: &Value) -> Vec<CallTurn> {
    let from_object: Vec<CallTurn> = call
        .get("transcript_object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|turn| {
            let from = match turn.get("role")?.as_str()? {
                "user" => Speaker::Customer,
                "agent" => Speaker::Ai,
                _ => return None,
            };
            let text = turn.get("content")?.as_str()?.trim();
            let offset_secs = turn.pointer("/words/0/start").and_then(Value::as_f64);
            (!text.is_empty()).then(|| CallTurn { from, text: text.to_owned(), offset_secs })
        })
        .collect();
    if !from_object.is_empty() {
        return from_object;
    }
    call.get("transcript").and_then(Value::as_str).map(transcript_turns).unwrap_or_default()
}

/// `Agent: ...` / `User: ...` lines; a line without a speaker continues the turn before it.
pub fn transcript_turns(transcript: &str) -> Vec<CallTurn> {
    let mut turns: Vec<CallTurn> = Vec::new();
    for line in transcript.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let speaker = line.split_once(':').and_then(|(who, text)| {
            let from = match who.trim().to_ascii_lowercase().as_str() {
                "user" => Speaker::Customer,
                "agent" => Speaker::Ai,
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

/// `call_analysis` with `custom_analysis_data` merged in, flat.
fn analysis(call: &Value) -> Value {
    let Some(Value::Object(analysis)) = call.get("call_analysis") else { return Value::Null };
    let mut fields = Map::new();
    for (key, value) in analysis {
        match (key.as_str(), value) {
            ("custom_analysis_data", Value::Object(custom)) => fields.extend(custom.clone()),
            (_, value) if !value.is_null() => {
                fields.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    if let Some(url) = call.get("public_log_url").filter(|v| v.is_string()) {
        fields.insert("public_log_url".into(), url.clone());
    }
    if fields.is_empty() { Value::Null } else { Value::Object(fields) }
}
