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
    // The daemon knows the business's zone apart from the customer's: the phone's area code
    // counts within the business's own country too.
    let customer_timezone = crate::interpret::clock::zone_of_phones(phones.iter().map(String::as_str), timezone)
        .map(|z| z.name().to_owned());
    Conversation {
        now: local(now),
        timezone: timezone.name().to_owned(),
        customer_timezone,
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
    // A reaction or an unreadable message is history, not a turn: a handoff holding only such
    // messages (stored before they stopped opening one) has no customer turn and makes no task.
    if crate::conversation::lifecycle::message_without_handoff(message).is_some() {
        return None;
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use handoffd_contract::interaction::{Call, CallTurn, Channel, Direction, Interaction};
    use serde_json::json;

    use super::*;
    use crate::store::{CustomerRecord, HandoffRow, HandoffState};

    fn report(connector: &str, dedup: &str, at: DateTime<Utc>, analysis: serde_json::Value) -> StoredInteraction {
        let turns = vec![
            CallTurn { from: Speaker::Ai, text: "How can I help?".into(), offset_secs: Some(0.0) },
            CallTurn { from: Speaker::Customer, text: "Call me back".into(), offset_secs: Some(5.0) },
        ];
        let interaction = Interaction {
            dedup_key: dedup.into(),
            channel: Channel::Voice,
            direction: Direction::Inbound,
            at,
            keys: Vec::new(),
            display_name: None,
            content: Content::Call(Call {
                call_id: "c1".into(),
                turns,
                duration_secs: Some(60),
                analysis,
                ..Call::default()
            }),
        };
        StoredInteraction {
            connector_id: connector.into(),
            channel: "voice".into(),
            direction: "inbound".into(),
            speaker: Some("customer".into()),
            at,
            kind: "call".into(),
            text: None,
            interaction,
        }
    }

    #[test]
    fn a_call_reported_twice_is_read_once_from_its_last_report_and_mapped_by_its_vendor() {
        let end = Utc.with_ymd_and_hms(2026, 6, 9, 4, 31, 0).single().unwrap();
        let stored = HandoffConversation {
            handoff: HandoffRow {
                id: "h1".into(),
                customer_id: "c".into(),
                state: HandoffState::Collecting,
                opened_at: end,
                ready_at: end,
                ended_by: None,
                version: 1,
                crm_task_id: None,
            },
            customer: CustomerRecord {
                id: "c".into(),
                display_name: None,
                keys: Vec::new(),
                open_conflicts: Vec::new(),
                cached_contacts: Vec::new(),
            },
            interactions: vec![
                report("retell-main", "c1:call_ended", end, serde_json::Value::Null),
                report("retell-main", "c1:call_analyzed", end, json!({"call_summary": "Wants a callback"})),
            ],
            earlier: Vec::new(),
        };
        let kinds = BTreeMap::from([("retell-main".to_owned(), "retell".to_owned())]);
        let conversation = assemble(&stored, end, chrono_tz::Asia::Kolkata, &BTreeMap::new(), &kinds);
        assert_eq!(conversation.turns.len(), 2, "{:?}", conversation.turns);
        // Offsets count from the call's start (its end less its duration).
        assert_eq!(conversation.turns[0].at.to_rfc3339(), "2026-06-09T10:00:00+05:30");
        assert_eq!(conversation.turns[1].at.to_rfc3339(), "2026-06-09T10:00:05+05:30");
        let analysis = conversation.vendor_analysis.expect("the last report's analysis");
        assert_eq!(analysis.vendor, "retell");
        assert_eq!(analysis.fields["call_summary"], json!("Wants a callback"));
    }
}
