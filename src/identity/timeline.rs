//! The customer's timeline as the store holds it -> the brief's channel history.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::ChannelEvent;
use handoffd_contract::interaction::{Channel, Content};

use super::history::{HistoryItem, summarize};
use crate::store::{HandoffConversation, StoredInteraction};

/// Every customer and call touch of this handoff and the ones before it, most recent first.
pub fn channel_history(stored: &HandoffConversation, now: DateTime<Utc>, timezone: Tz) -> Vec<ChannelEvent> {
    let items: Vec<HistoryItem> =
        stored.interactions.iter().chain(stored.earlier.iter()).filter_map(history_item).collect();
    summarize(&items, now.with_timezone(&timezone).fixed_offset())
}

fn history_item(stored: &StoredInteraction) -> Option<HistoryItem> {
    let interaction = &stored.interaction;
    let (text, duration) = match &interaction.content {
        Content::Message(message) if stored.speaker.as_deref() == Some("customer") => {
            (message.text.clone().unwrap_or_else(|| format!("[{}]", message.kind)), None)
        }
        Content::Call(call) => (
            call.turns
                .iter()
                .find(|t| t.from == handoffd_contract::conversation::Speaker::Customer)
                .map(|t| t.text.clone())
                .unwrap_or_else(|| "call".to_owned()),
            call.duration_secs.map(std::time::Duration::from_secs),
        ),
        _ => return None,
    };
    let label = (interaction.channel == Channel::Voice).then(|| "Voice AI".to_owned());
    Some(HistoryItem { channel: interaction.channel, label, at: interaction.at, text_or_summary: text, duration })
}
