//! Every CRM call counted and timed, whatever the vendor: a [`Crm`] around the connector's.
//!
//! The operation is the contract's (`create_tasks`, `find_contacts`, ...), the outcome the
//! contract's error class: both small fixed sets, so the series stay bounded. The budget the
//! vendor reported after each call is exported as gauges.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

pub struct MeteredCrm {
    inner: Arc<dyn Crm>,
    id: String,
}

impl MeteredCrm {
    pub fn wrap(inner: Arc<dyn Crm>) -> Arc<dyn Crm> {
        let id = inner.id().to_owned();
        Arc::new(Self { inner, id })
    }

    fn record<T>(&self, operation: &'static str, started: Instant, result: &Result<T, CrmError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(CrmError::RateLimited { .. }) => "rate_limited",
            Err(CrmError::Unavailable(_)) => "unavailable",
            Err(CrmError::OutcomeUnknown(_)) => "outcome_unknown",
            Err(CrmError::Auth(_)) => "auth",
            Err(CrmError::Rejected { .. }) => "rejected",
            Err(CrmError::Protocol(_)) => "protocol",
            Err(_) => "error",
        };
        let crm = self.id.clone();
        metrics::counter!("handoffd_crm_calls_total", "crm" => crm.clone(), "operation" => operation, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("handoffd_crm_call_duration_seconds", "crm" => crm.clone(), "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        let budget = self.inner.live_budget();
        if let Some(left) = budget.window_remaining {
            metrics::gauge!("handoffd_crm_budget_remaining", "crm" => crm.clone(), "window" => "window")
                .set(left as f64);
        }
        if let Some(left) = budget.daily_remaining {
            metrics::gauge!("handoffd_crm_budget_remaining", "crm" => crm, "window" => "daily").set(left as f64);
        }
    }
}

macro_rules! metered {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.record($operation, started, &result);
        result
    }};
}

#[async_trait]
impl Crm for MeteredCrm {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn limits(&self) -> RateLimitPolicy {
        self.inner.limits()
    }

    fn live_budget(&self) -> LiveBudget {
        self.inner.live_budget()
    }

    async fn assume_budget_spent(&self) -> bool {
        self.inner.assume_budget_spent().await
    }

    async fn prepare(&self) -> Result<(), CrmError> {
        metered!(self, "prepare", self.inner.prepare())
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        metered!(self, "find_contacts", self.inner.find_contacts(keys))
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        metered!(self, "create_contact", self.inner.create_contact(contact))
    }

    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        let started = Instant::now();
        let results = self.inner.create_contacts(contacts).await;
        // The batch's outcome is its first failure, if any.
        let first_error = results.iter().find_map(|r| r.as_ref().err().cloned());
        self.record("create_contacts", started, &first_error.map_or(Ok(()), Err));
        results
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        metered!(self, "contacts_changed_since", self.inner.contacts_changed_since(cursor))
    }

    async fn contacts_changed_elsewhere(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        page: Option<&str>,
    ) -> Result<Option<ContactPage>, CrmError> {
        metered!(self, "contacts_changed_elsewhere", self.inner.contacts_changed_elsewhere(since, page))
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        metered!(self, "list_owners", self.inner.list_owners())
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        metered!(self, "create_tasks", self.inner.create_tasks(tasks))
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        metered!(self, "update_tasks", self.inner.update_tasks(tasks))
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        metered!(self, "find_tasks_by_external_keys", self.inner.find_tasks_by_external_keys(keys))
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        metered!(self, "task_states", self.inner.task_states(task_ids))
    }
}
