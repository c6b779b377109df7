//! OAuth tokens shared by instances on one store (issue 23, item 5): two HubSpot clients, each with its own
//! store connection and vault (sealed with `store.token_keys`), against a mock that rotates refresh tokens and
//! refuses one that was used. One refresh per expiry, the rotated refresh token is in the store before anyone
//! else refreshes, a 401 on a token the other client already replaced reads the new one, and a restarted
//! instance picks up the newest refresh token rather than the configured (spent) one.

use std::sync::Arc;

use base64::Engine;
use handoffd::deliver::{StoreVault, TokenKeys};
use handoffd::store::Store;
use handoffd_contract::auth::TokenVault;
use handoffd_contract::crm::Crm;
use handoffd_hubspot::{Hubspot, HubspotConfig};
use handoffd_mocks::compliance::CrmMock;
use handoffd_mocks::{MockCrm, MockHandle, MockOAuthApp, MockOptions};
use serde_json::json;

use crate::pg_scratch::{Schema, url_or_skip};

const ID: &str = "hubspot-main";

async fn rotating_mock() -> MockHandle {
    let options = MockOptions {
        oauth: MockOAuthApp { rotate_refresh_tokens: true, ..MockOAuthApp::default() },
        ..MockOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    MockCrm::start(options, listener).await
}

fn keys() -> TokenKeys {
    TokenKeys::parse(&[base64::engine::general_purpose::STANDARD.encode([7u8; 32])]).unwrap()
}

fn client(mock: &MockHandle, vault: Arc<dyn TokenVault>) -> Hubspot {
    let oauth = MockOAuthApp::default();
    let config: HubspotConfig = serde_json::from_value(json!({
        "id": ID,
        "base_url": mock.base_url(),
        "oauth": {
            "client_id": oauth.client_id,
            "client_secret": oauth.client_secret.0,
            "refresh_token": oauth.refresh_token.0,
        },
    }))
    .unwrap();
    Hubspot::new(config, vault, reqwest::Client::new()).unwrap()
}

async fn two_instances_share_rotating_tokens(url: &str) {
    let mock = rotating_mock().await;
    let hubspot = mock.hubspot();
    let store_a: Arc<dyn Store> = handoffd::store::open(url).await.unwrap();
    // Several instances share PostgreSQL; SQLite is one instance's (two vaults over one store stand for two
    // clients in it).
    let store_b: Arc<dyn Store> =
        if url.starts_with("sqlite:") { store_a.clone() } else { handoffd::store::open(url).await.unwrap() };
    let vault_a = Arc::new(StoreVault::new(store_a.clone(), Some(keys())));
    let vault_b = Arc::new(StoreVault::new(store_b, Some(keys())));
    let a = client(&mock, vault_a.clone());
    let b = client(&mock, vault_b.clone());

    // Both start at once with an empty store: one refresh between them.
    let (ra, rb) = tokio::join!(a.list_owners(), b.list_owners());
    ra.expect("instance a");
    rb.expect("instance b");
    assert_eq!(hubspot.tokens_issued(), 1, "one refresh for two instances starting together");
    let stored = vault_b.load(ID).await.unwrap().expect("a stored token");
    assert_eq!(stored.refresh_token, Some(hubspot.current_refresh_token()), "the rotated refresh token is stored");
    let sealed = store_a.load_token(ID).await.unwrap().unwrap();
    assert!(sealed.starts_with("enc:v1:") && !sealed.contains("mock-rotated"), "sealed at rest: {sealed}");

    // HubSpot refuses the access token: a refreshes (rotating again); b's 401 reads a's new token.
    hubspot.expire_access_tokens();
    a.list_owners().await.expect("a after expiry");
    assert_eq!(hubspot.tokens_issued(), 2);
    b.list_owners().await.expect("b after a replaced the token");
    assert_eq!(hubspot.tokens_issued(), 2, "b read the token a refreshed instead of refreshing again");

    // Refused while both are at work: still one refresh, and nobody offers a spent refresh token.
    for round in 3..6 {
        hubspot.expire_access_tokens();
        let (ra, rb) = tokio::join!(a.list_owners(), b.list_owners());
        ra.expect("instance a");
        rb.expect("instance b");
        assert_eq!(hubspot.tokens_issued(), round, "one refresh per expiry");
    }
    assert_eq!(hubspot.spent_refresh_tokens_offered(), 0, "no instance offered a refresh token already rotated away");

    // A restarted instance (configured with the first, long spent refresh token) uses the store's.
    let restarted = client(&mock, Arc::new(StoreVault::new(store_a.clone(), Some(keys()))));
    restarted.list_owners().await.expect("the stored access token");
    assert_eq!(hubspot.tokens_issued(), 5, "no refresh at restart");
    hubspot.expire_access_tokens();
    restarted.list_owners().await.expect("refreshed with the stored refresh token");
    assert_eq!(hubspot.tokens_issued(), 6);
    assert_eq!(hubspot.spent_refresh_tokens_offered(), 0);
    assert_eq!(vault_a.load(ID).await.unwrap().unwrap().refresh_token, Some(hubspot.current_refresh_token()));
}

#[tokio::test]
async fn two_instances_share_rotating_tokens_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    two_instances_share_rotating_tokens(&format!("sqlite://{}", dir.path().join("tokens.db").display())).await;
}

#[tokio::test]
async fn two_instances_share_rotating_tokens_on_postgres() {
    let Some(server) = url_or_skip("two_instances_share_rotating_tokens_on_postgres") else { return };
    let schema = Schema::create(&server);
    two_instances_share_rotating_tokens(&schema.store_url()).await;
}
