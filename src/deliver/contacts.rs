//! Make sure every job's customer has a CRM contact: the local cache first, then one batched
//! search for all the misses, then a create for those the CRM does not know.

use std::collections::HashMap;

use chrono::Utc;
use handoffd_contract::crm::{Crm, CrmContact, CrmError};
use handoffd_contract::identity::IdentityKey;

use crate::ingest::match_keys;
use crate::store::Store;

use super::payload::DeliveryPayload;

/// The contact id of each customer in `jobs` (customer id -> contact id).
pub async fn ensure_contacts(
    store: &dyn Store,
    crm: &dyn Crm,
    jobs: &[(String, &DeliveryPayload)],
) -> Result<HashMap<String, String>, CrmError> {
    let crm_id = crm.id().to_owned();
    let mut known = HashMap::new();
    let mut missing: Vec<(String, &DeliveryPayload)> = Vec::new();
    for (customer_id, payload) in jobs {
        if known.contains_key(customer_id) || missing.iter().any(|(c, _)| c == customer_id) {
            continue;
        }
        match store.crm_contact(customer_id, &crm_id).await {
            Ok(Some(contact_id)) => {
                known.insert(customer_id.clone(), contact_id);
            }
            Ok(None) => missing.push((customer_id.clone(), *payload)),
            Err(error) => return Err(CrmError::Unavailable(format!("the store failed: {error}"))),
        }
    }
    if missing.is_empty() {
        return Ok(known);
    }

    let lookup: Vec<IdentityKey> = missing.iter().flat_map(|(_, p)| p.lookup.iter().cloned()).collect();
    let found = if lookup.is_empty() { Vec::new() } else { crm.find_contacts(&lookup).await? };
    for (customer_id, payload) in missing {
        let contact = match pick_contact(&found, &payload.lookup) {
            Some(contact) => contact.id.clone(),
            None => {
                let created = crm.create_contact(&payload.contact).await?;
                tracing::info!(customer = %customer_id, contact = %created.id, crm = %crm_id, "Created a CRM contact.");
                created.id
            }
        };
        store
            .set_crm_contact(&customer_id, &crm_id, &contact, Utc::now())
            .await
            .map_err(|e| CrmError::Unavailable(format!("the store failed: {e}")))?;
        known.insert(customer_id, contact);
    }
    Ok(known)
}

/// The contact that holds one of the keys; among several, the most recently updated (a CRM
/// holding two contacts for one person is a conflict the identity stage reports).
fn pick_contact<'a>(contacts: &'a [CrmContact], keys: &[IdentityKey]) -> Option<&'a CrmContact> {
    let wanted: Vec<String> = keys.iter().flat_map(|k| match_keys(k, None)).map(|(k, _)| k).collect();
    contacts
        .iter()
        .filter(|contact| {
            let phones = contact.phones.iter().map(|p| IdentityKey::phone(p.clone()));
            let emails = contact.emails.iter().map(|e| IdentityKey::email(e.clone()));
            phones.chain(emails).flat_map(|k| match_keys(&k, None)).any(|(k, _)| wanted.contains(&k))
        })
        .max_by_key(|contact| contact.updated_at)
}
