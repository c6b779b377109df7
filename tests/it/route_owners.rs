//! Owners named by email, resolved through the CRM's owners API (the mock HubSpot's
//! `/crm/v3/owners`), kept in the store, and passed over with the reason once the CRM no longer
//! lists them.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use handoffd::route::{RouteFacts, Router};
use handoffd_mocks::{MockOptions, MockOwner};

async fn mock(owners: Vec<MockOwner>) -> handoffd_mocks::MockHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    handoffd_mocks::MockCrm::start(MockOptions { owners, ..MockOptions::default() }, listener).await
}

/// The example configuration with its HubSpot at `base`, owners by email, no hours of their own.
fn config_at(base: &str, store_url: &str) -> handoffd::config::Config {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let start = example.find("routing:\n").unwrap();
    let end = example.find("delivery:\n").unwrap();
    let routing = "routing:\n  owners:\n    - {email: asha.rao@example.com, name: Asha}\n    - {email: Miguel.Torres@example.com, name: Miguel}\n    - {email: ghost@example.com, name: Ghost}\n\n";
    let text = format!("{}{routing}{}", &example[..start], &example[end..])
        .replace("${HUBSPOT_BASE_URL:-http://127.0.0.1:8090/hubspot}", base)
        .replace("sqlite://../state/handoffd.db", store_url);
    handoffd::config::parse(&text, &|_| None).unwrap_or_else(|p| panic!("{p:?}"))
}

async fn sync(config: &handoffd::config::Config, store: Arc<dyn handoffd::store::Store>) -> usize {
    let http = reqwest::Client::new();
    let vault = Arc::new(handoffd::deliver::StoreVault::new(store.clone(), None));
    let context = handoffd_contract::kind::BuildContext { vault, http };
    let connectors = handoffd::registry::Connectors::build(&config.connectors, &context).unwrap();
    let crm = connectors.crms["hubspot-main"].clone();
    handoffd::route::sync::sync_owners(crm.as_ref(), store.as_ref(), "hubspot-main", Utc::now()).await.unwrap().len()
}

fn brief() -> handoffd_contract::brief::Brief {
    serde_json::from_value(serde_json::json!({
        "customer": {"phones": [], "emails": []}, "channel_history": [], "intents": [],
        "urgency": {"level": "medium", "reasons": []}, "disposition": "callback", "objections": [],
        "do_not_ask": [], "recommended_action": "", "reasked_facts": [], "actionable": true
    }))
    .unwrap()
}

#[tokio::test]
async fn emails_resolve_through_the_owners_api_and_a_deleted_owner_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite://{}", dir.path().join("handoffd.db").display());
    let store = handoffd::store::open(&store_url).await.unwrap();

    let before = mock(MockOwner::defaults()).await;
    let config = config_at(&before.base_url(), &store_url);
    let router = Router::from_config(&config, Some(store.clone())).unwrap();

    // Before any sync, owners named by email alone cannot be given tasks: the task is unassigned.
    let mut round = router.round().await.unwrap();
    let decision = router.decide(&brief(), &RouteFacts::default(), Utc::now(), &mut round);
    assert!(decision.owner.is_none());
    assert!(decision.exclusions()[0].ends_with("not resolved yet: the CRM's owners were never synced"));

    assert_eq!(sync(&config, store.clone()).await, 2, "the mock lists Asha and Miguel");
    let mut round = router.round().await.unwrap();
    let first = router.decide(&brief(), &RouteFacts::default(), Utc::now(), &mut round);
    let second = router.decide(&brief(), &RouteFacts::default(), Utc::now(), &mut round);
    assert_eq!(first.owner.unwrap().id, "75480001", "asha.rao@example.com is HubSpot owner 75480001");
    assert_eq!(second.owner.as_ref().unwrap().id, "75480002", "emails compare without case");
    assert_eq!(
        second.exclusions(),
        ["ghost@example.com: unknown in the CRM: no user with email `ghost@example.com`"],
        "the unknown email is passed over, with the reason"
    );

    // Asha leaves the CRM; the next sync sees it and her turn goes to the next candidate.
    let after = mock(MockOwner::defaults().into_iter().filter(|o| o.id != "75480001").collect()).await;
    assert_eq!(sync(&config_at(&after.base_url(), &store_url), store.clone()).await, 1);
    let mut round = router.round().await.unwrap();
    let decision = router.decide(&brief(), &RouteFacts::default(), Utc::now(), &mut round);
    assert_eq!(decision.owner.as_ref().unwrap().id, "75480002");
    assert!(
        decision.exclusions().contains(
            &"asha.rao@example.com: unknown in the CRM: no user with email `asha.rao@example.com`".to_owned()
        ),
        "{:?}",
        decision.exclusions()
    );
}
