//! What the mock saw, for tests, `handoffd demo` and `handoffd bench`: `GET /_mock/report`, `GET /_mock/tasks`,
//! and the run-time fault switch `GET|POST /_mock/faults`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::faults::FaultPlan;
use super::state::{MockState, Shared, iso};

/// Counters the handlers bump.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub tasks_created: u64,
    pub duplicate_tasks: u64,
    pub tasks_updated: u64,
    pub contacts_created: u64,
    pub duplicate_contacts: u64,
    pub requests_per_endpoint: BTreeMap<String, u64>,
    pub rate_limited: RateLimitedCounts,
    pub faults_injected: FaultCounts,
    pub oauth_tokens_issued: u64,
    pub unauthorized: u64,
}

/// 429s sent because a real limit was reached, by HubSpot policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitedCounts {
    pub ten_secondly_rolling: u64,
    pub daily: u64,
    pub secondly: u64,
}

/// Faults the plan injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub status_429: u64,
    pub status_5xx: u64,
    pub resets: u64,
    pub lost_responses: u64,
    #[serde(default)]
    pub status_400: u64,
    #[serde(default)]
    pub undocumented: u64,
    pub delays: u64,
}

/// A message accepted by the Graph API send route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphMessage {
    pub phone_number_id: String,
    pub to: String,
    pub wamid: String,
    /// `text` or `template` (Meta's `type`).
    #[serde(default)]
    pub kind: String,
    /// A template's name.
    #[serde(default)]
    pub template: Option<String>,
    /// A template's body parameters, in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// The mock's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockReport {
    pub tasks_created: u64,
    /// Tasks created with a `handoffd_handoff_id` some earlier task already had.
    pub duplicate_tasks: u64,
    pub tasks_updated: u64,
    pub contacts_created: u64,
    /// Contacts created with a phone (`phone` or `mobilephone`) some earlier contact already had.
    pub duplicate_contacts: u64,
    /// Requests per route, e.g. `POST /hubspot/crm/v3/objects/tasks/batch/create`, refused ones included.
    pub requests_per_endpoint: BTreeMap<String, u64>,
    /// Most non-search requests one account sent in any rolling ten seconds, refused ones included.
    pub max_requests_in_10s_window: u64,
    /// Most search requests one account sent in any rolling second, refused ones included.
    pub max_search_requests_in_1s: u64,
    /// Every 429 sent: real limits plus injected ones.
    pub responses_429: u64,
    /// 429s sent because a real limit was reached.
    pub rate_limited: RateLimitedCounts,
    pub faults_injected: FaultCounts,
    /// 401s sent (missing, unknown or expired token).
    pub unauthorized: u64,
    pub oauth_tokens_issued: u64,
    pub whatsapp_messages_sent: u64,
}

/// A task as `GET /_mock/tasks` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockTaskView {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub associations: Vec<MockAssociation>,
    pub created_at: String,
    pub updated_at: String,
}

/// A contact as `MockHandle::contacts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockContactView {
    pub id: String,
    pub properties: BTreeMap<String, String>,
}

/// An association of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockAssociation {
    /// The associated contact's id.
    pub to_id: String,
    pub association_category: String,
    pub association_type_id: u32,
}

impl MockState {
    pub fn report(&self) -> MockReport {
        let counters = &self.counters;
        let limited = &counters.rate_limited;
        MockReport {
            tasks_created: counters.tasks_created,
            duplicate_tasks: counters.duplicate_tasks,
            tasks_updated: counters.tasks_updated,
            contacts_created: counters.contacts_created,
            duplicate_contacts: counters.duplicate_contacts,
            requests_per_endpoint: counters.requests_per_endpoint.clone(),
            max_requests_in_10s_window: self.limits.max_received_in_10s,
            max_search_requests_in_1s: self.limits.max_search_received_in_1s,
            responses_429: limited.ten_secondly_rolling
                + limited.daily
                + limited.secondly
                + counters.faults_injected.status_429,
            rate_limited: limited.clone(),
            faults_injected: counters.faults_injected.clone(),
            unauthorized: counters.unauthorized,
            oauth_tokens_issued: counters.oauth_tokens_issued,
            whatsapp_messages_sent: self.graph_messages.len() as u64,
        }
    }

    pub fn contact_views(&self) -> Vec<MockContactView> {
        self.contacts
            .values()
            .map(|contact| MockContactView { id: contact.id.to_string(), properties: contact.properties.clone() })
            .collect()
    }

    pub fn task_views(&self) -> Vec<MockTaskView> {
        self.tasks
            .values()
            .map(|task| MockTaskView {
                id: task.id.to_string(),
                properties: task.properties.clone(),
                associations: task
                    .associations
                    .iter()
                    .map(|association| MockAssociation {
                        to_id: association.to_id.clone(),
                        association_category: association.category.clone(),
                        association_type_id: association.type_id,
                    })
                    .collect(),
                created_at: iso(task.created_at),
                updated_at: iso(task.updated_at),
            })
            .collect()
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/report", get(report))
        .route("/_mock/tasks", get(tasks))
        .route("/_mock/faults", get(current_faults).post(set_faults))
}

async fn report(State(shared): State<Arc<Shared>>) -> Json<MockReport> {
    Json(shared.lock().report())
}

async fn tasks(State(shared): State<Arc<Shared>>) -> Json<Vec<MockTaskView>> {
    Json(shared.lock().task_views())
}

async fn current_faults(State(shared): State<Arc<Shared>>) -> Json<FaultPlan> {
    Json(shared.lock().faults.plan().clone())
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let plan: FaultPlan = match serde_json::from_slice(&body) {
        Ok(plan) => plan,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("not a fault plan: {error}\n")).into_response(),
    };
    if let Err(error) = plan.validate() {
        return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
    }
    shared.lock().faults.set_plan(plan.clone());
    Json(plan).into_response()
}
