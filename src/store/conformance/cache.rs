//! The CRM identity cache.

use std::sync::Arc;

use handoffd_contract::crm::CrmContact;

use super::{secs, t0};
use crate::store::{CachedContact, ContactOrigin, Store};

fn contact(id: &str, phone: Option<&str>, merged_into: Option<&str>) -> CachedContact {
    CachedContact {
        contact: CrmContact {
            id: id.into(),
            name: Some(format!("contact {id}")),
            phones: phone.into_iter().map(str::to_owned).collect(),
            emails: Vec::new(),
            owner_id: Some("7".into()),
            updated_at: Some(t0()),
            merged_into: merged_into.map(str::to_owned),
        },
        match_keys: phone.into_iter().map(|p| format!("phone:{p}")).collect(),
    }
}

pub async fn a_sync_page_and_its_cursor_are_stored_together(store: Arc<dyn Store>) {
    assert!(store.crm_sync_state("crm").await.unwrap().is_none(), "never synced");
    store
        .store_sync_page("crm", &[contact("1", Some("+911"), None), contact("2", Some("+912"), None)], Some("p2"), t0())
        .await
        .unwrap();
    store.store_sync_page("crm", &[contact("3", Some("+913"), None)], None, t0() + secs(5)).await.unwrap();
    let state = store.crm_sync_state("crm").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("p2"), "no next page keeps the cursor");
    assert_eq!((state.pages, state.contacts, state.synced_at), (2, 3, t0() + secs(5)));
    store.store_sync_page("crm", &[], Some("p3"), t0() + secs(6)).await.unwrap();
    assert_eq!(store.crm_sync_state("crm").await.unwrap().unwrap().cursor.as_deref(), Some("p3"));
    assert!(store.crm_sync_state("other").await.unwrap().is_none(), "per CRM account");
}

pub async fn cached_contacts_are_found_by_key_and_followed_to_merge_survivors(store: Arc<dyn Store>) {
    store
        .cache_contacts(
            "crm",
            &[contact("1", Some("+911"), None), contact("9", None, None)],
            ContactOrigin::Search,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.cached_contact("crm", "1").await.unwrap(), Some(contact("1", Some("+911"), None)));
    assert_eq!(store.cached_contact("other", "1").await.unwrap(), None, "per CRM account");

    // The CRM merged 1 into 9: the notice says only where 1 went, and must not erase its phone.
    let notice = CachedContact {
        contact: CrmContact {
            id: "1".into(),
            name: None,
            phones: Vec::new(),
            emails: Vec::new(),
            owner_id: None,
            updated_at: None,
            merged_into: Some("9".into()),
        },
        match_keys: Vec::new(),
    };
    store.cache_contacts("crm", &[notice], ContactOrigin::Sync, t0() + secs(1)).await.unwrap();
    let found = store.cached_contacts("crm", &["phone:+911".into()]).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|c| c.contact.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "9"], "the survivor is followed though it holds none of the keys");
    assert_eq!(found[0].contact.phones, vec!["+911".to_owned()]);
    assert!(store.cached_contacts("crm", &[]).await.unwrap().is_empty());

    // A new version of a contact replaces its keys.
    store
        .cache_contacts("crm", &[contact("9", Some("+919"), None)], ContactOrigin::Created, t0() + secs(2))
        .await
        .unwrap();
    assert_eq!(store.cached_contacts("crm", &["phone:+919".into()]).await.unwrap().len(), 1);
    store
        .cache_contacts("crm", &[contact("9", Some("+918"), None)], ContactOrigin::Sync, t0() + secs(3))
        .await
        .unwrap();
    assert!(store.cached_contacts("crm", &["phone:+919".into()]).await.unwrap().is_empty(), "the old key is gone");
}
