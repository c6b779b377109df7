//! The CRM compliance suite (`handoffd_mocks::compliance`), every check on a fresh HubSpot mock and connector.

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};
use handoffd_hubspot::{Hubspot, HubspotConfig};
use handoffd_mocks::compliance;
use handoffd_mocks::{MockCrm, MockHandle, MockOAuthApp, MockOptions};
use serde_json::json;

/// A mock with HubSpot's defaults and a connector for it, on OAuth (the suite expires access tokens); the handle
/// keeps the mock running.
async fn fresh() -> (Arc<dyn Crm>, handoffd_mocks::hubspot::HubspotMock, MockHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let mock = MockCrm::start(MockOptions::default(), listener).await;
    let app = MockOAuthApp::default();
    let config: HubspotConfig = serde_json::from_value(json!({
        "id": "hubspot-compliance",
        "base_url": mock.base_url(),
        "oauth": {
            "client_id": app.client_id,
            "client_secret": app.client_secret.0,
            "refresh_token": app.refresh_token.0,
        },
        // A lost answer must be noticed quickly; the mock closes the connection at once anyway.
        "request_timeout": "5s",
    }))
    .expect("the config parses");
    let hubspot = Hubspot::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds");
    (Arc::new(hubspot), mock.hubspot(), mock)
}

#[tokio::test]
async fn hubspot_passes_the_crm_compliance_suite() {
    let started = tokio::time::Instant::now();
    let failures = compliance::run_all(fresh).await;
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        compliance::CHECKS.len(),
        failures.join("\n")
    );
    // Nothing in the suite waits on a limit: a slow run means a connector waiting where it should not.
    assert!(started.elapsed() < Duration::from_secs(60), "the suite took {:?}", started.elapsed());
}

/// The suite can fail: a connector that sends a write again by itself after its answer was lost (the classic way
/// to duplicate a task) is caught by the lost-answer check.
#[tokio::test]
async fn the_suite_catches_a_connector_that_writes_again_after_a_lost_answer() {
    let (hubspot, mock, _keep) = fresh().await;
    let crm: Arc<dyn Crm> = Arc::new(RetriesBlindly(hubspot));
    let check = compliance::CHECKS.iter().find(|c| c.name.starts_with("a lost answer")).expect("the check is listed");
    let failure = (check.run)(&crm, &mock).await.expect_err("writing twice must fail the check");
    assert!(failure.contains("must not write again"), "{failure}");
}

/// The suite can fail: a connector on a private app's token never refreshes, so the expired-token check says so
/// instead of passing.
#[tokio::test]
async fn the_suite_catches_a_connector_that_cannot_refresh() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let mock = MockCrm::start(MockOptions::default(), listener).await;
    let config: HubspotConfig = serde_json::from_value(json!({
        "id": "hubspot-private-app",
        "base_url": mock.base_url(),
        "access_token": handoffd_mocks::DEFAULT_ACCESS_TOKEN,
    }))
    .expect("the config parses");
    let hubspot = Hubspot::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds");
    let crm: Arc<dyn Crm> = Arc::new(hubspot);
    let check = compliance::CHECKS.iter().find(|c| c.name.starts_with("an expired access token")).expect("listed");
    let failure = (check.run)(&crm, &mock.hubspot()).await.expect_err("a token that never expires cannot pass");
    assert!(failure.contains("nothing can expire"), "{failure}");
}

/// HubSpot's connector with one bug added: a task write whose outcome is unknown is sent once more.
struct RetriesBlindly(Arc<dyn Crm>);

#[async_trait::async_trait]
impl Crm for RetriesBlindly {
    fn id(&self) -> &str {
        self.0.id()
    }

    fn limits(&self) -> RateLimitPolicy {
        self.0.limits()
    }

    fn live_budget(&self) -> LiveBudget {
        self.0.live_budget()
    }

    async fn prepare(&self) -> Result<(), CrmError> {
        self.0.prepare().await
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        self.0.find_contacts(keys).await
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        self.0.create_contact(contact).await
    }

    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        self.0.create_contacts(contacts).await
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        self.0.contacts_changed_since(cursor).await
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        self.0.list_owners().await
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        match self.0.create_tasks(tasks).await {
            Err(CrmError::OutcomeUnknown(_)) => self.0.create_tasks(tasks).await,
            answer => answer,
        }
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        self.0.update_tasks(tasks).await
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        self.0.find_tasks_by_external_keys(keys).await
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        self.0.task_states(task_ids).await
    }
}
