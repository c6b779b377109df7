//! Which customer an interaction's keys belong to, and the merges and conflicts that follow, written once
//! against the store's transactional primitives ([`PipelineTx`]): [`decide`] says what the keys mean, this
//! module reads what it needs and writes what it decided, inside the normalize round's transaction.
//!
//! [`CustomerId`] numbers are the store's customer numbers ([`CustomerRef::number`]): merge records and
//! their sentences name customers by them, while every table keeps the customer's text id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use handoffd_contract::interaction::Content;

use super::keys::NormalizedKey;
use super::{CustomerId, Decision, KnownCustomer, MergeRecord, decide, split};
use crate::store::{
    ApplySummary, AuditEntry, ConflictSighting, IdentityStore, MergeRow, NormalizedInteraction, PipelineStore,
    PipelineTx, SplitOutcome, StoreError, StoreResult, new_record_id,
};

/// Every (match key, raw key) of one interaction: its own keys and, for a system event that
/// announces new keys (a changed number), those too, so they join the same customer.
pub fn interaction_keys(item: &NormalizedInteraction) -> Vec<(String, String)> {
    let mut keys = item.keys.clone();
    if let Content::System(event) = &item.interaction.content {
        for key in &event.new_keys {
            // WhatsApp ids carry their country code: no default region is needed.
            let normalized = super::normalize(key, None);
            let raw = normalized.raw.clone().unwrap_or_else(|| normalized.canonical.clone());
            for match_key in std::iter::once(normalized.canonical.clone()).chain(normalized.match_keys) {
                if !keys.iter().any(|(k, _)| *k == match_key) {
                    keys.push((match_key, raw.clone()));
                }
            }
        }
    }
    keys
}

/// Find the customer of one interaction's keys, creating, merging or recording a conflict as [`decide`]
/// says, and bind the keys to it. Returns the customer's text id.
pub async fn resolve_customer(
    tx: &mut dyn PipelineTx,
    item: &NormalizedInteraction,
    connector_id: &str,
    now: DateTime<Utc>,
    summary: &mut ApplySummary,
) -> StoreResult<String> {
    let keys = interaction_keys(item);
    let match_keys: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    let owners = tx.customers_by_keys(&match_keys).await?;
    let mut text_ids: HashMap<i64, String> = HashMap::new();
    let mut by_key: HashMap<String, CustomerId> = HashMap::new();
    for owner in owners {
        by_key.insert(owner.match_key, CustomerId(owner.customer.number));
        text_ids.insert(owner.customer.number, owner.customer.id);
    }
    // The keys are match keys already: each stands for itself.
    let normalized: Vec<NormalizedKey> = keys
        .iter()
        .map(|(match_key, raw)| NormalizedKey {
            canonical: match_key.clone(),
            match_keys: vec![match_key.clone()],
            raw: Some(raw.clone()),
            problem: None,
        })
        .collect();
    // Only a merge or a conflict weighs what is known of the customers.
    let mut known = Vec::new();
    if text_ids.len() > 1 {
        for (number, text_id) in &text_ids {
            let facts = tx.customer_facts(text_id).await?;
            known.push(KnownCustomer {
                id: CustomerId(*number),
                created_at: facts.created_at,
                crm_contact_id: facts.crm_contact,
                keys: facts.match_keys,
            });
        }
    }
    let text_of = |id: CustomerId| text_ids.get(&id.0).cloned().ok_or_else(|| lost(id));
    let customer_id = match decide(&normalized, |k| by_key.get(k).copied(), &known) {
        Decision::New { .. } => {
            let id = new_record_id();
            tx.insert_customer(&id, item.interaction.display_name.as_deref(), now).await?;
            summary.customers_created += 1;
            id
        }
        Decision::Existing { customer, .. } => text_of(customer)?,
        Decision::Merge { survivor, merges, .. } => {
            let survivor_id = text_of(survivor)?;
            for record in &merges {
                merge(tx, &survivor_id, &text_of(record.absorbed)?, record, now).await?;
            }
            survivor_id
        }
        Decision::Conflict(conflict) => {
            let attach_to = text_of(conflict.attach_to)?;
            let mut customers: Vec<String> = conflict.customers.iter().filter_map(|c| text_of(*c).ok()).collect();
            customers.sort();
            let evidence: Vec<(String, String)> =
                conflict.evidence.iter().filter_map(|(k, c)| Some((k.clone(), text_of(*c).ok()?))).collect();
            let sighting = ConflictSighting {
                customers: customers.clone(),
                attach_to: attach_to.clone(),
                evidence: evidence.clone(),
                reason: conflict.reason.clone(),
            };
            tx.record_conflict(&sighting, now).await?;
            // On every customer's timeline: each of them may be the one an owner looks up.
            for customer in &customers {
                tx.insert_audit(&AuditEntry {
                    at: now,
                    handoff_id: None,
                    customer_id: Some(customer.clone()),
                    event: "identity_conflict".to_owned(),
                    detail: serde_json::json!({"customers": customers, "attached_to": attach_to,
                        "evidence": evidence, "reason": conflict.reason}),
                })
                .await?;
            }
            tracing::warn!(customer = %attach_to, reason = %conflict.reason, "Keys of different customers met; not merged.");
            attach_to
        }
    };

    // Keys already bound stay where they are (a conflict never moves a key).
    tx.add_keys(&customer_id, &keys, connector_id, now).await?;
    if let Some(name) = &item.interaction.display_name {
        tx.name_customer(&customer_id, name).await?;
    }
    Ok(customer_id)
}

fn lost(id: CustomerId) -> StoreError {
    StoreError::Corrupt(format!("customer {id} was matched but not read"))
}

/// Move everything of `absorbed` to `survivor` (the store remembers which rows moved, so a split can move
/// exactly those back), and say so on the survivor's timeline.
async fn merge(
    tx: &mut dyn PipelineTx,
    survivor: &str,
    absorbed: &str,
    record: &MergeRecord,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let evidence: Vec<String> = record.absorbed_evidence.iter().chain(&record.survivor_evidence).cloned().collect();
    let record_json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(format!("merge record: {e}")))?;
    let merge_id = tx.merge_customers(survivor, absorbed, &evidence, &record_json, now).await?;
    tx.insert_audit(&AuditEntry {
        at: now,
        handoff_id: None,
        customer_id: Some(survivor.to_owned()),
        event: "customers_merged".to_owned(),
        detail: serde_json::json!({"merge_id": merge_id, "absorbed": absorbed, "explanation": record.explain()}),
    })
    .await
}

/// Recorded merges, most recent first, each with the sentence that explains it.
pub async fn list_merges(store: &dyn IdentityStore, limit: u32) -> StoreResult<Vec<MergeRow>> {
    let merges = store.list_merges(limit).await?;
    merges
        .into_iter()
        .map(|merge| {
            let explanation = match &merge.record {
                Some(text) => serde_json::from_str::<MergeRecord>(text)
                    .map(|r| r.explain())
                    .map_err(|e| StoreError::Corrupt(format!("merge {}: {e}", merge.id)))?,
                // Merges recorded before their keys were kept have only their evidence.
                None => format!("keys seen together: {}", merge.evidence),
            };
            Ok(MergeRow {
                id: merge.id,
                survivor_id: merge.survivor_id,
                absorbed_id: merge.absorbed_id,
                explanation,
                merged_at: merge.merged_at,
                undone_at: merge.undone_at,
            })
        })
        .collect()
}

/// Undo one merge in one transaction: the absorbed customer's keys that are still the survivor's go back to
/// it (see [`split`]), with the interactions and handoffs the merge moved.
pub async fn split_merge(store: &dyn PipelineStore, merge_id: i64, now: DateTime<Utc>) -> StoreResult<SplitOutcome> {
    let mut tx = store.begin().await?;
    let merge = tx.merge(merge_id).await?.ok_or_else(|| StoreError::NotFound(format!("merge {merge_id}")))?;
    if merge.undone_at.is_some() {
        return Err(StoreError::NotFound(format!("merge {merge_id} (it was already split)")));
    }
    let record: MergeRecord = match &merge.record {
        Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("merge {merge_id}: {e}")))?,
        None => return Err(StoreError::NotFound(format!("merge {merge_id} (recorded without the keys it moved)"))),
    };
    let owners = tx.key_owners(&record.moved_keys).await?;
    let plan = split(&record, |key| {
        owners.get(key).map(|owner| if *owner == merge.survivor_id { record.survivor } else { CustomerId(i64::MIN) })
    });
    let moved = tx.undo_merge(&merge, &plan.restore, now).await?;
    let outcome = SplitOutcome {
        merge_id,
        customer_id: merge.absorbed_id.clone(),
        survivor_id: merge.survivor_id.clone(),
        restored_keys: plan.restore,
        skipped_keys: plan.skipped,
        interactions_moved: moved.interactions,
        handoffs_moved: moved.handoffs,
    };
    for customer in [&outcome.survivor_id, &outcome.customer_id] {
        tx.insert_audit(&AuditEntry {
            at: now,
            handoff_id: None,
            customer_id: Some(customer.clone()),
            event: "merge_split".to_owned(),
            detail: serde_json::to_value(&outcome).unwrap_or_default(),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}
