//! The change feed without our own new contacts (`contact_marker`), against the HubSpot mock of `handoffd-mocks`.

use std::sync::Arc;

use chrono::Utc;
use handoffd_contract::auth::MemoryVault;
use handoffd_contract::crm::{Crm, CrmError, NewContact};
use handoffd_hubspot::{Hubspot, HubspotConfig};
use handoffd_mocks::{DEFAULT_ACCESS_TOKEN, MockCrm, MockHandle, MockOptions};
use serde_json::json;

async fn mock() -> MockHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    MockCrm::start(MockOptions::default(), listener).await
}

/// A connector on the mock's portal, with `marker` as its `contact_marker`.
fn daemon(mock: &MockHandle, marker: Option<&str>) -> Hubspot {
    let config: HubspotConfig = serde_json::from_value(json!({
        "id": "hubspot-main",
        "base_url": mock.base_url(),
        "access_token": DEFAULT_ACCESS_TOKEN,
        "contact_marker": marker,
    }))
    .expect("the config parses");
    Hubspot::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds")
}

fn person(phone: &str) -> NewContact {
    NewContact { name: Some("Asha Rao".into()), phone: Some(phone.into()), ..Default::default() }
}

#[tokio::test]
async fn the_feed_leaves_out_only_the_contacts_we_created_since() {
    let mock = mock().await;
    let ours = daemon(&mock, Some("prod"));
    // The marker's property must exist before a contact carries it: HubSpot refuses the contact otherwise.
    let refused = ours.create_contact(&person("+919800000001")).await;
    assert!(matches!(refused, Err(CrmError::Rejected { status: 400, .. })), "{refused:?}");
    ours.prepare().await.expect("the marker's property is created");

    let earlier = ours.create_contact(&person("+919800000002")).await.expect("created");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mine = ours.create_contact(&person("+919800000003")).await.expect("created");
    // Another daemon on the same portal, and someone with no marker at all (a person, an import).
    let staging = daemon(&mock, Some("staging"));
    let theirs = staging.create_contact(&person("+919800000004")).await.expect("created");
    let by_hand = daemon(&mock, None).create_contact(&person("+919800000005")).await.expect("created");

    let page = ours.contacts_changed_elsewhere(since, None).await.unwrap().expect("a marker: a feed");
    let mut ids: Vec<&str> = page.contacts.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let mut wanted = vec![theirs.id.as_str(), by_hand.id.as_str()];
    wanted.sort();
    assert_eq!(ids, wanted, "ours ({}, {}) left out, every other change read", earlier.id, mine.id);
    assert_eq!(page.next_cursor, None);

    // From before our earlier contact: it is ours too, created since then.
    let all = ours.contacts_changed_elsewhere(since - chrono::Duration::hours(1), None).await.unwrap().unwrap();
    assert!(all.contacts.iter().all(|c| c.id != earlier.id && c.id != mine.id), "{all:?}");
    // The other daemon sees ours, not its own.
    let seen = staging.contacts_changed_elsewhere(since, None).await.unwrap().unwrap();
    let seen: Vec<&str> = seen.contacts.iter().map(|c| c.id.as_str()).collect();
    assert!(seen.contains(&mine.id.as_str()) && !seen.contains(&theirs.id.as_str()), "{seen:?}");
    // Without a marker the connector cannot tell: the caller searches.
    assert!(daemon(&mock, None).contacts_changed_elsewhere(since, None).await.unwrap().is_none());
}
