//! One `messages[]` item: what the customer sent, in whatever type Meta invented this year.

use handoffd_contract::conversation::Speaker;
use handoffd_contract::interaction::{
    Channel, Content, Direction, Interaction, MediaRef, Message, Modification, Referral, SystemEvent,
};
use serde_json::{Map, Value};

use chrono::{DateTime, Utc};

use crate::json::{array_at, event_time, str_at, text_at};
use crate::keys::user_keys;
use crate::render;

/// Media types: the payload object has the same name as the type.
const MEDIA_TYPES: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

/// Top-level message fields mapped onto the canonical message (the rest goes to `extra`).
const MAPPED_FIELDS: [&str; 8] =
    ["from", "from_user_id", "from_parent_user_id", "id", "timestamp", "type", "context", "referral"];

pub(super) fn interaction(
    message: &Value,
    contacts: &[Value],
    received_at: DateTime<Utc>,
) -> Result<Interaction, String> {
    let id = text_at(message, &["id"]).ok_or("the message has no `id`")?;
    let at = event_time(message.get("timestamp"), received_at, &format!("message `{id}`"));
    let from = text_at(message, &["from"]);
    let from_user_id = text_at(message, &["from_user_id"]);
    let contact = sender_contact(contacts, from, from_user_id);
    let wa_id = from.or_else(|| contact.and_then(|c| text_at(c, &["wa_id"])));
    let user_id = from_user_id.or_else(|| contact.and_then(|c| text_at(c, &["user_id"])));
    let display_name = contact.and_then(|c| text_at(c, &["profile", "name"])).map(str::to_owned);
    let kind = text_at(message, &["type"]).unwrap_or("unknown");

    let (keys, content) = if kind == "system" {
        // A number change names the old identity in the message and the new one in `system`.
        let previous_user_id = text_at(message, &["system", "previous_user_id"]);
        (user_keys(wa_id, user_id.or(previous_user_id)), Content::System(system_event(message)))
    } else {
        (user_keys(wa_id, user_id), Content::Message(customer_message(message, kind)))
    };
    Ok(Interaction {
        dedup_key: id.to_owned(),
        channel: Channel::Whatsapp,
        direction: Direction::Inbound,
        at,
        keys,
        display_name,
        content,
    })
}

/// The `contacts[]` entry of the sender: same `wa_id` as `from`, or same `user_id` when the
/// user hides their number; the only entry when the message names no sender at all.
fn sender_contact<'a>(contacts: &'a [Value], from: Option<&str>, from_user_id: Option<&str>) -> Option<&'a Value> {
    let by = |field: &str, wanted: Option<&str>| {
        wanted.and_then(|wanted| contacts.iter().find(|c| text_at(c, &[field]) == Some(wanted)))
    };
    let only_contact = match (from, from_user_id, contacts) {
        (None, None, [only]) => Some(only),
        _ => None,
    };
    by("wa_id", from).or_else(|| by("user_id", from_user_id)).or(only_contact)
}

fn system_event(message: &Value) -> SystemEvent {
    let system = message.get("system").unwrap_or(&Value::Null);
    let new_wa_id = text_at(system, &["wa_id"]).or_else(|| text_at(system, &["new_wa_id"]));
    SystemEvent {
        kind: text_at(system, &["type"]).unwrap_or("system").to_owned(),
        text: text_at(system, &["body"]).map(str::to_owned),
        new_keys: user_keys(new_wa_id, text_at(system, &["user_id"])),
    }
}

/// What one message body says, before context and attribution are added.
#[derive(Default)]
struct Body {
    kind: String,
    text: Option<String>,
    media: Vec<MediaRef>,
    refers_to: Option<String>,
    modifies: Option<Modification>,
    /// Whether we map this type; an unknown type keeps its whole raw object in `extra`.
    known: bool,
}

fn customer_message(message: &Value, kind: &str) -> Message {
    let body = body(message, kind);
    let refers_to = body.refers_to.or_else(|| text_at(message, &["context", "id"]).map(str::to_owned));
    let extra = if body.known { unmapped_fields(message, kind) } else { message.clone() };
    Message {
        from: Speaker::Customer,
        kind: body.kind,
        text: body.text,
        media: body.media,
        refers_to,
        modifies: body.modifies,
        referral: message.get("referral").and_then(referral),
        handoff: false,
        extra,
    }
}

fn body(message: &Value, kind: &str) -> Body {
    let payload = message.get(kind).unwrap_or(&Value::Null);
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let simple = |text: Option<String>| Body { kind: kind.to_owned(), text, known: true, ..Body::default() };
    match kind {
        "text" => simple(owned(text_at(payload, &["body"]))),
        _ if MEDIA_TYPES.contains(&kind) => Body {
            media: media_ref(payload, kind).into_iter().collect(),
            ..simple(owned(text_at(payload, &["caption"])))
        },
        "location" => simple(render::location(payload)),
        "contacts" => simple(render::shared_contacts(array_at(message, &["contacts"]))),
        "reaction" => Body {
            refers_to: owned(text_at(payload, &["message_id"])),
            ..simple(Some(render::reaction(str_at(payload, &["emoji"]))))
        },
        "order" => simple(render::order(payload)),
        "button" => simple(owned(text_at(payload, &["text"]).or_else(|| text_at(payload, &["payload"])))),
        "interactive" => interactive(payload),
        "edit" => {
            // The edited message is a message of its own (text, or media with a caption).
            let inner = payload.get("message").unwrap_or(&Value::Null);
            let inner_kind = text_at(inner, &["type"]).unwrap_or("text");
            let inner_body = body(inner, inner_kind);
            Body {
                media: inner_body.media,
                refers_to: owned(text_at(payload, &["original_message_id"])),
                modifies: Some(Modification::Edit),
                ..simple(inner_body.text)
            }
        }
        "revoke" => Body {
            refers_to: owned(text_at(payload, &["original_message_id"])),
            modifies: Some(Modification::Revoke),
            ..simple(None)
        },
        // The user opened the chat for the first time: nothing to read, but a real event.
        "request_welcome" => simple(None),
        // `unsupported` and types newer than this code: keep the type, read what we can.
        _ => {
            Body { known: false, ..simple(owned(text_at(payload, &["body"]).or_else(|| text_at(payload, &["text"])))) }
        }
    }
}

fn interactive(interactive: &Value) -> Body {
    let sub = text_at(interactive, &["type"]);
    let kind = sub.map_or_else(|| "interactive".to_owned(), |sub| format!("interactive.{sub}"));
    let reply = sub.and_then(|sub| interactive.get(sub)).unwrap_or(&Value::Null);
    let (text, known) = match sub {
        Some("button_reply") => (text_at(reply, &["title"]).map(str::to_owned), true),
        Some("list_reply") => {
            let text = match (text_at(reply, &["title"]), text_at(reply, &["description"])) {
                (Some(title), Some(description)) => Some(format!("{title} — {description}")),
                (title, description) => title.or(description).map(str::to_owned),
            };
            (text, true)
        }
        Some("nfm_reply") => (render::flow_reply(reply), true),
        _ => (text_at(reply, &["title"]).or_else(|| text_at(reply, &["body"])).map(str::to_owned), false),
    };
    Body { kind, text, known, ..Body::default() }
}

fn media_ref(payload: &Value, kind: &str) -> Option<MediaRef> {
    let id = text_at(payload, &["id"]).or_else(|| text_at(payload, &["url"]))?;
    let voice = kind == "audio" && payload.get("voice").and_then(Value::as_bool) == Some(true);
    Some(MediaRef {
        kind: if voice { "voice" } else { kind }.to_owned(),
        id: id.to_owned(),
        mime_type: text_at(payload, &["mime_type"]).map(str::to_owned),
        filename: text_at(payload, &["filename"]).map(str::to_owned),
    })
}

fn referral(referral: &Value) -> Option<Referral> {
    referral.as_object()?;
    let field = |name: &str| text_at(referral, &[name]).map(str::to_owned);
    Some(Referral {
        source_type: field("source_type"),
        source_id: field("source_id"),
        source_url: field("source_url"),
        headline: field("headline"),
        body: field("body"),
        click_id: field("ctwa_clid"),
    })
}

/// The raw message minus what the canonical message already holds, so nothing Meta sent is
/// lost (forwarded flags, errors, a product inquiry's `referred_product`, future fields).
fn unmapped_fields(message: &Value, kind: &str) -> Value {
    let Some(object) = message.as_object() else { return Value::Null };
    let mut extra = Map::new();
    for (key, value) in object {
        if !MAPPED_FIELDS.contains(&key.as_str()) && key != kind {
            extra.insert(key.clone(), value.clone());
        }
    }
    let leftover = |value: Option<&Value>, mapped: &[&str]| -> Option<Map<String, Value>> {
        let object = value?.as_object()?;
        let rest: Map<String, Value> =
            object.iter().filter(|(k, _)| !mapped.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        (!rest.is_empty()).then_some(rest)
    };
    if let Some(context) = leftover(message.get("context"), &["id", "from"]) {
        extra.insert("context".to_owned(), Value::Object(context));
    }
    let referral_mapped = ["source_type", "source_id", "source_url", "headline", "body", "ctwa_clid"];
    if let Some(referral) = leftover(message.get("referral"), &referral_mapped) {
        extra.insert("referral".to_owned(), Value::Object(referral));
    }
    if extra.is_empty() { Value::Null } else { Value::Object(extra) }
}
