//! The HubSpot mock as the compliance suite sees it: tasks and contacts in the contract's terms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use handoffd_contract::task::TaskPriority;

use crate::compliance::{CrmMock, MockedContact, MockedTask};
use crate::faults::FaultPlan;
use crate::state::{CrmObject, ObjectKind, PHONE_PROPERTIES, Shared};

/// A view of a running mock's HubSpot (see `MockHandle::hubspot`); it does not keep the server running.
#[derive(Debug, Clone)]
pub struct HubspotMock {
    pub(crate) shared: Arc<Shared>,
}

impl HubspotMock {
    /// How often a refresh token the app had already rotated away was offered again (a client sharing tokens
    /// that lost a rotation); see `MockOAuthApp::rotate_refresh_tokens`.
    pub fn spent_refresh_tokens_offered(&self) -> u64 {
        self.shared.lock().spent_refresh_tokens_offered
    }

    /// The refresh token the app accepts now.
    pub fn current_refresh_token(&self) -> String {
        let state = self.shared.lock();
        state.current_refresh_token.clone().unwrap_or_else(|| self.shared.oauth.refresh_token.0.clone())
    }
}

impl CrmMock for HubspotMock {
    fn vendor(&self) -> &'static str {
        "HubSpot"
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
            .filter(|(route, _)| route.contains(" /hubspot/"))
            .map(|(_, n)| n)
            .sum()
    }

    fn owner_ids(&self) -> Vec<String> {
        self.shared.lock().owners.iter().map(|owner| owner.id.clone()).collect()
    }

    fn contacts(&self) -> Vec<MockedContact> {
        let state = self.shared.lock();
        state
            .contacts
            .values()
            .map(|contact| MockedContact {
                id: contact.id.to_string(),
                phones: PHONE_PROPERTIES.iter().filter_map(|name| non_empty(contact, name)).collect(),
                emails: non_empty(contact, "email").into_iter().collect(),
            })
            .collect()
    }

    fn tasks(&self) -> Vec<MockedTask> {
        let state = self.shared.lock();
        state
            .tasks
            .values()
            .map(|task| MockedTask {
                id: task.id.to_string(),
                external_key: non_empty(task, "handoffd_handoff_id"),
                subject: non_empty(task, "hs_task_subject"),
                owner_id: non_empty(task, "hubspot_owner_id"),
                due_at: task.property("hs_timestamp").and_then(|at| at.parse::<DateTime<Utc>>().ok()),
                priority: match task.property("hs_task_priority") {
                    Some("HIGH") => Some(TaskPriority::High),
                    Some("MEDIUM") => Some(TaskPriority::Medium),
                    Some("LOW") => Some(TaskPriority::Low),
                    _ => None,
                },
                contact_ids: task.associations.iter().map(|association| association.to_id.clone()).collect(),
                completed: task.property("hs_task_status") == Some("COMPLETED"),
                created_at: Some(task.created_at),
            })
            .collect()
    }

    fn complete_task(&self, task_id: &str) -> bool {
        let mut state = self.shared.lock();
        let Some(task) = task_id.parse().ok().and_then(|id: u64| state.tasks.get_mut(&id)) else { return false };
        task.properties.insert("hs_task_status".to_owned(), "COMPLETED".to_owned());
        task.touch(ObjectKind::Tasks, Utc::now());
        true
    }

    fn tokens_issued(&self) -> u64 {
        self.shared.lock().counters.oauth_tokens_issued
    }

    fn expire_access_tokens(&self) {
        // A second ago, so the gate answers EXPIRED_AUTHENTICATION (private-app tokens never expire).
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now);
        for token in self.shared.lock().issued_tokens.values_mut() {
            token.expires_at = past;
        }
    }

    fn exhaust_daily_budget(&self) {
        self.shared.lock().limits.set_daily_exhausted(true);
    }

    fn reset_daily_budget(&self) {
        self.shared.lock().limits.set_daily_exhausted(false);
    }
}

fn non_empty(object: &CrmObject, name: &str) -> Option<String> {
    object.property(name).filter(|value| !value.is_empty()).map(str::to_owned)
}
