//! One `statuses[]` item: what happened to a message the business sent.

use handoffd_contract::interaction::{Channel, Content, DeliveryStatus, Direction, Interaction, VendorError};
use serde_json::Value;

use chrono::{DateTime, Utc};

use crate::json::{array_at, event_time, str_at, text_at};
use crate::keys::{WHATSAPP, user_keys};
use handoffd_contract::identity::IdentityKey;

pub(super) fn interaction(
    status: &Value,
    contacts: &[Value],
    received_at: DateTime<Utc>,
) -> Result<Interaction, String> {
    let id = text_at(status, &["id"]).ok_or("the status has no `id`")?;
    let state = text_at(status, &["status"]).ok_or_else(|| format!("the status of `{id}` has no `status`"))?;
    let at = event_time(status.get("timestamp"), received_at, &format!("the `{state}` status of `{id}`"));
    let recipient = text_at(status, &["recipient_id"]);
    let recipient_user_id = text_at(status, &["recipient_user_id"]);
    // A group's id is no person's key: name it as a group.
    let keys = if str_at(status, &["recipient_type"]) == Some("group") {
        recipient.map(|group| vec![IdentityKey::vendor(format!("{WHATSAPP}_group"), group)]).unwrap_or_default()
    } else {
        user_keys(recipient, recipient_user_id)
    };
    let display_name = contacts
        .iter()
        .find(|c| recipient.is_some() && text_at(c, &["wa_id"]) == recipient)
        .and_then(|c| text_at(c, &["profile", "name"]))
        .map(str::to_owned);
    Ok(Interaction {
        dedup_key: format!("{id}:{state}"),
        channel: Channel::Whatsapp,
        direction: Direction::Outbound,
        at,
        keys,
        display_name,
        content: Content::Status(DeliveryStatus {
            message_id: id.to_owned(),
            status: state.to_owned(),
            errors: array_at(status, &["errors"]).iter().map(vendor_error).collect(),
        }),
    })
}

pub(super) fn vendor_error(error: &Value) -> VendorError {
    VendorError {
        code: error.get("code").and_then(|code| code.as_i64().or_else(|| code.as_str()?.trim().parse().ok())),
        title: text_at(error, &["title"]).map(str::to_owned),
        message: text_at(error, &["message"]).map(str::to_owned),
        details: text_at(error, &["error_data", "details"]).map(str::to_owned),
    }
}

/// "131051 Message type unknown (Message type is currently not supported.)" for the logs.
pub(super) fn describe_error(error: &Value) -> String {
    let error = vendor_error(error);
    let mut text = error.code.map(|c| c.to_string()).unwrap_or_else(|| "no code".to_owned());
    if let Some(title) = error.title.or(error.message) {
        text.push_str(&format!(" {title}"));
    }
    if let Some(details) = error.details {
        text.push_str(&format!(" ({details})"));
    }
    text
}
