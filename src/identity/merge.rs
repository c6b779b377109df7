//! Merge and conflict decisions for the keys seen together in one interaction.
//!
//! A customer is the union of keys seen together: keys of two customers in one interaction
//! merge them, unless merging would hide something an owner must decide (two CRM contacts
//! becoming one, or a link made only by an unreadable phone). Every merge is a
//! [`MergeRecord`] that [`split`] can reverse.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CustomerId;
use super::keys::{NormalizedKey, is_weak_match_key, match_keys_of};

/// What the store knows about a customer the index pointed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCustomer {
    pub id: CustomerId,
    pub created_at: Option<DateTime<Utc>>,
    /// The CRM contact this customer is linked to, if any.
    pub crm_contact_id: Option<String>,
    /// Every match key the store holds for this customer (so a merge can be undone exactly).
    pub keys: Vec<String>,
}

/// What to do with one interaction's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No key is known: create a customer holding `keys`.
    New { keys: Vec<String> },
    /// Every known key belongs to `customer`; attach `new_keys` to it.
    Existing { customer: CustomerId, new_keys: Vec<String> },
    /// The keys link several customers: move each absorbed customer's keys to `survivor` (one
    /// record per absorbed customer, to keep), then attach `new_keys` to the survivor.
    Merge { survivor: CustomerId, merges: Vec<MergeRecord>, new_keys: Vec<String> },
    /// The keys link customers that must not be merged without a person deciding.
    Conflict(IdentityConflict),
}

/// Keys pointing at customers that are not merged automatically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConflict {
    /// The customer to attach this interaction to meanwhile (the one its strongest key names).
    pub attach_to: CustomerId,
    pub customers: Vec<CustomerId>,
    /// Each key of the interaction that pointed at one of `customers`, with that customer.
    pub evidence: Vec<(String, CustomerId)>,
    /// A sentence for the brief's notes.
    pub reason: String,
}

/// One customer absorbed into another: enough to undo it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub survivor: CustomerId,
    pub absorbed: CustomerId,
    /// The interaction's keys that were the survivor's and the absorbed customer's: the
    /// evidence that they are one person.
    pub survivor_evidence: Vec<String>,
    pub absorbed_evidence: Vec<String>,
    /// Every key the absorbed customer held at merge time, moved to the survivor.
    pub moved_keys: Vec<String>,
}

impl MergeRecord {
    /// A sentence for the brief and the audit log.
    pub fn explain(&self) -> String {
        format!(
            "customer {} merged into {}: {} (customer {}) and {} (customer {}) were seen together",
            self.absorbed,
            self.survivor,
            self.survivor_evidence.join(", "),
            self.survivor,
            self.absorbed_evidence.join(", "),
            self.absorbed,
        )
    }
}

/// Decides what one interaction's keys mean.
///
/// `known` answers which customer a match key belongs to (the index, or rows the store just
/// read); `customers` holds what the store knows about those customers (a customer missing
/// from it counts as unlinked to any CRM contact, with no other keys).
pub fn decide(
    keys: &[NormalizedKey],
    known: impl Fn(&str) -> Option<CustomerId>,
    customers: &[KnownCustomer],
) -> Decision {
    let match_keys = match_keys_of(keys);
    let mut evidence: Vec<(String, CustomerId)> = Vec::new();
    let mut new_keys: Vec<String> = Vec::new();
    for key in match_keys {
        match known(&key) {
            Some(customer) => evidence.push((key, customer)),
            None => new_keys.push(key),
        }
    }
    let mut matched: Vec<CustomerId> = Vec::new();
    for (_, customer) in &evidence {
        if !matched.contains(customer) {
            matched.push(*customer);
        }
    }
    match matched.as_slice() {
        [] => Decision::New { keys: new_keys },
        [customer] => Decision::Existing { customer: *customer, new_keys },
        _ => merge_or_conflict(matched, evidence, new_keys, customers),
    }
}

fn merge_or_conflict(
    matched: Vec<CustomerId>,
    evidence: Vec<(String, CustomerId)>,
    new_keys: Vec<String>,
    customers: &[KnownCustomer],
) -> Decision {
    let facts = |id: CustomerId| customers.iter().find(|c| c.id == id);
    let strong_keys_of =
        |id: CustomerId| evidence.iter().filter(move |(key, c)| *c == id && !is_weak_match_key(key)).count();
    let attach_to = matched.iter().copied().max_by_key(|&id| strong_keys_of(id)).unwrap_or(matched[0]);
    let conflict = |reason: String| {
        Decision::Conflict(IdentityConflict {
            attach_to,
            customers: matched.clone(),
            evidence: evidence.clone(),
            reason,
        })
    };

    // A customer reached only through a raw phone is linked by spelling, not by identity.
    if let Some(&weak) = matched.iter().find(|&&id| strong_keys_of(id) == 0) {
        let key = evidence.iter().find(|(_, c)| *c == weak).map(|(k, _)| k.as_str()).unwrap_or_default();
        return conflict(format!("customers {} share only the unreadable phone {key}: not merged", join_ids(&matched)));
    }
    // Merging customers linked to different CRM contacts would merge those contacts silently.
    let mut contacts: Vec<(&str, CustomerId)> = Vec::new();
    for &id in &matched {
        if let Some(contact) = facts(id).and_then(|c| c.crm_contact_id.as_deref())
            && !contacts.iter().any(|(seen, _)| *seen == contact)
        {
            contacts.push((contact, id));
        }
    }
    if contacts.len() > 1 {
        let listed: Vec<String> =
            contacts.iter().map(|(contact, id)| format!("{id} (CRM contact {contact})")).collect();
        let linking: Vec<&str> = evidence.iter().map(|(k, _)| k.as_str()).collect();
        return conflict(format!(
            "{} are linked by {} but belong to different CRM contacts: not merged",
            listed.join(" and "),
            linking.join(", ")
        ));
    }

    // The survivor keeps the CRM link if one has it, else it is the oldest customer.
    let survivor = matched
        .iter()
        .copied()
        .min_by_key(|&id| {
            let fact = facts(id);
            let unlinked = fact.and_then(|c| c.crm_contact_id.as_ref()).is_none();
            let created = fact.and_then(|c| c.created_at).unwrap_or(DateTime::<Utc>::MAX_UTC);
            (unlinked, created, id)
        })
        .unwrap_or(matched[0]);
    let evidence_of =
        |id: CustomerId| evidence.iter().filter(|(_, c)| *c == id).map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let merges = matched
        .iter()
        .copied()
        .filter(|&id| id != survivor)
        .map(|absorbed| {
            let absorbed_evidence = evidence_of(absorbed);
            let mut moved_keys = facts(absorbed).map(|c| c.keys.clone()).unwrap_or_default();
            for key in &absorbed_evidence {
                if !moved_keys.contains(key) {
                    moved_keys.push(key.clone());
                }
            }
            MergeRecord { survivor, absorbed, survivor_evidence: evidence_of(survivor), absorbed_evidence, moved_keys }
        })
        .collect();
    Decision::Merge { survivor, merges, new_keys }
}

fn join_ids(ids: &[CustomerId]) -> String {
    ids.iter().map(CustomerId::to_string).collect::<Vec<_>>().join(" and ")
}

/// How to undo one merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitPlan {
    /// Bind these keys back to `customer` (the formerly absorbed one).
    pub customer: CustomerId,
    pub restore: Vec<String>,
    /// Keys the merge moved that no longer belong to the survivor (a later merge or split moved
    /// them): left where they are.
    pub skipped: Vec<String>,
}

/// Reverses a merge: the keys the absorbed customer brought go back to it, as long as they are
/// still the survivor's. Keys first seen in the merging interaction stay with the survivor.
pub fn split(record: &MergeRecord, known: impl Fn(&str) -> Option<CustomerId>) -> SplitPlan {
    let (restore, skipped) = record.moved_keys.iter().cloned().partition(|key| known(key) == Some(record.survivor));
    SplitPlan { customer: record.absorbed, restore, skipped }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use handoffd_contract::identity::IdentityKey;

    use super::*;
    use crate::identity::keys::normalize_all;

    fn lookup(pairs: &[(&str, i64)]) -> impl Fn(&str) -> Option<CustomerId> + use<> {
        let map: HashMap<String, CustomerId> = pairs.iter().map(|(k, c)| (k.to_string(), CustomerId(*c))).collect();
        move |key| map.get(key).copied()
    }

    fn customer(id: i64, crm: Option<&str>, keys: &[&str]) -> KnownCustomer {
        KnownCustomer {
            id: CustomerId(id),
            created_at: DateTime::from_timestamp(1_700_000_000 + id * 10, 0),
            crm_contact_id: crm.map(str::to_owned),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn whatsapp_keys() -> Vec<NormalizedKey> {
        normalize_all(&[IdentityKey::phone("+919820012345"), IdentityKey::vendor("whatsapp_bsuid", "IN.13a9f0")], None)
    }

    #[test]
    fn unknown_keys_make_a_new_customer() {
        let decision = decide(&whatsapp_keys(), lookup(&[]), &[]);
        assert_eq!(
            decision,
            Decision::New { keys: vec!["phone:+919820012345".into(), "vendor:whatsapp_bsuid:IN.13a9f0".into()] }
        );
    }

    #[test]
    fn a_known_key_attaches_the_others() {
        let decision = decide(&whatsapp_keys(), lookup(&[("phone:+919820012345", 4)]), &[]);
        assert_eq!(
            decision,
            Decision::Existing { customer: CustomerId(4), new_keys: vec!["vendor:whatsapp_bsuid:IN.13a9f0".into()] }
        );
    }

    #[test]
    fn keys_of_two_customers_merge_into_the_crm_linked_one_and_split_back() {
        let known = lookup(&[("phone:+919820012345", 4), ("vendor:whatsapp_bsuid:IN.13a9f0", 9)]);
        let customers = [
            customer(4, None, &["phone:+919820012345"]),
            customer(9, Some("101"), &["vendor:whatsapp_bsuid:IN.13a9f0", "email:asha@example.in"]),
        ];
        let Decision::Merge { survivor, merges, new_keys } = decide(&whatsapp_keys(), known, &customers) else {
            panic!("expected a merge");
        };
        assert_eq!(survivor, CustomerId(9), "the customer linked to a CRM contact survives");
        assert!(new_keys.is_empty());
        assert_eq!(merges.len(), 1);
        let record = &merges[0];
        assert_eq!(record.absorbed, CustomerId(4));
        assert_eq!(record.absorbed_evidence, vec!["phone:+919820012345"]);
        assert_eq!(record.survivor_evidence, vec!["vendor:whatsapp_bsuid:IN.13a9f0"]);
        assert!(record.explain().contains("customer 4 merged into 9"));

        // After the merge every key is the survivor's; the split gives customer 4 its key back.
        let after =
            lookup(&[("phone:+919820012345", 9), ("vendor:whatsapp_bsuid:IN.13a9f0", 9), ("email:asha@example.in", 9)]);
        let plan = split(record, after);
        assert_eq!(plan.customer, CustomerId(4));
        assert_eq!(plan.restore, vec!["phone:+919820012345"]);
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn without_crm_links_the_oldest_customer_survives() {
        let known = lookup(&[("phone:+919820012345", 12), ("vendor:whatsapp_bsuid:IN.13a9f0", 5)]);
        let customers = [customer(12, None, &[]), customer(5, None, &[])];
        let Decision::Merge { survivor, .. } = decide(&whatsapp_keys(), known, &customers) else {
            panic!("expected a merge");
        };
        assert_eq!(survivor, CustomerId(5));
    }

    #[test]
    fn customers_of_two_crm_contacts_are_a_conflict() {
        let known = lookup(&[("phone:+919820012345", 4), ("vendor:whatsapp_bsuid:IN.13a9f0", 9)]);
        let customers = [customer(4, Some("202"), &[]), customer(9, Some("101"), &[])];
        let Decision::Conflict(conflict) = decide(&whatsapp_keys(), known, &customers) else {
            panic!("expected a conflict");
        };
        assert_eq!(conflict.customers, vec![CustomerId(4), CustomerId(9)]);
        assert!(conflict.reason.contains("CRM contact 202"), "{}", conflict.reason);
        assert_eq!(conflict.evidence.len(), 2);
    }

    #[test]
    fn a_raw_phone_alone_never_merges() {
        let keys = normalize_all(&[IdentityKey::phone("+91 12345 678"), IdentityKey::email("asha@example.in")], None);
        assert!(keys[0].is_raw_phone());
        let raw = keys[0].canonical.clone();
        let known = lookup(&[(raw.as_str(), 3), ("email:asha@example.in", 8)]);
        let Decision::Conflict(conflict) = decide(&keys, known, &[]) else {
            panic!("expected a conflict");
        };
        assert_eq!(conflict.attach_to, CustomerId(8));
        assert!(conflict.reason.contains("unreadable phone"), "{}", conflict.reason);
    }

    #[test]
    fn split_skips_keys_that_moved_on() {
        let record = MergeRecord {
            survivor: CustomerId(1),
            absorbed: CustomerId(2),
            survivor_evidence: vec!["email:a@b.co".into()],
            absorbed_evidence: vec!["phone:+14155552671".into()],
            moved_keys: vec!["phone:+14155552671".into(), "email:old@b.co".into()],
        };
        let plan = split(&record, lookup(&[("phone:+14155552671", 1), ("email:old@b.co", 3)]));
        assert_eq!(plan.restore, vec!["phone:+14155552671"]);
        assert_eq!(plan.skipped, vec!["email:old@b.co"]);
    }
}
