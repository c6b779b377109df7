//! Customers: keys, merges and their undoing, conflicts, the timeline.

use std::sync::Arc;

use super::{customer_with_handoff, secs, t0};
use crate::store::{ConflictSighting, Store, StoreError};

fn key(phone: &str) -> (String, String) {
    (format!("phone:{phone}"), phone.to_owned())
}

pub async fn customers_are_found_by_key_and_keys_stay_where_first_bound(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_customer("c1", None, t0()).await.unwrap();
    tx.insert_customer("c2", Some("Ravi"), t0() + secs(1)).await.unwrap();
    tx.add_keys("c1", &[key("+911"), ("email:a@b.co".into(), "A@b.co".into())], "wa", t0()).await.unwrap();
    tx.add_keys("c2", &[key("+911"), key("+912")], "wa", t0()).await.unwrap();
    tx.name_customer("c1", "Asha").await.unwrap();
    tx.name_customer("c2", "Someone else").await.unwrap();

    let mut owners =
        tx.customers_by_keys(&["phone:+911".into(), "phone:+912".into(), "phone:+913".into()]).await.unwrap();
    owners.sort_by(|a, b| a.match_key.cmp(&b.match_key));
    let pairs: Vec<(&str, &str)> = owners.iter().map(|o| (o.match_key.as_str(), o.customer.id.as_str())).collect();
    assert_eq!(pairs, vec![("phone:+911", "c1"), ("phone:+912", "c2")], "a key bound already stays where it is");
    assert_ne!(owners[0].customer.number, owners[1].customer.number, "customers have distinct numbers");
    assert!(tx.customers_by_keys(&[]).await.unwrap().is_empty());

    let facts = tx.customer_facts("c1").await.unwrap();
    assert_eq!(facts.created_at, Some(t0()));
    assert_eq!(facts.match_keys, vec!["email:a@b.co".to_owned(), "phone:+911".to_owned()], "sorted");
    assert_eq!(facts.crm_contact, None);
    assert!(matches!(tx.customer_facts("nobody").await, Err(StoreError::NotFound(_))));
    tx.commit().await.unwrap();

    store.set_crm_contacts("zoho", &[("c1".into(), "z-9".into())], t0()).await.unwrap();
    store.set_crm_contacts("hubspot", &[("c1".into(), "101".into())], t0()).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.customer_facts("c1").await.unwrap().crm_contact.as_deref(),
        Some("hubspot:101"),
        "the first account's"
    );
    drop(tx);

    assert_eq!(store.customer_for_key("phone:+912").await.unwrap().as_deref(), Some("c2"));
    assert_eq!(store.customer_for_key("phone:+913").await.unwrap(), None);
    assert_eq!(
        store.customer_keys("c1").await.unwrap(),
        vec![("email:a@b.co".to_owned(), "A@b.co".to_owned()), key("+911")],
        "in the order first seen, then by key"
    );
    let keys = store.keys_of_customers(&["c1".into(), "c2".into(), "c3".into()]).await.unwrap();
    assert_eq!((keys["c1"].len(), keys["c2"].len(), keys.contains_key("c3")), (2, 1, false));
    let timeline = store.customer_timeline("c1").await.unwrap();
    assert_eq!(timeline.display_name.as_deref(), Some("Asha"), "a name is given once");
    assert_eq!(store.customer_timeline("c2").await.unwrap().display_name.as_deref(), Some("Ravi"));
}

pub async fn a_merge_moves_rows_and_undo_moves_exactly_those_back(store: Arc<dyn Store>) {
    let (survivor, survivor_handoff) = customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let (absorbed, absorbed_handoff) = customer_with_handoff(store.as_ref(), "+14155552671", t0() + secs(1)).await;
    let (absorbed_key, survivor_key) = ("phone:+14155552671".to_owned(), "phone:+919820012345".to_owned());

    let mut tx = store.begin().await.unwrap();
    let record = "{\"survivor\":1,\"absorbed\":2}";
    let merge_id = tx
        .merge_customers(&survivor, &absorbed, &[absorbed_key.clone(), survivor_key.clone()], record, t0() + secs(5))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.customer_for_key(&absorbed_key).await.unwrap().as_deref(), Some(survivor.as_str()));
    let moved = store.handoff_conversation(&absorbed_handoff).await.unwrap();
    assert_eq!((moved.handoff.customer_id.as_str(), moved.interactions.len()), (survivor.as_str(), 1));
    let interactions_of = |customer: String| {
        let store = store.clone();
        async move {
            let timeline = store.customer_timeline(&customer).await.unwrap();
            timeline.events.iter().filter(|e| e.source == "interaction").count()
        }
    };
    let absorbed_timeline = store.customer_timeline(&absorbed).await.unwrap();
    assert_eq!(absorbed_timeline.merged_into.as_deref(), Some(survivor.as_str()));
    assert_eq!((interactions_of(absorbed.clone()).await, interactions_of(survivor.clone()).await), (0, 2));
    let merges = store.list_merges(10).await.unwrap();
    assert_eq!((merges.len(), merges[0].id, merges[0].undone_at), (1, merge_id, None));
    assert_eq!(
        (merges[0].survivor_id.as_str(), merges[0].absorbed_id.as_str()),
        (survivor.as_str(), absorbed.as_str())
    );

    let mut tx = store.begin().await.unwrap();
    // A key that moved on to another customer since the merge.
    tx.insert_customer("c3", None, t0()).await.unwrap();
    tx.add_keys("c3", &[key("+447700900123")], "wa", t0()).await.unwrap();
    let stored = tx.merge(merge_id).await.unwrap().expect("the merge");
    assert_eq!((stored.record.as_deref(), stored.undone_at), (Some(record), None));
    assert_eq!(tx.merge(merge_id + 1000).await.unwrap().map(|m| m.id), None);
    let owners = tx.key_owners(&[survivor_key.clone(), absorbed_key.clone(), "phone:+999".into()]).await.unwrap();
    assert_eq!((owners.len(), owners[&absorbed_key].as_str()), (2, survivor.as_str()));
    let restore = [absorbed_key.clone(), "phone:+447700900123".to_owned()];
    let rows = tx.undo_merge(&stored, &restore, t0() + secs(20)).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!((rows.interactions, rows.handoffs), (1, 1), "exactly the rows the merge moved");
    assert_eq!(store.customer_for_key(&absorbed_key).await.unwrap().as_deref(), Some(absorbed.as_str()));
    assert_eq!(store.customer_for_key(&survivor_key).await.unwrap().as_deref(), Some(survivor.as_str()));
    assert_eq!(
        store.customer_for_key("phone:+447700900123").await.unwrap().as_deref(),
        Some("c3"),
        "only keys still the survivor's go back"
    );
    let back = store.handoff_conversation(&absorbed_handoff).await.unwrap();
    assert_eq!((back.handoff.customer_id.as_str(), back.interactions.len()), (absorbed.as_str(), 1));
    let kept = store.handoff_conversation(&survivor_handoff).await.unwrap();
    assert_eq!((kept.handoff.customer_id.as_str(), kept.interactions.len()), (survivor.as_str(), 1));
    assert_eq!(store.customer_timeline(&absorbed).await.unwrap().merged_into, None);
    assert_eq!((interactions_of(absorbed.clone()).await, interactions_of(survivor.clone()).await), (1, 1));
    assert_eq!(store.list_merges(10).await.unwrap()[0].undone_at, Some(t0() + secs(20)));
}

pub async fn a_conflict_is_one_row_per_set_of_customers_counted(store: Arc<dyn Store>) {
    let sighting = ConflictSighting {
        customers: vec!["c1".into(), "c2".into()],
        attach_to: "c2".into(),
        evidence: vec![("phone:+911".into(), "c1".into()), ("email:a@b.co".into(), "c2".into())],
        reason: "different CRM contacts".into(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.record_conflict(&sighting, t0()).await.unwrap();
    tx.record_conflict(&ConflictSighting { attach_to: "c1".into(), ..sighting.clone() }, t0() + secs(60))
        .await
        .unwrap();
    tx.record_conflict(
        &ConflictSighting { customers: vec!["c3".into(), "c4".into()], ..sighting.clone() },
        t0() + secs(30),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let conflicts = store.identity_conflicts(10).await.unwrap();
    assert_eq!(conflicts.len(), 2, "one row per set of customers");
    let first = &conflicts[0];
    assert_eq!(first.customers, vec!["c1".to_owned(), "c2".to_owned()], "the most recently seen first");
    assert_eq!((first.times_seen, first.first_seen_at, first.last_seen_at), (2, t0(), t0() + secs(60)));
    assert_eq!((first.attach_to.as_str(), first.reason.as_str()), ("c1", "different CRM contacts"));
    assert_eq!(first.evidence, sighting.evidence);
    assert_eq!(store.identity_conflicts(1).await.unwrap().len(), 1);
}

pub async fn a_customer_timeline_has_its_interactions_handoffs_and_audit(store: Arc<dyn Store>) {
    let (customer, handoff) = customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    store
        .audit(crate::store::AuditEntry {
            at: t0() + secs(100),
            handoff_id: Some(handoff.clone()),
            customer_id: None,
            event: "classified".into(),
            detail: serde_json::json!({"intents": []}),
        })
        .await
        .unwrap();
    let timeline = store.customer_timeline(&customer).await.unwrap();
    let sources: Vec<&str> = timeline.events.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(sources, vec!["interaction", "handoff", "audit"], "in time order, interactions first at equal times");
    assert_eq!(timeline.events[1].label, "collecting");
    assert_eq!(timeline.keys[0].0, "phone:+919820012345");
    assert!(matches!(store.customer_timeline("nobody").await, Err(StoreError::NotFound(_))));
}

pub async fn a_conversation_carries_its_customers_identity_facts(store: Arc<dyn Store>) {
    let (customer, handoff) = customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let bare = store.handoff_conversation(&handoff).await.unwrap().customer;
    assert!(bare.open_conflicts.is_empty() && bare.cached_contacts.is_empty());

    let mut tx = store.begin().await.unwrap();
    let sighting = ConflictSighting {
        customers: vec![customer.clone(), "zz-other".into()],
        attach_to: customer.clone(),
        evidence: Vec::new(),
        reason: "two CRM contacts".into(),
    };
    tx.record_conflict(&sighting, t0()).await.unwrap();
    tx.commit().await.unwrap();
    let cached = |id: &str| crate::store::CachedContact {
        contact: handoffd_contract::crm::CrmContact {
            id: id.into(),
            name: None,
            phones: vec!["+919820012345".into()],
            emails: Vec::new(),
            owner_id: None,
            updated_at: None,
            merged_into: None,
        },
        match_keys: vec!["phone:+919820012345".into()],
    };
    store
        .cache_contacts("crm", &[cached("101"), cached("202")], crate::store::ContactOrigin::Sync, t0())
        .await
        .unwrap();
    store.cache_contacts("other-crm", &[cached("9")], crate::store::ContactOrigin::Sync, t0()).await.unwrap();

    let facts = store.handoff_conversation(&handoff).await.unwrap().customer;
    assert_eq!(facts.open_conflicts, vec!["two CRM contacts".to_owned()]);
    let accounts: Vec<(&str, Vec<&str>)> = facts
        .cached_contacts
        .iter()
        .map(|(crm, contacts)| (crm.as_str(), contacts.iter().map(|c| c.id.as_str()).collect()))
        .collect();
    assert_eq!(accounts, vec![("crm", vec!["101", "202"]), ("other-crm", vec!["9"])], "per account, by id");
}
