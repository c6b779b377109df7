//! Voice status callbacks (form-encoded, JSON, or a GET's query) into interactions.
//!
//! Only a terminal call status becomes an interaction (`completed`, `busy`, `no-answer`,
//! `failed`, `canceled`); progress callbacks (`initiated`, `ringing`, `answered`,
//! `in-progress`) are listed as ignored, so the handoff is not ended before the call is.
//! Recordings and transcriptions are referenced by URL, never downloaded.

use chrono::{DateTime, Utc};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, Channel, Content, Direction, Interaction};
use handoffd_contract::webhook::{ParseError, ParsedEvent, Verified};
use serde_json::{Map, Value};

use crate::signature::{BODY_HASH_PARAM, form_pairs};

/// A callback's parameters by name (the first value of a repeated name).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
    }
}

/// The parameters of a verified callback: a JSON object, a form body, or (a GET, or an
/// offline tool's input) the query string.
pub fn params_of(event: &Verified) -> Result<Params, ParseError> {
    let body = event.body();
    let is_json = event.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
        let object = value.as_object().ok_or_else(|| ParseError::Shape("a JSON callback must be an object".into()))?;
        return Ok(Params(object.iter().filter_map(|(name, value)| Some((name.clone(), scalar(value)?))).collect()));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        let query = form_pairs(event.query().as_bytes()).into_iter().filter(|(n, _)| n != BODY_HASH_PARAM).collect();
        return Ok(Params(query));
    }
    std::str::from_utf8(body).map_err(|_| ParseError::Shape("a form body must be UTF-8".into()))?;
    Ok(Params(form_pairs(body)))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Statuses after which the call is over.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "busy" | "no-answer" | "failed" | "canceled")
}

/// What became of a finished call, from its status and answering-machine result. A call the
/// caller gave up on before it was answered (`canceled`) is one nobody answered.
pub fn outcome(status: &str, answered_by: Option<&str>) -> CallOutcome {
    match status {
        "busy" => CallOutcome::Busy,
        "no-answer" | "canceled" => CallOutcome::NoAnswer,
        "failed" => CallOutcome::Failed,
        // Answering machine detection: `machine_start`, `machine_end_beep`, `machine_end_silence`,
        // `machine_end_other`, and `fax`.
        _ if answered_by.is_some_and(|by| by.starts_with("machine") || by == "fax") => CallOutcome::Voicemail,
        _ => CallOutcome::Connected,
    }
}

/// Which side of the call is the customer: the caller on an inbound call, the callee otherwise.
pub fn direction_and_customer<'a>(
    direction: Option<&str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
) -> (Direction, Option<&'a str>) {
    match direction {
        Some(d) if d.starts_with("outbound") => (Direction::Outbound, to),
        _ => (Direction::Inbound, from),
    }
}

/// Twilio writes times as RFC 2822 (`Tue, 14 Apr 2026 09:26:42 +0000`) in callbacks and the
/// REST API; RFC 3339 is accepted too.
pub fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value)
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A phone number the customer can be found by (Twilio also sends `client:` and `sip:` URIs,
/// and anonymous callers as `+266696687`/`anonymous`).
pub fn phone_key(number: Option<&str>) -> Option<IdentityKey> {
    let number = number?.trim();
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let looks_like_phone = digits >= 6 && number.chars().all(|c| c.is_ascii_digit() || "+-() .".contains(c));
    (looks_like_phone && number != "+266696687").then(|| IdentityKey::phone(number))
}

/// Parse one verified callback.
pub fn parse(event: &Verified) -> Result<ParsedEvent, ParseError> {
    let params = params_of(event)?;
    let call_sid =
        params.get("CallSid").ok_or_else(|| ParseError::Shape("the callback has no `CallSid`".into()))?.to_owned();
    if let Some(recording_sid) = params.get("RecordingSid").filter(|_| params.get("RecordingStatus").is_some()) {
        return Ok(reference(&params, &call_sid, "recording", recording_sid));
    }
    if let Some(transcription_sid) = params.get("TranscriptionSid") {
        return Ok(reference(&params, &call_sid, "transcription", transcription_sid));
    }
    let status = params
        .get("CallStatus")
        .ok_or_else(|| ParseError::Shape(format!("the callback for `{call_sid}` has no `CallStatus`")))?;
    if !is_terminal(status) {
        return Ok(ParsedEvent {
            interactions: Vec::new(),
            ignored: vec![format!("call `{call_sid}` is `{status}`: only a finished call is recorded")],
        });
    }
    let answered_by = params.get("AnsweredBy");
    let (direction, customer) = direction_and_customer(params.get("Direction"), params.get("From"), params.get("To"));
    let mut analysis = Map::new();
    for (name, key) in [("AnsweredBy", "answered_by"), ("CallbackSource", "callback_source")] {
        if let Some(value) = params.get(name) {
            analysis.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    let call = Call {
        call_id: call_sid.clone(),
        turns: Vec::new(),
        duration_secs: params.get("CallDuration").or(params.get("Duration")).and_then(|d| d.trim().parse().ok()),
        recording_url: params.get("RecordingUrl").map(str::to_owned),
        analysis: if analysis.is_empty() { Value::Null } else { Value::Object(analysis) },
        ended_reason: Some(answered_by.map_or_else(|| status.to_owned(), |by| format!("{status} ({by})"))),
        outcome: outcome(status, answered_by),
    };
    let interaction = Interaction {
        dedup_key: format!("{call_sid}:{status}"),
        channel: Channel::Voice,
        direction,
        at: params.get("Timestamp").and_then(parse_time).unwrap_or_else(|| event.received_at()),
        keys: phone_key(customer).into_iter().collect(),
        display_name: params.get("CallerName").filter(|_| direction == Direction::Inbound).map(str::to_owned),
        content: Content::Call(call),
    };
    Ok(ParsedEvent { interactions: vec![interaction], ignored: Vec::new() })
}

/// A recording or transcription callback carries no customer number (only the `CallSid`), so
/// it cannot be placed on a customer's history by itself: it is listed as ignored with its URL,
/// and its raw body stays in the inbox. The call's own `completed` callback carries
/// `RecordingUrl` when the call was recorded, and that one is kept on the call.
fn reference(params: &Params, call_sid: &str, what: &str, sid: &str) -> ParsedEvent {
    let url = params.get(if what == "recording" { "RecordingUrl" } else { "TranscriptionUrl" }).unwrap_or("no URL");
    ParsedEvent {
        interactions: Vec::new(),
        ignored: vec![format!("{what} `{sid}` of call `{call_sid}` ({url}): referenced, not a call event")],
    }
}
