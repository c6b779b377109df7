//! The Salesforce mock as the compliance suite sees it: Contacts, Leads and Tasks in the contract's terms.

use std::sync::Arc;

use handoffd_contract::task::TaskPriority;
use serde_json::{Map, Value};

use super::org::{SObject, sf_datetime};
use super::soql::parse_datetime;
use crate::compliance::{CrmMock, MockedContact, MockedTask};
use crate::faults::FaultPlan;
use crate::state::Shared;

/// A view of a running mock's Salesforce org (see `MockHandle::salesforce`); it does not keep the server running.
#[derive(Debug, Clone)]
pub struct SalesforceMock {
    pub(crate) shared: Arc<Shared>,
}

impl SalesforceMock {
    /// A record's fields as the org holds them (`object` is `Contact`, `Lead`, `Task` or `User`).
    pub fn record(&self, object: &str, id: &str) -> Option<Map<String, Value>> {
        let object = SObject::from_name(object)?;
        self.shared.lock().salesforce.record(object, id).cloned()
    }

    /// Calls counted against the org's allocation so far, and the allocation.
    pub fn api_usage(&self) -> (u64, u64) {
        let state = self.shared.lock();
        (state.salesforce.api_used, state.salesforce.options.daily_max)
    }
}

fn text(record: &Map<String, Value>, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned)
}

impl CrmMock for SalesforceMock {
    fn vendor(&self) -> &'static str {
        "Salesforce"
    }

    fn set_faults(&self, plan: FaultPlan) {
        self.shared.lock().faults.set_plan(plan);
    }

    fn requests_received(&self) -> u64 {
        let state = self.shared.lock();
        state
            .counters
            .requests_per_endpoint
            .iter()
            .filter(|(route, _)| route.contains(" /salesforce/"))
            .map(|(_, n)| n)
            .sum()
    }

    fn owner_ids(&self) -> Vec<String> {
        let state = self.shared.lock();
        let users = state.salesforce.options.users.iter();
        users.filter(|u| u.user_type == "Standard").map(|u| u.id.clone()).collect()
    }

    fn contacts(&self) -> Vec<MockedContact> {
        let state = self.shared.lock();
        let org = &state.salesforce;
        org.records(SObject::Contact)
            .chain(org.records(SObject::Lead))
            .map(|record| MockedContact {
                id: text(record, "Id").unwrap_or_default(),
                phones: ["Phone", "MobilePhone"].iter().filter_map(|f| text(record, f)).collect(),
                emails: text(record, "Email").into_iter().collect(),
            })
            .collect()
    }

    fn tasks(&self) -> Vec<MockedTask> {
        let state = self.shared.lock();
        let org = &state.salesforce;
        let key_field = org.options.external_id_field.clone().unwrap_or_default();
        org.records(SObject::Task)
            .map(|task| MockedTask {
                id: text(task, "Id").unwrap_or_default(),
                external_key: text(task, &key_field),
                subject: text(task, "Subject"),
                owner_id: text(task, "OwnerId"),
                due_at: text(task, "ReminderDateTime").and_then(|at| parse_datetime(&at)),
                priority: match text(task, "Priority").as_deref() {
                    Some("High") => Some(TaskPriority::High),
                    Some("Normal") => Some(TaskPriority::Medium),
                    Some("Low") => Some(TaskPriority::Low),
                    _ => None,
                },
                contact_ids: text(task, "WhoId").into_iter().collect(),
                completed: task.get("IsClosed") == Some(&Value::Bool(true)),
                created_at: text(task, "CreatedDate").and_then(|at| parse_datetime(&at)),
            })
            .collect()
    }

    fn complete_task(&self, task_id: &str) -> bool {
        let mut state = self.shared.lock();
        let Some(task) = state.salesforce.record_mut(SObject::Task, task_id) else { return false };
        task.insert("Status".into(), Value::String("Completed".into()));
        task.insert("IsClosed".into(), Value::Bool(true));
        task.insert("LastModifiedDate".into(), Value::String(sf_datetime(chrono::Utc::now())));
        true
    }

    fn tokens_issued(&self) -> u64 {
        self.shared.lock().salesforce.tokens_issued
    }

    fn expire_access_tokens(&self) {
        for session in self.shared.lock().salesforce.sessions.values_mut() {
            session.expired = true;
        }
    }

    fn exhaust_daily_budget(&self) {
        self.shared.lock().salesforce.allocation_spent = true;
    }

    fn reset_daily_budget(&self) {
        let mut state = self.shared.lock();
        state.salesforce.allocation_spent = false;
        state.salesforce.api_used = 0;
    }
}
