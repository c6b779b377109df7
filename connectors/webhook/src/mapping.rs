//! A payload onto canonical fields, by the configured JSON Pointers.

use chrono::{DateTime, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, CallTurn, Channel, Content, Direction, Interaction, Message};
use handoffd_contract::webhook::{ParseError, ParsedEvent, Verified};
use serde_json::{Map, Value};

use crate::config::{Roles, WebhookConfig};
use crate::signature::WEBHOOK_ID;

/// The channel named `name` (`voice`, `whatsapp`, `sms`, `webchat`, `email`).
pub fn channel(name: &str) -> Option<Channel> {
    match name.trim().to_ascii_lowercase().as_str() {
        "voice" | "call" | "phone" => Some(Channel::Voice),
        "whatsapp" => Some(Channel::Whatsapp),
        "sms" => Some(Channel::Sms),
        "webchat" | "chat" => Some(Channel::Webchat),
        "email" => Some(Channel::Email),
        _ => None,
    }
}

/// A scalar as text (strings as they are, numbers and booleans written out).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn at<'a>(payload: &'a Value, pointer: Option<&String>) -> Option<&'a Value> {
    pointer.and_then(|p| payload.pointer(p)).filter(|v| !v.is_null())
}

fn text_at(payload: &Value, pointer: Option<&String>) -> Option<String> {
    at(payload, pointer).and_then(text)
}

/// RFC 3339, or Unix seconds or milliseconds (as a number or a string of digits).
pub fn time(value: &Value) -> Option<DateTime<Utc>> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => return Some(t.with_timezone(&Utc)),
            Err(_) => s.trim().parse::<f64>().ok(),
        },
        _ => None,
    }?;
    let millis = if number.abs() >= 100_000_000_000.0 { number } else { number * 1000.0 };
    DateTime::from_timestamp_millis(millis as i64)
}

fn speaker(roles: &Roles, role: &str) -> Option<Speaker> {
    let is = |list: &[String]| list.iter().any(|word| word.eq_ignore_ascii_case(role.trim()));
    if is(&roles.customer) {
        Some(Speaker::Customer)
    } else if is(&roles.agent) {
        Some(Speaker::Agent)
    } else if is(&roles.ai) {
        Some(Speaker::Ai)
    } else {
        None
    }
}

/// The turns of the payload: the `turns` array, or the `text` transcript.
fn turns(config: &WebhookConfig, payload: &Value, skipped: &mut Vec<String>) -> Option<Vec<CallTurn>> {
    let fields = &config.fields;
    if let Some(items) = at(payload, fields.turns.as_ref()).and_then(Value::as_array) {
        let mut turns = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let role = item.pointer(&fields.turn_role).and_then(text).unwrap_or_default();
            let Some(said) = item.pointer(&fields.turn_text).and_then(text) else { continue };
            match speaker(&config.roles, &role) {
                Some(from) => turns.push(CallTurn {
                    from,
                    text: said,
                    offset_secs: fields.turn_offset.as_ref().and_then(|p| item.pointer(p)).and_then(Value::as_f64),
                }),
                None => skipped.push(format!("turn {i}: role `{role}` is none of the configured roles")),
            }
        }
        return Some(turns);
    }
    let transcript = text_at(payload, fields.text.as_ref())?;
    let mut turns: Vec<CallTurn> = Vec::new();
    for line in transcript.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let labelled = line.split_once(':').and_then(|(role, said)| Some((speaker(&config.roles, role)?, said.trim())));
        match (labelled, turns.last_mut()) {
            (Some((from, said)), _) => turns.push(CallTurn { from, text: said.to_owned(), offset_secs: None }),
            (None, Some(last)) => {
                last.text.push(' ');
                last.text.push_str(line);
            }
            (None, None) => turns.push(CallTurn { from: Speaker::Customer, text: line.to_owned(), offset_secs: None }),
        }
    }
    Some(turns)
}

/// The outcome the config lists `reason` under, or a connected call.
fn outcome(config: &WebhookConfig, reason: Option<&str>) -> CallOutcome {
    reason
        .and_then(|reason| {
            config
                .call_outcomes
                .iter()
                .find(|(_, values)| values.iter().any(|v| v.eq_ignore_ascii_case(reason.trim())))
                .map(|(outcome, _)| *outcome)
        })
        .unwrap_or(CallOutcome::Connected)
}

/// One verified payload into interactions.
pub fn parse(config: &WebhookConfig, event: &Verified) -> Result<ParsedEvent, ParseError> {
    let payload: Value = serde_json::from_slice(event.body()).map_err(|e| ParseError::Json(e.to_string()))?;
    if !payload.is_object() && !payload.is_array() {
        return Err(ParseError::Shape("the payload is not a JSON object".into()));
    }
    if let Some(rule) = &config.accept {
        let kind = payload.pointer(&rule.pointer).and_then(text).unwrap_or_default();
        if !rule.values.contains(&kind) {
            return Ok(ParsedEvent {
                interactions: Vec::new(),
                ignored: vec![format!("event `{kind}` at `{}` is not one of `accept.values`", rule.pointer)],
            });
        }
    }
    let fields = &config.fields;
    let dedup_key = match &fields.dedup_key {
        Some(pointers) => {
            let parts: Vec<String> = pointers
                .all()
                .iter()
                .map(|p| {
                    payload
                        .pointer(p)
                        .and_then(text)
                        .ok_or_else(|| ParseError::Shape(format!("no dedup key at `{p}` (fields.dedup_key)")))
                })
                .collect::<Result<_, _>>()?;
            parts.join(":")
        }
        None => event
            .header(WEBHOOK_ID)
            .map(str::to_owned)
            .ok_or_else(|| ParseError::Shape("no `webhook-id` header and no `fields.dedup_key`".into()))?,
    };
    let mut keys = Vec::new();
    if let Some(phone) = text_at(&payload, fields.phone.as_ref()) {
        keys.push(IdentityKey::phone(phone));
    }
    if let Some(email) = text_at(&payload, fields.email.as_ref()) {
        keys.push(IdentityKey::email(email));
    }
    if keys.is_empty() {
        return Err(ParseError::Shape(format!(
            "no customer phone or email at `{}` / `{}`",
            fields.phone.as_deref().unwrap_or("-"),
            fields.email.as_deref().unwrap_or("-")
        )));
    }
    let channel_name = text_at(&payload, fields.channel.as_ref()).unwrap_or_else(|| config.channel.clone());
    let channel =
        channel(&channel_name).ok_or_else(|| ParseError::Shape(format!("unknown channel `{channel_name}`")))?;
    let when = at(&payload, fields.time.as_ref()).and_then(time).unwrap_or_else(|| event.received_at());
    let name = text_at(&payload, fields.name.as_ref());
    let mut ignored = Vec::new();
    let turns = turns(config, &payload, &mut ignored);
    let mut analysis = Map::new();
    let mut names: Vec<&String> = fields.analysis.keys().collect();
    names.sort();
    for label in names {
        if let Some(value) = payload.pointer(&fields.analysis[label]).filter(|v| !v.is_null()) {
            analysis.insert(label.clone(), value.clone());
        }
    }
    let interaction = |dedup_key: String, at: DateTime<Utc>, direction: Direction, content: Content| Interaction {
        dedup_key,
        channel,
        direction,
        at,
        keys: keys.clone(),
        display_name: name.clone(),
        content,
    };
    if channel == Channel::Voice {
        let reason = text_at(&payload, fields.ended_reason.as_ref());
        let call = Call {
            call_id: text_at(&payload, fields.call_id.as_ref()).unwrap_or_else(|| dedup_key.clone()),
            outcome: outcome(config, reason.as_deref()),
            turns: turns.unwrap_or_default(),
            duration_secs: at(&payload, fields.duration.as_ref()).and_then(|v| match v {
                Value::Number(n) => n.as_f64().map(|f| f.round() as u64),
                Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f.round() as u64),
                _ => None,
            }),
            recording_url: text_at(&payload, fields.recording_url.as_ref()),
            analysis: if analysis.is_empty() { Value::Null } else { Value::Object(analysis) },
            ended_reason: reason,
        };
        return Ok(ParsedEvent {
            interactions: vec![interaction(dedup_key, when, Direction::Inbound, Content::Call(call))],
            ignored,
        });
    }
    // A chat: each turn is one message, keyed by its place in the event.
    let interactions = turns
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, turn)| {
            let direction = if turn.from == Speaker::Customer { Direction::Inbound } else { Direction::Outbound };
            let offset = chrono::Duration::milliseconds((turn.offset_secs.unwrap_or(0.0) * 1000.0) as i64);
            let message = Message { from: turn.from, kind: "text".into(), text: Some(turn.text), ..Message::default() };
            interaction(format!("{dedup_key}:{i}"), when + offset, direction, Content::Message(message))
        })
        .collect();
    Ok(ParsedEvent { interactions, ignored })
}
