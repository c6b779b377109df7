//! StatusCallback (POST, form or JSON) and Passthru (GET query) events into interactions.
//!
//! Both carry a `CallSid`. StatusCallback names the outcome in `Status`; Passthru in
//! `CallStatus`, `DialCallStatus` (the dialled leg's), or (AgentStream, a voice bot's leg)
//! `Stream[Status]` or a JSON `Stream` parameter. Only a final status becomes an interaction, keyed
//! `CallSid:status` like the poller's, so a call seen by a callback and by the poller is
//! stored once. A Passthru hit in the middle of a flow (no final status yet) is ignored.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, Channel, Content, Direction, Interaction};
use handoffd_contract::webhook::{ParseError, ParsedEvent, Verified};
use serde_json::{Map, Value};

/// An event's parameters: a flat list of names and values (JSON objects are flattened to
/// `Outer[Inner]` names, as Exotel writes nested form parameters).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
    }

    fn first(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| self.get(name))
    }
}

/// The parameters of a verified event: a JSON body, a form body, or the query (Passthru).
pub fn params_of(event: &Verified) -> Result<Params, ParseError> {
    let body = event.body();
    let mut pairs = Vec::new();
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
        flatten("", &value, &mut pairs);
    } else if let Some(query) = request_line_query(body) {
        // A Passthru request written out as `GET https://...?...` or as its URL.
        pairs.extend(form(query.as_bytes()));
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        std::str::from_utf8(body).map_err(|_| ParseError::Shape("a form body must be UTF-8".into()))?;
        pairs.extend(form(body));
    } else {
        pairs.extend(form(event.query().as_bytes()));
    }
    // AgentStream may send the stream's details as one JSON string parameter.
    if let Some((_, stream)) = pairs.iter().find(|(n, _)| n == "Stream").cloned()
        && let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(&stream)
    {
        flatten("Stream", &value, &mut pairs);
    }
    Ok(Params(pairs))
}

/// The query of `GET <url>` or of a bare URL (how a Passthru hit is usually written down).
fn request_line_query(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let url = text.strip_prefix("GET ").unwrap_or(text).trim();
    if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/')) {
        return None;
    }
    let query = url.split_once('?').map_or("", |(_, query)| query);
    Some(query.split_whitespace().next().unwrap_or_default())
}

fn form(encoded: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(encoded).map(|(n, v)| (n.into_owned(), v.into_owned()))
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let name = |key: &str| if prefix.is_empty() { key.to_owned() } else { format!("{prefix}[{key}]") };
    match value {
        Value::Object(map) => map.iter().for_each(|(key, inner)| flatten(&name(key), inner, out)),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, inner)| flatten(&name(&i.to_string()), inner, out))
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Number(n) => out.push((prefix.to_owned(), n.to_string())),
        Value::Bool(b) => out.push((prefix.to_owned(), b.to_string())),
        Value::Null => {}
    }
}

/// A final call status, lowercased (`completed`, `busy`, `no-answer`, `failed`, `canceled`).
pub fn final_status(status: &str) -> Option<String> {
    let status = status.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let status = if status == "noanswer" || status == "no-answered" { "no-answer".to_owned() } else { status };
    let status = if status == "cancelled" { "canceled".to_owned() } else { status };
    matches!(status.as_str(), "completed" | "busy" | "no-answer" | "failed" | "canceled").then_some(status)
}

/// What became of a call with this final status (`canceled`: the caller gave up before an
/// answer, so nobody answered).
pub fn outcome(status: &str, answered_by: Option<&str>) -> CallOutcome {
    match status {
        "busy" => CallOutcome::Busy,
        "no-answer" | "canceled" => CallOutcome::NoAnswer,
        "failed" => CallOutcome::Failed,
        _ if answered_by.is_some_and(|by| by.to_ascii_lowercase().contains("machine")) => CallOutcome::Voicemail,
        _ => CallOutcome::Connected,
    }
}

/// The customer's side: the caller of an inbound call (`inbound`, `incoming`), the callee of
/// an outbound one (`outbound-api`, `outbound-dial`: Exotel's `To` is "your customer's number").
pub fn direction_and_customer<'a>(
    direction: Option<&str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
) -> (Direction, Option<&'a str>) {
    match direction.map(str::to_ascii_lowercase) {
        Some(d) if d.starts_with("outbound") => (Direction::Outbound, to),
        _ => (Direction::Inbound, from),
    }
}

/// Exotel's `YYYY-MM-DD HH:mm:ss` in the account's offset (RFC 3339 is accepted as well).
pub fn parse_time(value: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(time.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    offset.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// A phone number the customer can be found by. Exotel's Passthru writes `From=+91...` into the
/// query unencoded, which form decoding turns into a leading space: that `+` is restored.
pub fn phone_key(number: Option<&str>) -> Option<IdentityKey> {
    let raw = number?;
    let trimmed = raw.trim();
    let restored;
    let number = if raw.starts_with(' ') && trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        restored = format!("+{trimmed}");
        restored.as_str()
    } else {
        trimmed
    };
    let digits = number.chars().filter(char::is_ascii_digit).count();
    (digits >= 6 && number.chars().all(|c| c.is_ascii_digit() || "+-() .".contains(c)))
        .then(|| IdentityKey::phone(number))
}

/// Parse one verified event.
pub fn parse(event: &Verified, offset: FixedOffset) -> Result<ParsedEvent, ParseError> {
    let params = params_of(event)?;
    let call_sid =
        params.get("CallSid").ok_or_else(|| ParseError::Shape("the event has no `CallSid`".into()))?.to_owned();
    let (direction, customer) = direction_and_customer(
        params.get("Direction"),
        params.first(&["From", "CallFrom"]),
        params.first(&["To", "CallTo"]),
    );
    // `DialCallStatus` is the dialled leg's (an agent's, on an inbound call): a caller whose
    // agent was busy still called, and is someone to call back, so the call counts as
    // completed; on an outbound dial the dialled leg is the customer.
    let dial_status = params.get("DialCallStatus");
    let raw_status = params.first(&["Status", "Stream[Status]", "CallStatus"]).or(match direction {
        Direction::Inbound => dial_status.filter(|d| final_status(d).is_some()).map(|_| "completed"),
        Direction::Outbound => dial_status,
    });
    let Some(status) = raw_status.and_then(final_status) else {
        let shown = raw_status.unwrap_or("no status");
        return Ok(ParsedEvent {
            interactions: Vec::new(),
            ignored: vec![format!("call `{call_sid}` ({shown}): not a final status, nothing to record yet")],
        });
    };
    let answered_by = params.get("AnsweredBy");
    let mut analysis = Map::new();
    for (name, key) in [
        ("DialCallStatus", "dial_call_status"),
        ("Stream[DisconnectedBy]", "disconnected_by"),
        ("CustomField", "custom_field"),
        ("flow_id", "flow_id"),
        ("digits", "digits"),
        ("AnsweredBy", "answered_by"),
    ] {
        if let Some(value) = params.get(name) {
            analysis.insert(key.to_owned(), Value::String(value.trim_matches('"').to_owned()));
        }
    }
    let duration = params
        .first(&["ConversationDuration", "Stream[Duration]", "DialCallDuration", "Duration"])
        .and_then(|d| d.trim().parse().ok());
    let at = params
        .first(&["EndTime", "DateUpdated", "CurrentTime", "StartTime", "Created", "DateCreated"])
        .and_then(|t| parse_time(t, offset))
        .unwrap_or_else(|| event.received_at());
    let call = Call {
        call_id: call_sid.clone(),
        turns: Vec::new(),
        duration_secs: duration,
        recording_url: params.first(&["RecordingUrl", "Stream[RecordingUrl]"]).map(str::to_owned),
        analysis: if analysis.is_empty() { Value::Null } else { Value::Object(analysis) },
        ended_reason: Some(raw_status.unwrap_or_default().to_owned()),
        outcome: outcome(&status, answered_by),
    };
    Ok(ParsedEvent {
        interactions: vec![Interaction {
            dedup_key: format!("{call_sid}:{status}"),
            channel: Channel::Voice,
            direction,
            at,
            keys: phone_key(customer).into_iter().collect(),
            display_name: None,
            content: Content::Call(call),
        }],
        ignored: Vec::new(),
    })
}
