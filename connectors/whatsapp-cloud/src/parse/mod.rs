//! A verified webhook body into interactions: every `entry[]`, every `changes[]`.
//!
//! Layout: [`message`] turns one `messages[]` item into an interaction, [`status`] one
//! `statuses[]` item. What cannot become an interaction is described in `ignored`, never
//! dropped silently and never a reason to reject the other items of the same body.

mod message;
mod status;

use chrono::{DateTime, Utc};
use handoffd_contract::webhook::{ParseError, ParsedEvent};
use serde_json::Value;

use crate::json::{array_at, str_at};

/// The only `object` a WhatsApp Business Account webhook carries.
const OBJECT: &str = "whatsapp_business_account";

pub fn parse_body(body: &[u8], received_at: DateTime<Utc>) -> Result<ParsedEvent, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|error| ParseError::Json(error.to_string()))?;
    match str_at(&root, &["object"]) {
        Some(OBJECT) => {}
        Some(other) => return Err(ParseError::Shape(format!("`object` is `{other}`, expected `{OBJECT}`"))),
        None => return Err(ParseError::Shape(format!("`object` is missing, expected `{OBJECT}`"))),
    }
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::Shape("`entry` is not an array".to_owned()))?;
    let mut event = ParsedEvent::default();
    for (e, entry) in entries.iter().enumerate() {
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            event.ignored.push(format!("entry[{e}] has no `changes` array"));
            continue;
        };
        for (c, change) in changes.iter().enumerate() {
            let place = format!("entry[{e}].changes[{c}]");
            match str_at(change, &["field"]) {
                Some("messages") => {
                    parse_messages_value(change.get("value").unwrap_or(&Value::Null), &place, received_at, &mut event)
                }
                Some(field) => event.ignored.push(format!("{place}: field `{field}` is not handled")),
                None => event.ignored.push(format!("{place}: no `field`")),
            }
        }
    }
    Ok(event)
}

/// A `field: messages` value: `metadata`, `contacts[]`, `messages[]` and/or `statuses[]`.
fn parse_messages_value(value: &Value, place: &str, received_at: DateTime<Utc>, event: &mut ParsedEvent) {
    let contacts = array_at(value, &["contacts"]);
    let messages = array_at(value, &["messages"]);
    let statuses = array_at(value, &["statuses"]);
    for (i, item) in messages.iter().enumerate() {
        match message::interaction(item, contacts, received_at) {
            Ok(interaction) => event.interactions.push(interaction),
            Err(reason) => event.ignored.push(format!("{place}.messages[{i}]: {reason}")),
        }
    }
    for (i, item) in statuses.iter().enumerate() {
        match status::interaction(item, contacts, received_at) {
            Ok(interaction) => event.interactions.push(interaction),
            Err(reason) => event.ignored.push(format!("{place}.statuses[{i}]: {reason}")),
        }
    }
    // Meta reports problems that concern no single message at the value level.
    for error in array_at(value, &["errors"]) {
        event.ignored.push(format!("{place}: WhatsApp reported an error: {}", status::describe_error(error)));
    }
    if messages.is_empty() && statuses.is_empty() && array_at(value, &["errors"]).is_empty() {
        event.ignored.push(format!("{place}: a `messages` change with no messages or statuses"));
    }
}
