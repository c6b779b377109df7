//! Make sure every job's customer has a CRM contact: the customer's known contact, else the
//! CRM identity cache (synced from the CRM, see `identity::sync`), then one batched search for
//! all the misses, then a create for those the CRM does not know. Found and created contacts
//! go into the cache at once, so the next delivery for them needs no search.

use std::collections::HashMap;

use chrono::Utc;
use handoffd_contract::crm::{Crm, CrmContact, CrmError};
use handoffd_contract::identity::IdentityKey;

use crate::identity::{ContactPickRule, contact_match_keys, pick_contact};
use crate::ingest::match_keys;
use crate::store::{AuditEntry, CachedContact, Store};

use super::payload::DeliveryPayload;

/// Follow at most this many CRM merges from a known contact to its survivor.
const MAX_MERGE_HOPS: usize = 8;

fn store_failed(error: impl std::fmt::Display) -> CrmError {
    CrmError::Unavailable(format!("the store failed: {error}"))
}

/// The contact id of each customer in `jobs` (customer id -> contact id).
pub async fn ensure_contacts(
    store: &dyn Store,
    crm: &dyn Crm,
    jobs: &[(String, &DeliveryPayload)],
) -> Result<HashMap<String, String>, CrmError> {
    let crm_id = crm.id().to_owned();
    let mut known = HashMap::new();
    // Customers not resolved locally, with every match key they are known by.
    let mut missing: Vec<(String, &DeliveryPayload, Vec<String>)> = Vec::new();
    for (customer_id, payload) in jobs {
        if known.contains_key(customer_id) || missing.iter().any(|(c, _, _)| c == customer_id) {
            continue;
        }
        if let Some(contact_id) = store.crm_contact(customer_id, &crm_id).await.map_err(store_failed)? {
            let survivor = follow_merges(store, &crm_id, contact_id.clone()).await?;
            if survivor != contact_id {
                tracing::info!(customer = %customer_id, from = %contact_id, to = %survivor, "The CRM merged the customer's contact; following it to the survivor.");
                store.set_crm_contact(customer_id, &crm_id, &survivor, Utc::now()).await.map_err(store_failed)?;
            }
            known.insert(customer_id.clone(), survivor);
            continue;
        }
        let mut keys: Vec<String> =
            store.customer_keys(customer_id).await.map_err(store_failed)?.into_iter().map(|(k, _)| k).collect();
        for (key, _) in payload.lookup.iter().flat_map(|k| match_keys(k, None)) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let cached: Vec<CrmContact> =
            store.cached_contacts(&crm_id, &keys).await.map_err(store_failed)?.into_iter().map(|c| c.contact).collect();
        match choose(store, &crm_id, customer_id, &cached).await? {
            Some(contact_id) => {
                store.set_crm_contact(customer_id, &crm_id, &contact_id, Utc::now()).await.map_err(store_failed)?;
                known.insert(customer_id.clone(), contact_id);
            }
            None => missing.push((customer_id.clone(), *payload, keys)),
        }
    }
    if missing.is_empty() {
        return Ok(known);
    }

    // One search for every miss (the connector batches the keys into as few calls as it can).
    let mut lookup: Vec<IdentityKey> = Vec::new();
    for key in missing.iter().flat_map(|(_, p, _)| p.lookup.iter()) {
        if !lookup.contains(key) {
            lookup.push(key.clone());
        }
    }
    let found = if lookup.is_empty() { Vec::new() } else { crm.find_contacts(&lookup).await? };
    let found: Vec<CachedContact> = found
        .into_iter()
        .map(|contact| CachedContact { match_keys: contact_match_keys(&contact, None), contact })
        .collect();
    if !found.is_empty() {
        store.cache_contacts(&crm_id, &found, "search", Utc::now()).await.map_err(store_failed)?;
    }
    for (customer_id, payload, keys) in missing {
        let matching: Vec<CrmContact> =
            found.iter().filter(|c| c.match_keys.iter().any(|k| keys.contains(k))).map(|c| c.contact.clone()).collect();
        let contact = match choose(store, &crm_id, &customer_id, &matching).await? {
            Some(contact) => contact,
            None => {
                let created = crm.create_contact(&payload.contact).await?;
                tracing::info!(customer = %customer_id, contact = %created.id, crm = %crm_id, "Created a CRM contact.");
                // Cached at once: the next handoff of this customer (or a sync race) finds it.
                let mut cached = created.clone();
                if cached.phones.is_empty() {
                    cached.phones.extend(payload.contact.phone.clone());
                }
                if cached.emails.is_empty() {
                    cached.emails.extend(payload.contact.email.clone());
                }
                let entry = CachedContact { match_keys: contact_match_keys(&cached, None), contact: cached };
                store.cache_contacts(&crm_id, &[entry], "created", Utc::now()).await.map_err(store_failed)?;
                created.id
            }
        };
        store.set_crm_contact(&customer_id, &crm_id, &contact, Utc::now()).await.map_err(store_failed)?;
        known.insert(customer_id, contact);
    }
    Ok(known)
}

/// One contact among those claiming the customer (merges followed); several distinct ones are
/// a conflict: the pick rule chooses, and the sentence goes to the audit trail (the brief's
/// notes carry the same sentence, from the cache, see `store::Store::handoff_conversation`).
async fn choose(
    store: &dyn Store,
    crm_id: &str,
    customer_id: &str,
    contacts: &[CrmContact],
) -> Result<Option<String>, CrmError> {
    let Some((choice, conflict)) = pick_contact(contacts, ContactPickRule::default(), crm_id, None) else {
        return Ok(None);
    };
    if let Some(conflict) = conflict {
        tracing::warn!(customer = %customer_id, crm = %crm_id, sentence = %conflict.sentence, "Several CRM contacts claim one customer.");
        store
            .audit(AuditEntry {
                at: Utc::now(),
                handoff_id: None,
                customer_id: Some(customer_id.to_owned()),
                event: "contact_conflict".to_owned(),
                detail: serde_json::json!({"crm": crm_id, "chosen": conflict.chosen, "others": conflict.others,
                    "shared_key": conflict.shared_key, "sentence": conflict.sentence}),
            })
            .await
            .map_err(store_failed)?;
    }
    Ok(Some(choice.id))
}

/// The contact a known contact id now stands for, per the cache's `merged_into`.
async fn follow_merges(store: &dyn Store, crm_id: &str, mut contact_id: String) -> Result<String, CrmError> {
    for _ in 0..MAX_MERGE_HOPS {
        let survivor =
            store.cached_contact(crm_id, &contact_id).await.map_err(store_failed)?.and_then(|c| c.contact.merged_into);
        match survivor {
            Some(next) if next != contact_id => contact_id = next,
            _ => break,
        }
    }
    Ok(contact_id)
}
