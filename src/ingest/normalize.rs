//! Normalise committed inbox rows: parse each with its connector, resolve identity keys to
//! match keys, and apply the interactions to customers and handoffs in one transaction per round
//! of rows ([`super::apply_interactions`]). A body that cannot be parsed goes to quarantine.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::Content;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::daemon::shared::Shared;
use crate::daemon::supervisor::catch_round;
use crate::registry::Connectors;
use crate::store::{InboxEvent, NormalizedBatch, NormalizedInteraction, Store};

/// Inbox rows read per round, normalised in one transaction: enough to spare commits, few enough that the
/// writer is soon free for the next webhooks' group commit.
const ROUND: u32 = 128;
/// How often to look for work when nobody wakes us (a safety net, not the normal path).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The match keys of one identity key, as (match key, raw key) pairs.
pub fn match_keys(key: &IdentityKey, default_region: Option<&str>) -> Vec<(String, String)> {
    let normalized = crate::identity::keys::normalize(key, default_region);
    let raw = normalized.raw.clone().unwrap_or_else(|| normalized.canonical.clone());
    let mut keys = vec![(normalized.canonical.clone(), raw.clone())];
    for extra in normalized.match_keys {
        if !keys.iter().any(|(k, _)| *k == extra) {
            keys.push((extra, raw.clone()));
        }
    }
    keys
}

pub struct Normalizer {
    pub store: Arc<dyn Store>,
    pub connectors: Shared<Connectors>,
    pub quiet_period: chrono::Duration,
    pub reopen_after: chrono::Duration,
    /// AI phrases that end the conversation at once ("I'm connecting you with our team").
    pub handoff_phrases: Vec<String>,
    /// Woken when the inbox has new rows.
    pub inbox_committed: Arc<Notify>,
    /// Woken when handoffs may have become ready.
    pub handoffs_changed: Arc<Notify>,
}

impl Normalizer {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match catch_round("normalize", self.round()).await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => tracing::error!(error = %format!("{error:#}"), "Normalising the inbox failed; retrying."),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.inbox_committed.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }

    /// Normalise what the inbox holds now (one transaction for the round); returns how many rows were handled.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let events = self.store.unprocessed_inbox(ROUND).await?;
        let mut rows = Vec::with_capacity(events.len());
        for event in &events {
            match self.normalize(event) {
                Ok(batch) => rows.push((event.id, batch)),
                Err(reason) => {
                    metrics::counter!("handoffd_quarantined_total", "connector" => event.connector_id.clone())
                        .increment(1);
                    self.store.quarantine(event.id, &reason, Utc::now()).await?;
                    // The quarantine entry has the inbox row's id: the one `handoffd quarantine show` takes.
                    tracing::warn!(
                        quarantine_id = event.id,
                        connector = %event.connector_id,
                        %reason,
                        "A signed event from `{}` could not be parsed; it is kept as quarantine entry `{}`.",
                        event.connector_id,
                        event.id
                    );
                }
            }
        }
        if !rows.is_empty() {
            let summary = super::apply_interactions(self.store.as_ref(), &rows).await?;
            metrics::counter!("handoffd_interactions_stored_total").increment(summary.stored as u64);
            metrics::counter!("handoffd_interactions_duplicate_total").increment(summary.duplicates as u64);
            tracing::debug!(rows = rows.len(), ?summary, "Normalised inbox events.");
        }
        if !events.is_empty() {
            self.handoffs_changed.notify_one();
        }
        Ok(events.len())
    }

    /// Parse one event with its connector and resolve its identity keys; `Err` is why it could not be parsed.
    fn normalize(&self, event: &InboxEvent) -> Result<NormalizedBatch, String> {
        let connectors = self.connectors.get();
        let parsed = connectors.parse(event)?;
        for ignored in &parsed.ignored {
            tracing::debug!(inbox_id = event.id, connector = %event.connector_id, %ignored, "Part of an event was not used.");
        }
        let region = connectors.default_region(&event.connector_id);
        let interactions = parsed
            .interactions
            .into_iter()
            .map(|interaction| {
                let keys = interaction.keys.iter().flat_map(|key| match_keys(key, region)).collect();
                let end_signal = self.end_signal(&interaction.content);
                NormalizedInteraction { interaction, keys, end_signal }
            })
            .collect();
        Ok(NormalizedBatch {
            connector_id: event.connector_id.clone(),
            received_at: event.received_at(),
            quiet_period: self.quiet_period,
            reopen_after: self.reopen_after,
            interactions,
        })
    }

    /// Whether an interaction ends the conversation without waiting for the quiet period.
    fn end_signal(&self, content: &Content) -> Option<String> {
        match content {
            Content::Call(_) => Some("call_ended".to_owned()),
            Content::Message(message) if message.handoff => Some("handoff_marker".to_owned()),
            Content::Message(message) if message.from != handoffd_contract::conversation::Speaker::Customer => {
                let text = message.text.as_deref()?.to_lowercase();
                self.handoff_phrases
                    .iter()
                    .any(|phrase| text.contains(phrase.as_str()))
                    .then(|| "handoff_phrase".to_owned())
            }
            _ => None,
        }
    }
}
