//! A round of normalised inbox rows applied in one transaction: for each interaction, the identity stage
//! finds its customer, the interaction is stored unless its dedup key was seen (a redelivery), and a message
//! or call attaches to the customer's handoff (the conversation stage's rule); then the row is marked
//! processed. One transaction for the round: a flood costs a few commits, not one per webhook, and a crash
//! replays the round, which its dedup keys make idempotent.

use handoffd_contract::conversation::Speaker;
use handoffd_contract::interaction::{Content, Interaction};

use crate::conversation::lifecycle::{Arrival, attach_to_handoff, call_without_handoff, message_without_handoff};
use crate::identity::resolve::resolve_customer;
use crate::store::{ApplySummary, NewInteraction, NormalizedBatch, PipelineStore, PipelineTx, StoreResult};
use crate::watch::consent::{Consent, consent_in};

/// Apply normalised inbox rows (inbox id, its interactions) in one transaction.
pub async fn apply_interactions(
    store: &dyn PipelineStore,
    rows: &[(i64, NormalizedBatch)],
) -> StoreResult<ApplySummary> {
    let mut summary = ApplySummary::default();
    let mut tx = store.begin().await?;
    for (inbox_id, batch) in rows {
        apply_row(tx.as_mut(), *inbox_id, batch, &mut summary).await?;
    }
    tx.commit().await?;
    Ok(summary)
}

async fn apply_row(
    tx: &mut dyn PipelineTx,
    inbox_id: i64,
    batch: &NormalizedBatch,
    summary: &mut ApplySummary,
) -> StoreResult<()> {
    let now = batch.received_at;
    for item in &batch.interactions {
        if item.keys.is_empty() {
            continue;
        }
        let customer_id = resolve_customer(tx, item, &batch.connector_id, now, summary).await?;
        let interaction = &item.interaction;
        let no_handoff = match &interaction.content {
            Content::Call(call) => call_without_handoff(call),
            Content::Message(message) => message_without_handoff(message),
            _ => None,
        };
        // A call or message that is no handoff is kept without a speaker, so no later handoff adopts it.
        let speaker = if no_handoff.is_some() { None } else { speaker_of(interaction) };
        let stored = tx
            .insert_interaction(&NewInteraction {
                connector_id: &batch.connector_id,
                inbox_id,
                customer_id: &customer_id,
                speaker,
                kind: kind_of(interaction),
                text: text_of(interaction),
                received_at: now,
                interaction,
            })
            .await?;
        let Some(interaction_id) = stored else {
            summary.duplicates += 1;
            continue;
        };
        summary.stored += 1;
        // What was stored, for tracing a message through the pipeline at debug level. Phones and text go
        // in fields (`keys`, `text`) so that `log.redact` finds them.
        tracing::debug!(
            connector = %batch.connector_id, dedup_key = %interaction.dedup_key, customer = %customer_id,
            keys = ?item.keys, text = text_of(interaction).as_deref().unwrap_or_default(),
            "Stored an interaction."
        );
        // STOP / START from the customer: whether confirmations may be sent (the watch stage's rule).
        if let (Some("customer"), Content::Message(message)) = (speaker, &interaction.content)
            && let Some(consent) = message.text.as_deref().and_then(consent_in)
        {
            tx.set_opt_out(&customer_id, consent == Consent::OptOut, interaction_id, interaction.at).await?;
        }
        if let Some(reason) = no_handoff {
            if matches!(interaction.content, Content::Call(_)) {
                metrics::counter!("handoffd_calls_without_handoff_total", "reason" => reason).increment(1);
            } else {
                metrics::counter!("handoffd_messages_without_handoff_total", "reason" => reason).increment(1);
            }
            tracing::debug!(connector = %batch.connector_id, dedup_key = %interaction.dedup_key, reason, "An event was recorded that is no handoff.");
            continue;
        }
        if matches!(interaction.content, Content::Message(_) | Content::Call(_)) {
            let arrival = Arrival {
                interaction_id,
                customer_id: &customer_id,
                from_customer: speaker == Some("customer"),
                end_signal: item.end_signal.as_deref(),
                received_at: now,
                quiet_period: batch.quiet_period,
                reopen_after: batch.reopen_after,
            };
            attach_to_handoff(tx, &arrival, summary).await?;
        }
    }
    tx.mark_processed(inbox_id, now).await
}

/// Who spoke: a call's transcript is the customer's conversation; statuses and system events have no
/// speaker (and are never adopted into a handoff).
fn speaker_of(interaction: &Interaction) -> Option<&'static str> {
    match &interaction.content {
        Content::Message(m) => Some(match m.from {
            Speaker::Customer => "customer",
            Speaker::Ai => "ai",
            Speaker::Agent => "agent",
        }),
        Content::Call(_) => Some("customer"),
        Content::Status(_) | Content::System(_) => None,
    }
}

fn kind_of(interaction: &Interaction) -> String {
    match &interaction.content {
        Content::Message(m) => m.kind.clone(),
        Content::Call(_) => "call".to_owned(),
        Content::Status(s) => format!("status.{}", s.status),
        Content::System(s) => format!("system.{}", s.kind),
    }
}

fn text_of(interaction: &Interaction) -> Option<String> {
    match &interaction.content {
        Content::Message(m) => m.text.clone(),
        Content::Call(c) => {
            let lines: Vec<String> = c.turns.iter().map(|t| t.text.clone()).collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        }
        Content::Status(_) => None,
        Content::System(s) => s.text.clone(),
    }
}
