//! The send proxy's side of the connector: which paths it forwards, and the `ai` turn that a
//! Graph API send becomes once Meta has accepted it (the bot's own text, which no webhook shows).

use chrono::{DateTime, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, MediaRef, Message};
use serde_json::Value;

use crate::json::{array_at, str_at, text_at};
use crate::keys::{merge, user_keys};
use crate::render;

/// A send path the proxy forwards: `/graph/{version}/{phone_number_id}/messages`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyPath {
    /// Graph API version, e.g. `v23.0`.
    pub version: String,
    /// The business phone number the bot sends from.
    pub phone_number_id: String,
}

impl ProxyPath {
    /// The path to forward to, under the connector's `base_url`: `/v23.0/{id}/messages`.
    pub fn upstream_path(&self) -> String {
        format!("/{}/{}/messages", self.version, self.phone_number_id)
    }
}

/// Recognise `/graph/{version}/{phone_number_id}/messages` and nothing else (no other Graph
/// endpoint, no extra or empty segment, no `..`, no query).
pub fn parse_proxy_path(path: &str) -> Option<ProxyPath> {
    let mut segments = path.strip_prefix("/graph/")?.split('/');
    let (version, phone_number_id, endpoint) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() || endpoint != "messages" || !is_version(version) {
        return None;
    }
    if phone_number_id.is_empty() || phone_number_id.len() > 32 || !phone_number_id.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(ProxyPath { version: version.to_owned(), phone_number_id: phone_number_id.to_owned() })
}

/// `v23.0`: a `v`, digits, a dot, digits.
fn is_version(version: &str) -> bool {
    let Some((major, minor)) = version.strip_prefix('v').and_then(|v| v.split_once('.')) else { return false };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// The outbound message a Graph API send request became, given Meta's 200 answer
/// (`messages[0].id` is the wamid, the dedup key). `None` when the answer carries no wamid
/// (Meta refused the send) or the request is not JSON.
pub fn outbound_from_send(request_body: &[u8], response_body: &[u8], at: DateTime<Utc>) -> Option<Interaction> {
    let request: Value = serde_json::from_slice(request_body).ok()?;
    let response: Value = serde_json::from_slice(response_body).ok()?;
    let wamid = array_at(&response, &["messages"]).first().and_then(|m| text_at(m, &["id"]))?;
    let mut keys = user_keys(text_at(&request, &["to"]), text_at(&request, &["recipient"]));
    if let Some(contact) = array_at(&response, &["contacts"]).first() {
        merge(&mut keys, user_keys(text_at(contact, &["wa_id"]), text_at(contact, &["user_id"])));
    }
    let kind = text_at(&request, &["type"]).unwrap_or("text");
    let payload = request.get(kind).unwrap_or(&Value::Null);
    let mut message = Message {
        from: Speaker::Ai,
        kind: kind.to_owned(),
        refers_to: text_at(&request, &["context", "message_id"]).map(str::to_owned),
        ..Message::default()
    };
    match kind {
        "text" => message.text = text_at(payload, &["body"]).map(str::to_owned),
        "template" => message.text = template_summary(payload),
        "interactive" => {
            let sub = text_at(payload, &["type"]);
            if let Some(sub) = sub {
                message.kind = format!("interactive.{sub}");
            }
            message.text = interactive_summary(payload, sub);
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            message.text = text_at(payload, &["caption"]).map(str::to_owned);
            if let Some(id) = text_at(payload, &["id"]).or_else(|| text_at(payload, &["link"])) {
                message.media.push(MediaRef {
                    kind: kind.to_owned(),
                    id: id.to_owned(),
                    mime_type: None,
                    filename: text_at(payload, &["filename"]).map(str::to_owned),
                });
            }
        }
        "location" => message.text = render::location(payload),
        "contacts" => message.text = render::shared_contacts(array_at(&request, &["contacts"])),
        "reaction" => {
            message.text = Some(render::reaction(str_at(payload, &["emoji"])));
            message.refers_to = text_at(payload, &["message_id"]).map(str::to_owned);
        }
        _ => {
            message.text = text_at(payload, &["body"]).or_else(|| text_at(payload, &["text"])).map(str::to_owned);
            message.extra = request.clone();
        }
    }
    Some(Interaction {
        dedup_key: wamid.to_owned(),
        channel: Channel::Whatsapp,
        direction: Direction::Outbound,
        at,
        keys,
        display_name: None,
        content: Content::Message(message),
    })
}

/// "Template `visit_confirmation` (en_US): Saturday, 10 AM": the parameters a customer reads.
fn template_summary(template: &Value) -> Option<String> {
    let name = text_at(template, &["name"])?;
    let mut summary = format!("Template `{name}`");
    if let Some(language) = text_at(template, &["language", "code"]) {
        summary.push_str(&format!(" ({language})"));
    }
    let parameters: Vec<String> = array_at(template, &["components"])
        .iter()
        .filter(|c| matches!(str_at(c, &["type"]), Some("header" | "body")))
        .flat_map(|c| array_at(c, &["parameters"]))
        .filter_map(parameter_text)
        .collect();
    if !parameters.is_empty() {
        summary.push_str(&format!(": {}", parameters.join(", ")));
    }
    Some(summary)
}

fn parameter_text(parameter: &Value) -> Option<String> {
    let text = match str_at(parameter, &["type"])? {
        "text" => text_at(parameter, &["text"]),
        "currency" => text_at(parameter, &["currency", "fallback_value"]),
        "date_time" => text_at(parameter, &["date_time", "fallback_value"]),
        "location" => return parameter.get("location").and_then(render::location),
        _ => None,
    };
    text.map(str::to_owned)
}

/// "Buttons: Yes | No — Shall I have someone call you?"; lists, links and flows alike.
fn interactive_summary(interactive: &Value, sub: Option<&str>) -> Option<String> {
    let body = text_at(interactive, &["body", "text"]);
    let choices: Option<(&str, Vec<&str>)> = match sub {
        Some("button") => Some((
            "Buttons",
            array_at(interactive, &["action", "buttons"])
                .iter()
                .filter_map(|b| text_at(b, &["reply", "title"]))
                .collect(),
        )),
        Some("list") => Some((
            "List",
            array_at(interactive, &["action", "sections"])
                .iter()
                .flat_map(|s| array_at(s, &["rows"]))
                .filter_map(|r| text_at(r, &["title"]))
                .collect(),
        )),
        Some("cta_url") => {
            Some(("Link", text_at(interactive, &["action", "parameters", "display_text"]).into_iter().collect()))
        }
        Some("flow") => {
            Some(("Form", text_at(interactive, &["action", "parameters", "flow_cta"]).into_iter().collect()))
        }
        _ => None,
    };
    match (choices.filter(|(_, items)| !items.is_empty()), body) {
        (Some((label, items)), Some(body)) => Some(format!("{label}: {} — {body}", items.join(" | "))),
        (Some((label, items)), None) => Some(format!("{label}: {}", items.join(" | "))),
        (None, body) => body.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_messages_endpoint_is_a_proxy_path() {
        let path = parse_proxy_path("/graph/v23.0/106600112233/messages").unwrap();
        assert_eq!(path, ProxyPath { version: "v23.0".into(), phone_number_id: "106600112233".into() });
        assert_eq!(path.upstream_path(), "/v23.0/106600112233/messages");
        for rejected in [
            "/graph/v23.0/123/media",
            "/graph/v23.0/../messages",
            "/graph/v23.0/123/messages/",
            "/graph/v23.0/123/messages/extra",
            "/graph/v23.0//messages",
            "/graph/23.0/123/messages",
            "/graph/v23/123/messages",
            "/graph/v23.0/12a/messages",
            "/graph/v23.0/123/messages?x=1",
            "/v23.0/123/messages",
            "/graph/v23.0/123",
            "",
        ] {
            assert_eq!(parse_proxy_path(rejected), None, "{rejected}");
        }
    }

    #[test]
    fn a_template_without_parameters_is_named() {
        let template = serde_json::json!({"name": "welcome_back", "language": {"code": "hi"}});
        assert_eq!(template_summary(&template).as_deref(), Some("Template `welcome_back` (hi)"));
    }
}
