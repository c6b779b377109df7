//! Stored interactions of a handoff -> the canonical conversation interpretation reads.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::conversation::{Conversation, ConversationCustomer, Speaker, Turn, VendorAnalysis};
use handoffd_contract::interaction::Content;

use crate::store::{HandoffConversation, StoredInteraction};

/// Build the canonical conversation of a handoff, as of `now`, in the business's zone.
/// `connector_kinds` names each connector's vendor, which selects its analysis mapping.
pub fn assemble(
    stored: &HandoffConversation,
    now: DateTime<Utc>,
    timezone: Tz,
    business_hours: &BTreeMap<String, String>,
    connector_kinds: &BTreeMap<String, String>,
) -> Conversation {
    let local = |at: DateTime<Utc>| at.with_timezone(&timezone).fixed_offset();
    let mut turns = Vec::new();
    let mut vendor_analysis = None;
    // A vendor may report one call twice (Retell: ended, then analysed; a poll and a webhook):
    // the call is read once, from its last report.
    let last_report: HashMap<(&str, &str), usize> = stored
        .interactions
        .iter()
        .enumerate()
        .filter_map(|(index, item)| match &item.interaction.content {
            Content::Call(call) => Some(((item.connector_id.as_str(), call.call_id.as_str()), index)),
            _ => None,
        })
        .collect();
    for (index, item) in stored.interactions.iter().enumerate() {
        match &item.interaction.content {
            Content::Message(message) => {
                let Some(text) = readable_text(item) else { continue };
                turns.push(Turn { at: local(item.at), from: message.from, text });
            }
            Content::Call(call) => {
                if last_report.get(&(item.connector_id.as_str(), call.call_id.as_str())) != Some(&index) {
                    continue;
                }
                // A call is reported when it ends; its turns' offsets count from its start.
                let started = item.at - chrono::Duration::seconds(call.duration_secs.unwrap_or(0) as i64);
                for turn in &call.turns {
                    let offset = turn.offset_secs.map(|s| chrono::Duration::milliseconds((s * 1000.0) as i64));
                    turns.push(Turn {
                        at: local((started + offset.unwrap_or_default()).min(item.at)),
                        from: turn.from,
                        text: turn.text.clone(),
                    });
                }
                if let Some(fields) = call.analysis.as_object() {
                    let vendor = connector_kinds.get(&item.connector_id).unwrap_or(&item.connector_id).clone();
                    vendor_analysis = Some(VendorAnalysis { vendor, fields: fields.clone() });
                }
            }
            Content::Status(_) | Content::System(_) => {}
        }
    }
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    for (match_key, raw) in &stored.customer.keys {
        if let Some(phone) = match_key.strip_prefix("phone:") {
            if !phones.iter().any(|p| p == phone) {
                phones.push(phone.to_owned());
            }
        } else if match_key.starts_with("phone_raw:") && !phones.contains(raw) {
            phones.push(raw.clone());
        } else if let Some(email) = match_key.strip_prefix("email:")
            && !emails.iter().any(|e| e == email)
        {
            emails.push(email.to_owned());
        }
    }
    Conversation {
        now: local(now),
        timezone: timezone.name().to_owned(),
        business_hours: business_hours.clone(),
        customer: ConversationCustomer { name: stored.customer.display_name.clone(), phones, emails },
        channel: stored.interactions.first().map(|i| i.channel.clone()).unwrap_or_else(|| "whatsapp".to_owned()),
        source: source_of(&stored.interactions),
        turns,
        handoff_at: None,
        vendor_analysis,
    }
}

/// What a person reads of a message; media without a caption is shown as its kind.
fn readable_text(item: &StoredInteraction) -> Option<String> {
    let Content::Message(message) = &item.interaction.content else { return None };
    match (&message.text, message.media.first()) {
        (Some(text), _) if !text.trim().is_empty() => Some(text.clone()),
        (_, Some(media)) => Some(format!("[{}]", media.kind)),
        _ if message.from == Speaker::Customer && message.kind != "revoke" => Some(format!("[{}]", message.kind)),
        _ => None,
    }
}

/// Where the customer came from: a click-to-chat ad when there is one, else the connector.
fn source_of(interactions: &[StoredInteraction]) -> Option<String> {
    for item in interactions {
        if let Content::Message(message) = &item.interaction.content
            && let Some(referral) = &message.referral
        {
            let kind = referral.source_type.as_deref().unwrap_or("referral");
            return Some(match &referral.source_id {
                Some(id) => format!("ctwa_{kind}:{id}"),
                None => format!("ctwa_{kind}"),
            });
        }
    }
    interactions.first().map(|i| i.connector_id.clone())
}
