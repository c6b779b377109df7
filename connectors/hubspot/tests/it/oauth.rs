use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use handoffd_contract::auth::{MemoryVault, StoredToken, TokenVault};
use handoffd_contract::crm::{Crm, CrmError};
use handoffd_hubspot::{Hubspot, HubspotError};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{config, hubspot_with_vault};

const CLIENT_SECRET: &str = "cs-5ecret-do-not-log";
const REFRESH_TOKEN: &str = "rt-configured-do-not-log";

fn oauth() -> serde_json::Value {
    json!({ "oauth": { "client_id": "client-42", "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN } })
}

async fn token_endpoint(server: &MockServer, access: &str, rotated: &str, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/v1/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("client_id=client-42"))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}").as_str()))
        .and(body_string_contains(format!("refresh_token={REFRESH_TOKEN}").as_str()))
        // Long enough that every concurrent caller is waiting while it runs.
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)).set_body_json(json!({
            "token_type": "bearer", "access_token": access, "refresh_token": rotated, "expires_in": 1800
        })))
        .expect(expect)
        .mount(server)
        .await;
}

async fn owners_for(server: &MockServer, bearer: &str) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": [] })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh_which_is_saved_and_used() {
    let server = MockServer::start().await;
    token_endpoint(&server, "at-fresh-1", "rt-rotated-1", 1).await;
    owners_for(&server, "at-fresh-1").await;
    let vault = Arc::new(MemoryVault::default());
    let crm = Arc::new(hubspot_with_vault(&server, oauth(), vault.clone()));
    let calls = (0..5).map(|_| {
        let crm = crm.clone();
        tokio::spawn(async move { crm.list_owners().await })
    });
    // Spawned all before awaiting any, so they race for the one refresh.
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().expect("owners listed with the refreshed token");
    }
    let saved = vault.load("hubspot-main").await.unwrap().expect("the refreshed token is saved");
    assert_eq!(saved.access_token, "at-fresh-1");
    assert_eq!(saved.refresh_token.as_deref(), Some("rt-rotated-1"));
    let expires_at = saved.expires_at.expect("expiry recorded");
    assert!(expires_at > Utc::now() + chrono::Duration::minutes(25));
}

#[tokio::test]
async fn a_stored_token_near_expiry_is_refreshed_before_use() {
    let server = MockServer::start().await;
    token_endpoint(&server, "at-fresh-2", "rt-rotated-2", 1).await;
    owners_for(&server, "at-fresh-2").await;
    let vault = Arc::new(MemoryVault::default());
    let stored = StoredToken {
        access_token: "at-dying".into(),
        refresh_token: Some(REFRESH_TOKEN.into()),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(2)),
        instance_url: None,
        scope: None,
    };
    vault.save("hubspot-main", &stored).await.unwrap();
    hubspot_with_vault(&server, oauth(), vault.clone()).list_owners().await.unwrap();
    assert_eq!(vault.load("hubspot-main").await.unwrap().unwrap().access_token, "at-fresh-2");
}

#[tokio::test]
async fn a_stored_token_with_time_left_is_used_without_refresh() {
    let server = MockServer::start().await;
    token_endpoint(&server, "unused", "unused", 0).await;
    owners_for(&server, "at-stored").await;
    let vault = Arc::new(MemoryVault::default());
    let stored = StoredToken {
        access_token: "at-stored".into(),
        refresh_token: Some(REFRESH_TOKEN.into()),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(25)),
        instance_url: None,
        scope: None,
    };
    vault.save("hubspot-main", &stored).await.unwrap();
    hubspot_with_vault(&server, oauth(), vault).list_owners().await.unwrap();
}

#[tokio::test]
async fn unauthorized_refreshes_once_and_retries() {
    let server = MockServer::start().await;
    token_endpoint(&server, "at-after-401", "rt-rotated-3", 1).await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .and(header("authorization", "Bearer at-revoked"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "status": "error", "message": "expired" })))
        .expect(1)
        .mount(&server)
        .await;
    owners_for(&server, "at-after-401").await;
    let vault = Arc::new(MemoryVault::default());
    let stored = StoredToken {
        access_token: "at-revoked".into(),
        refresh_token: Some(REFRESH_TOKEN.into()),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(25)),
        instance_url: None,
        scope: None,
    };
    vault.save("hubspot-main", &stored).await.unwrap();
    hubspot_with_vault(&server, oauth(), vault).list_owners().await.unwrap();
}

#[tokio::test]
async fn a_refused_refresh_token_is_an_auth_error_with_hubspots_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v1/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"
        })))
        .mount(&server)
        .await;
    let crm = hubspot_with_vault(&server, oauth(), Arc::new(MemoryVault::default()));
    let err = crm.list_owners().await.unwrap_err();
    match &err {
        CrmError::Auth(m) => {
            assert!(m.contains("missing or unknown refresh token"), "{m}");
            assert!(!m.contains(REFRESH_TOKEN) && !m.contains(CLIENT_SECRET), "{m}");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let server = MockServer::start().await;
    token_endpoint(&server, "at-secret-value", "rt-rotated-secret", 1).await;
    owners_for(&server, "at-secret-value").await;
    let crm = hubspot_with_vault(&server, oauth(), Arc::new(MemoryVault::default()));
    crm.list_owners().await.unwrap();
    let shown = format!("{crm:?} {:?}", config(&server, oauth()));
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "at-secret-value", "rt-rotated-secret"] {
        assert!(!shown.contains(secret), "`{secret}` leaked in {shown}");
    }
    assert!(shown.contains("client-42"), "the Debug output still names the client: {shown}");
    let private = format!("{:?}", config(&server, json!({})));
    assert!(!private.contains(crate::support::TOKEN), "{private}");
}

#[test]
fn exactly_one_of_access_token_and_oauth() {
    let server_uri = "http://127.0.0.1:9";
    let build = |v: serde_json::Value| {
        let config = serde_json::from_value(v).unwrap();
        Hubspot::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new())
    };
    let both = json!({ "id": "h", "base_url": server_uri, "access_token": "pat",
                       "oauth": { "client_id": "c", "client_secret": "s", "refresh_token": "r" } });
    let problem_keys = |built: Result<Hubspot, HubspotError>| match built {
        Err(HubspotError::Invalid { problems, .. }) => problems.into_iter().map(|p| p.key).collect::<Vec<_>>(),
        other => panic!("expected an invalid config, got {:?}", other.map(|_| "a connector")),
    };
    assert_eq!(problem_keys(build(both)), ["oauth"]);
    let neither = json!({ "id": "h", "base_url": server_uri });
    assert_eq!(problem_keys(build(neither)), [""]);
    let unknown_key = serde_json::from_value::<handoffd_hubspot::HubspotConfig>(json!({
        "id": "h", "access_token": "pat", "limits": { "requets": 5 }
    }));
    assert!(unknown_key.is_err(), "unknown keys in `limits` are refused");
}
