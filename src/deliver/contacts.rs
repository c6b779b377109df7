//! Make sure every job's customer has a CRM contact: the customer's known contact, else the
//! CRM identity cache (synced from the CRM, see `identity::sync`), then one batched search for
//! all the misses, then one batched create for those the CRM does not know. Found and created
//! contacts go into the cache at once, so the next delivery for them needs no search.

use std::collections::HashMap;

use chrono::Utc;
use handoffd_contract::crm::{Crm, CrmContact, CrmError, NewContact};
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

/// Each customer's contact id, or why it could not be had.
#[derive(Debug, Default)]
pub struct ContactIds {
    /// customer id -> contact id.
    pub known: HashMap<String, String>,
    /// customer id -> the CRM's error (its jobs are retried or dead-lettered by that error).
    pub failed: HashMap<String, CrmError>,
}

/// The contact id of each customer in `jobs`. An `Err` is a store failure: every job waits.
pub async fn ensure_contacts(
    store: &dyn Store,
    crm: &dyn Crm,
    jobs: &[(String, &DeliveryPayload)],
) -> Result<ContactIds, CrmError> {
    let crm_id = crm.id().to_owned();
    let mut ids = ContactIds::default();
    // Customers whose contact is new to the customer record: remembered in one transaction at the end.
    let mut learned: Vec<(String, String)> = Vec::new();
    // Customers not resolved locally, with every match key they are known by.
    let mut missing: Vec<(String, &DeliveryPayload, Vec<String>)> = Vec::new();
    for (customer_id, payload) in jobs {
        if ids.known.contains_key(customer_id) || missing.iter().any(|(c, _, _)| c == customer_id) {
            continue;
        }
        if let Some(contact_id) = store.crm_contact(customer_id, &crm_id).await.map_err(store_failed)? {
            let survivor = follow_merges(store, &crm_id, contact_id.clone()).await?;
            if survivor != contact_id {
                tracing::info!(customer = %customer_id, from = %contact_id, to = %survivor, "The CRM merged the customer's contact; following it to the survivor.");
                learned.push((customer_id.clone(), survivor.clone()));
            }
            ids.known.insert(customer_id.clone(), survivor);
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
                learned.push((customer_id.clone(), contact_id.clone()));
                ids.known.insert(customer_id.clone(), contact_id);
            }
            None => missing.push((customer_id.clone(), *payload, keys)),
        }
    }
    if !missing.is_empty() {
        find_or_create(store, crm, missing, &mut ids, &mut learned).await?;
    }
    if !learned.is_empty() {
        store.set_crm_contacts(&crm_id, &learned, Utc::now()).await.map_err(store_failed)?;
    }
    Ok(ids)
}

/// One search for every miss (the connector batches the keys into as few calls as it can), then one batched
/// create for those the CRM does not know.
async fn find_or_create(
    store: &dyn Store,
    crm: &dyn Crm,
    missing: Vec<(String, &DeliveryPayload, Vec<String>)>,
    ids: &mut ContactIds,
    learned: &mut Vec<(String, String)>,
) -> Result<(), CrmError> {
    let crm_id = crm.id().to_owned();
    let mut lookup: Vec<IdentityKey> = Vec::new();
    for key in missing.iter().flat_map(|(_, p, _)| p.lookup.iter()) {
        if !lookup.contains(key) {
            lookup.push(key.clone());
        }
    }
    let found = if lookup.is_empty() { Ok(Vec::new()) } else { crm.find_contacts(&lookup).await };
    let found = match found {
        Ok(found) => found,
        Err(error) => {
            ids.failed.extend(missing.into_iter().map(|(customer, _, _)| (customer, error.clone())));
            return Ok(());
        }
    };
    let found: Vec<CachedContact> = found
        .into_iter()
        .map(|contact| CachedContact { match_keys: contact_match_keys(&contact, None), contact })
        .collect();
    if !found.is_empty() {
        store.cache_contacts(&crm_id, &found, "search", Utc::now()).await.map_err(store_failed)?;
    }
    let mut to_create: Vec<(String, &DeliveryPayload)> = Vec::new();
    for (customer_id, payload, keys) in missing {
        let matching: Vec<CrmContact> =
            found.iter().filter(|c| c.match_keys.iter().any(|k| keys.contains(k))).map(|c| c.contact.clone()).collect();
        match choose(store, &crm_id, &customer_id, &matching).await? {
            Some(contact) => {
                learned.push((customer_id.clone(), contact.clone()));
                ids.known.insert(customer_id, contact);
            }
            None => to_create.push((customer_id, payload)),
        }
    }
    if to_create.is_empty() {
        return Ok(());
    }
    let new: Vec<NewContact> = to_create.iter().map(|(_, payload)| payload.contact.clone()).collect();
    let created = crm.create_contacts(&new).await;
    let mut cache = Vec::new();
    for ((customer_id, payload), result) in to_create.into_iter().zip(created) {
        match result {
            Ok(created) => {
                tracing::info!(customer = %customer_id, contact = %created.id, crm = %crm_id, "Created a CRM contact.");
                // Cached at once: the next handoff of this customer (or a sync race) finds it.
                let mut cached = created.clone();
                if cached.phones.is_empty() {
                    cached.phones.extend(payload.contact.phone.clone());
                }
                if cached.emails.is_empty() {
                    cached.emails.extend(payload.contact.email.clone());
                }
                cache.push(CachedContact { match_keys: contact_match_keys(&cached, None), contact: cached });
                learned.push((customer_id.clone(), created.id.clone()));
                ids.known.insert(customer_id, created.id);
            }
            Err(error) => {
                ids.failed.insert(customer_id, error);
            }
        }
    }
    if !cache.is_empty() {
        store.cache_contacts(&crm_id, &cache, "created", Utc::now()).await.map_err(store_failed)?;
    }
    Ok(())
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
