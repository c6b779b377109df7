//! Make sure every job's customer has a CRM contact: the customer's known contact, else the
//! CRM identity cache (synced from the CRM, see `identity::sync`), then one batched search for
//! all the misses, then one batched create for those the CRM does not know. Found and created
//! contacts go into the cache at once, so the next delivery for them needs no search.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use handoffd_contract::crm::{Crm, CrmContact, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;

use crate::identity::{ContactPickRule, contact_match_keys, pick_contact};
use crate::ingest::match_keys;
use crate::store::{AuditEntry, CachedContact, ContactOrigin, Store};

use super::fresh::Freshness;
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
    /// Jobs marked in flight (their attempt counted) before their contacts were created unsearched: their task
    /// write needs no second mark.
    pub marked: HashSet<i64>,
}

/// What lets a round create new customers' contacts without a search first (see [`Freshness`]).
pub struct Unsearched<'a> {
    pub freshness: &'a Freshness,
    /// The moment the round would have searched (it holds its customers): the read must begin after it.
    pub moment: chrono::DateTime<Utc>,
    /// Each customer's jobs in the round. Marked in flight before their contacts are created unsearched: if the
    /// round dies before it caches the contacts, the next attempt knows to search.
    pub jobs_of: &'a HashMap<String, Vec<i64>>,
    /// Customers whose earlier attempt may have created a contact that was not cached (a job in flight): searched.
    pub unsure: &'a HashSet<String>,
}

/// The contact id of each customer in `jobs`. An `Err` is a store failure: every job waits.
pub async fn ensure_contacts(
    store: &dyn Store,
    crm: &dyn Crm,
    jobs: &[(String, &DeliveryPayload)],
    unsearched: Option<Unsearched<'_>>,
) -> Result<ContactIds, CrmError> {
    let crm_id = crm.id().to_owned();
    let mut ids = ContactIds::default();
    // Customers whose contact is new to the customer record: remembered in one transaction at the end.
    let mut learned: Vec<(String, String)> = Vec::new();
    // Each customer once, in the jobs' order.
    let mut seen = HashSet::new();
    let customers: Vec<(&String, &DeliveryPayload)> =
        jobs.iter().filter(|(customer_id, _)| seen.insert(customer_id)).map(|(c, p)| (c, *p)).collect();
    let customer_ids: Vec<String> = customers.iter().map(|(c, _)| (*c).clone()).collect();

    // A few queries for the whole round, not several per customer: known contacts, then the others' keys and
    // the cached contacts holding any of them.
    let known = store.crm_contacts_of(&crm_id, &customer_ids).await.map_err(store_failed)?;
    let mut unresolved: Vec<(String, &DeliveryPayload)> = Vec::new();
    for (customer_id, payload) in customers {
        let Some(contact_id) = known.get(customer_id) else {
            unresolved.push((customer_id.clone(), payload));
            continue;
        };
        let survivor = follow_merges(store, &crm_id, contact_id.clone()).await?;
        if survivor != *contact_id {
            tracing::info!(customer = %customer_id, from = %contact_id, to = %survivor, "The CRM merged the customer's contact; following it to the survivor.");
            learned.push((customer_id.clone(), survivor.clone()));
        }
        ids.known.insert(customer_id.clone(), survivor);
    }
    let unresolved_ids: Vec<String> = unresolved.iter().map(|(c, _)| c.clone()).collect();
    // Neither read queries anything for an empty list (a steady round knows all its customers).
    let mut keys_of = store.keys_of_customers(&unresolved_ids).await.map_err(store_failed)?;
    // Customers not resolved locally, with every match key they are known by.
    let mut with_keys: Vec<(String, &DeliveryPayload, Vec<String>)> = Vec::with_capacity(unresolved.len());
    for (customer_id, payload) in unresolved {
        let mut keys: Vec<String> =
            keys_of.remove(&customer_id).unwrap_or_default().into_iter().map(|(k, _)| k).collect();
        for (key, _) in payload.lookup.iter().flat_map(|k| match_keys(k, None)) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        with_keys.push((customer_id, payload, keys));
    }
    let all_keys: Vec<String> =
        with_keys.iter().flat_map(|(_, _, keys)| keys.iter().cloned()).collect::<HashSet<_>>().into_iter().collect();
    let cached = store.cached_contacts(&crm_id, &all_keys).await.map_err(store_failed)?;
    let mut missing: Vec<(String, &DeliveryPayload, Vec<String>)> = Vec::new();
    for (customer_id, payload, keys) in with_keys {
        match choose(store, &crm_id, &customer_id, &claiming(&cached, &keys)).await? {
            Some(contact_id) => {
                learned.push((customer_id.clone(), contact_id.clone()));
                ids.known.insert(customer_id, contact_id);
            }
            None => missing.push((customer_id, payload, keys)),
        }
    }
    if let Some(unsearched) = unsearched
        && !missing.is_empty()
    {
        missing = create_unsearched(store, crm, missing, &unsearched, &mut ids, &mut learned).await?;
    }
    if !missing.is_empty() {
        find_or_create(store, crm, missing, &mut ids, &mut learned).await?;
    }
    if !learned.is_empty() {
        store.set_crm_contacts(&crm_id, &learned, Utc::now()).await.map_err(store_failed)?;
    }
    Ok(ids)
}

/// Creates the contacts of the customers the cache does not know, without searching, when the cache is fresh
/// from a read of the CRM's change feed begun after now (see [`Freshness`]); returns those still to search (the
/// unsure ones, or all when the cache cannot be made fresh).
async fn create_unsearched<'p>(
    store: &dyn Store,
    crm: &dyn Crm,
    missing: Vec<(String, &'p DeliveryPayload, Vec<String>)>,
    unsearched: &Unsearched<'_>,
    ids: &mut ContactIds,
    learned: &mut Vec<(String, String)>,
) -> Result<Vec<(String, &'p DeliveryPayload, Vec<String>)>, CrmError> {
    let (sure, mut to_search): (Vec<_>, Vec<_>) =
        missing.into_iter().partition(|(customer_id, _, _)| !unsearched.unsure.contains(customer_id));
    if sure.is_empty() {
        return Ok(to_search);
    }
    match unsearched.freshness.fresh_after(store, crm, unsearched.moment).await {
        Ok(true) => {}
        Ok(false) => {
            to_search.extend(sure);
            return Ok(to_search);
        }
        Err(error) => {
            tracing::warn!(crm = %crm.id(), %error, "Reading the CRM's change feed failed; the round's new customers are searched.");
            to_search.extend(sure);
            return Ok(to_search);
        }
    }
    // The read may have brought contacts of these customers (created or changed elsewhere): the cache again.
    let keys: Vec<String> =
        sure.iter().flat_map(|(_, _, keys)| keys.iter().cloned()).collect::<HashSet<_>>().into_iter().collect();
    let cached = store.cached_contacts(crm.id(), &keys).await.map_err(store_failed)?;
    let mut to_create: Vec<(String, &DeliveryPayload)> = Vec::new();
    for (customer_id, payload, keys) in sure {
        match choose(store, crm.id(), &customer_id, &claiming(&cached, &keys)).await? {
            Some(contact_id) => {
                learned.push((customer_id.clone(), contact_id.clone()));
                ids.known.insert(customer_id, contact_id);
            }
            None => to_create.push((customer_id, payload)),
        }
    }
    if !to_create.is_empty() {
        let marked: Vec<i64> = to_create
            .iter()
            .flat_map(|(customer_id, _)| unsearched.jobs_of.get(customer_id).into_iter().flatten().copied())
            .collect();
        store.mark_in_flight(&marked).await.map_err(store_failed)?;
        ids.marked.extend(marked);
        create(store, crm, to_create, ids, learned).await?;
    }
    Ok(to_search)
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
        store.cache_contacts(&crm_id, &found, ContactOrigin::Search, Utc::now()).await.map_err(store_failed)?;
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
    create(store, crm, to_create, ids, learned).await
}

/// One batched create for customers the CRM does not know; created contacts go into the cache at once.
async fn create(
    store: &dyn Store,
    crm: &dyn Crm,
    to_create: Vec<(String, &DeliveryPayload)>,
    ids: &mut ContactIds,
    learned: &mut Vec<(String, String)>,
) -> Result<(), CrmError> {
    let crm_id = crm.id().to_owned();
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
        store.cache_contacts(&crm_id, &cache, ContactOrigin::Created, Utc::now()).await.map_err(store_failed)?;
    }
    Ok(())
}

/// Of the cached contacts read for a round, those holding any of one customer's `keys` (by contact id), then the
/// survivors of those the CRM merged, which may hold none of the keys themselves.
fn claiming(cached: &[CachedContact], keys: &[String]) -> Vec<CrmContact> {
    let by_id: HashMap<&str, &CachedContact> = cached.iter().map(|c| (c.contact.id.as_str(), c)).collect();
    let mut holding: Vec<&CachedContact> =
        cached.iter().filter(|c| c.match_keys.iter().any(|k| keys.contains(k))).collect();
    holding.sort_by(|a, b| a.contact.id.cmp(&b.contact.id));
    let mut seen: HashSet<&str> = holding.iter().map(|c| c.contact.id.as_str()).collect();
    let mut out: Vec<CrmContact> = holding.iter().map(|c| c.contact.clone()).collect();
    let mut next: Vec<&str> = holding.iter().filter_map(|c| c.contact.merged_into.as_deref()).collect();
    while let Some(id) = next.pop() {
        if let Some(survivor) = by_id.get(id).filter(|_| seen.insert(id)) {
            next.extend(survivor.contact.merged_into.as_deref());
            out.push(survivor.contact.clone());
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::DateTime;
    use handoffd_contract::crm::{ContactPage, CrmOwner, LiveBudget, RateLimitPolicy, TaskWriteOutcome};
    use handoffd_contract::task::{TaskKind, TaskPriority, TaskRef, TaskState, TaskText, TaskWrite};

    use super::*;

    /// A CRM that counts searches, reads of the feed without our contacts, and creates.
    #[derive(Default)]
    struct Counting {
        /// Whether it can leave its own contacts out of the feed.
        marks: bool,
        /// Contacts someone else created, which the feed without ours returns.
        elsewhere: Mutex<Vec<CrmContact>>,
        searches: AtomicUsize,
        feed_reads: AtomicUsize,
        created: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Crm for Counting {
        fn id(&self) -> &str {
            "crm"
        }
        fn limits(&self) -> RateLimitPolicy {
            unreachable!("not asked")
        }
        fn live_budget(&self) -> LiveBudget {
            LiveBudget::default()
        }
        async fn find_contacts(&self, _: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
            self.searches.fetch_add(1, Ordering::SeqCst);
            Ok(self.elsewhere.lock().unwrap().clone())
        }
        async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
            let phone = contact.phone.clone().unwrap_or_default();
            self.created.lock().unwrap().push(phone.clone());
            Ok(CrmContact {
                id: format!("new{phone}"),
                name: None,
                phones: vec![phone],
                emails: vec![],
                owner_id: None,
                updated_at: None,
                merged_into: None,
            })
        }
        async fn contacts_changed_since(&self, _: Option<&str>) -> Result<ContactPage, CrmError> {
            Ok(ContactPage { contacts: self.elsewhere.lock().unwrap().clone(), next_cursor: None })
        }
        async fn contacts_changed_elsewhere(
            &self,
            _: DateTime<Utc>,
            _: Option<&str>,
        ) -> Result<Option<ContactPage>, CrmError> {
            if !self.marks {
                return Ok(None);
            }
            self.feed_reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(ContactPage { contacts: self.elsewhere.lock().unwrap().clone(), next_cursor: None }))
        }
        async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
            unreachable!("not asked")
        }
        async fn create_tasks(&self, _: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("not asked")
        }
        async fn update_tasks(&self, _: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("not asked")
        }
        async fn find_tasks_by_external_keys(&self, _: &[String]) -> Result<Vec<TaskRef>, CrmError> {
            unreachable!("not asked")
        }
        async fn task_states(&self, _: &[String]) -> Result<Vec<TaskState>, CrmError> {
            unreachable!("not asked")
        }
    }

    fn payload(phone: &str) -> DeliveryPayload {
        DeliveryPayload {
            task: TaskWrite {
                external_key: format!("h{phone}"),
                contact_id: String::new(),
                owner_id: None,
                text: TaskText::default(),
                due_at: Utc::now(),
                priority: TaskPriority::Medium,
                kind: TaskKind::Call,
            },
            contact: NewContact { phone: Some(phone.into()), ..Default::default() },
            lookup: vec![IdentityKey::phone(phone)],
        }
    }

    fn someone_elses(phone: &str) -> CrmContact {
        CrmContact {
            id: "theirs".into(),
            name: None,
            phones: vec![phone.into()],
            emails: vec![],
            owner_id: None,
            updated_at: None,
            merged_into: None,
        }
    }

    /// A round's customers with their payloads, and each customer's job ids.
    type Round = (Vec<(String, DeliveryPayload)>, HashMap<String, Vec<i64>>);

    /// Customers `c1`, `c2`, `c3` with their phones, as a round's jobs (job ids 1, 2, 3).
    fn round() -> Round {
        let jobs: Vec<(String, DeliveryPayload)> =
            (1..=3).map(|i| (format!("c{i}"), payload(&format!("+9198000000{i:02}")))).collect();
        let jobs_of = (1..=3).map(|i| (format!("c{i}"), vec![i as i64])).collect();
        (jobs, jobs_of)
    }

    async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = crate::store::open(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for id in ["c1", "c2", "c3"] {
            tx.insert_customer(id, None, Utc::now()).await.unwrap();
        }
        tx.commit().await.unwrap();
        (store, dir)
    }

    use std::sync::Arc;

    #[tokio::test]
    async fn a_fresh_cache_creates_new_customers_without_a_search_and_finds_those_created_elsewhere() {
        let (store, _dir) = store().await;
        let crm = Counting { marks: true, ..Default::default() };
        // Someone created the second customer's contact in the CRM meanwhile: the feed brings it.
        crm.elsewhere.lock().unwrap().push(someone_elses("+919800000002"));
        let freshness = Freshness::new(None);
        let (jobs, jobs_of) = round();
        let jobs: Vec<(String, &DeliveryPayload)> = jobs.iter().map(|(c, p)| (c.clone(), p)).collect();
        // The third customer's earlier attempt is in flight: it may have created a contact we did not cache.
        let unsure: HashSet<String> = ["c3".to_owned()].into();
        let unsearched = Unsearched { freshness: &freshness, moment: Utc::now(), jobs_of: &jobs_of, unsure: &unsure };
        let ids = ensure_contacts(store.as_ref(), &crm, &jobs, Some(unsearched)).await.unwrap();

        assert_eq!(ids.known.get("c2").map(String::as_str), Some("theirs"), "the feed's contact, not a new one");
        assert_eq!(ids.known.get("c1").map(String::as_str), Some("new+919800000001"));
        assert_eq!(crm.searches.load(Ordering::SeqCst), 1, "only the unsure customer is searched");
        assert_eq!(*crm.created.lock().unwrap(), ["+919800000001", "+919800000003"]);
        // The job of the customer created unsearched was marked in flight before the create; the searched one's
        // is marked when its task is written.
        assert_eq!(ids.marked, HashSet::from([1]));

        // A round whose moment is after that read waits for a read of its own; one whose moment is before does not.
        let before = Utc::now() - chrono::Duration::seconds(5);
        let reads = crm.feed_reads.load(Ordering::SeqCst);
        assert!(freshness.fresh_after(store.as_ref(), &crm, before).await.unwrap());
        assert_eq!(crm.feed_reads.load(Ordering::SeqCst), reads, "answered by the read already made");
        assert!(freshness.fresh_after(store.as_ref(), &crm, Utc::now()).await.unwrap());
        assert_eq!(crm.feed_reads.load(Ordering::SeqCst), reads + 1, "a new read, begun after the moment");
    }

    #[tokio::test]
    async fn a_connector_that_cannot_leave_its_contacts_out_means_a_search() {
        let (store, _dir) = store().await;
        let crm = Counting { marks: false, ..Default::default() };
        let freshness = Freshness::new(None);
        let (jobs, jobs_of) = round();
        let jobs: Vec<(String, &DeliveryPayload)> = jobs.iter().map(|(c, p)| (c.clone(), p)).collect();
        let unsure = HashSet::new();
        let unsearched = Unsearched { freshness: &freshness, moment: Utc::now(), jobs_of: &jobs_of, unsure: &unsure };
        let ids = ensure_contacts(store.as_ref(), &crm, &jobs, Some(unsearched)).await.unwrap();
        assert_eq!(ids.known.len(), 3);
        assert_eq!(crm.searches.load(Ordering::SeqCst), 1, "the round searched");
    }
}
