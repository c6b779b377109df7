//! Pipedrive as its v1 OpenAPI description and its v2 API say it behaves, on a server of its own: persons (v1),
//! users and activity fields (v1), activities (v2, and v1's collection), and OAuth's token endpoint.
//!
//! - `gate`: the token (`x-api-token` header, `api_token` query, or OAuth's Bearer), the 2-second windows
//!   (searches apart), the daily token budget, and the `x-ratelimit-*` / `x-daily-requests-left` headers.
//! - `api`: the endpoints, answering in Pipedrive's envelope (`{"success", "data", "additional_data"}`).
//!
//! Every API route passes, outermost first: the request log, the gate, faults, the answer time, the handler.

mod api;
mod gate;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use chrono::{NaiveDate, NaiveTime};
use handoffd_contract::task::TaskPriority;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::AnswerDelay;
use crate::compliance::{CrmMock, MockedContact, MockedTask};
use crate::faults::{FaultPlan, INJECTED_REJECTION};
use crate::recorded::{RequestLog, record};
use crate::vendor_faults::{FaultAnswers, FaultSwitch, inject};

/// A Pipedrive user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipedriveUser {
    pub id: u64,
    pub name: String,
    pub email: String,
}

impl PipedriveUser {
    pub fn defaults() -> Vec<Self> {
        vec![
            Self { id: 13_540_001, name: "Asha Rao".into(), email: "asha.rao@example.com".into() },
            Self { id: 13_540_002, name: "Miguel Torres".into(), email: "miguel.torres@example.com".into() },
        ]
    }
}

/// Everything the Pipedrive mock can be told at start.
#[derive(Debug, Clone)]
pub struct PipedriveMockOptions {
    /// The API token accepted in `x-api-token` (or the `api_token` query parameter).
    pub api_token: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub token_lifetime_secs: u64,
    /// The scopes every OAuth token is granted (comma-separated, as Pipedrive lists them).
    pub scope: String,
    pub users: Vec<PipedriveUser>,
    /// Requests per 2-second window (Essential plan with an API token: 20).
    pub requests_per_window: usize,
    /// Search requests per 2-second window.
    pub searches_per_window: usize,
    /// The company's tokens per UTC day.
    pub daily_tokens: u64,
    pub faults: FaultPlan,
    /// How long each API call takes to answer (`None`: at once), as a real portal takes 300-500 ms.
    pub answer_delay: Option<AnswerDelay>,
    /// Persons created at start, with the phones [`crate::seed_contact_phone`] gives (the benchmark's known
    /// customers).
    pub seed_contacts: usize,
}

impl Default for PipedriveMockOptions {
    fn default() -> Self {
        Self {
            api_token: "mock-pipedrive-api-token".into(),
            client_id: "mock-pipedrive-client".into(),
            client_secret: "mock-pipedrive-secret".into(),
            refresh_token: "mock-pipedrive-refresh".into(),
            token_lifetime_secs: 3599,
            scope: "base,contacts:full,activities:full,users:read,search:read".into(),
            users: PipedriveUser::defaults(),
            requests_per_window: 20,
            searches_per_window: 10,
            daily_tokens: 30_000,
            faults: FaultPlan::default(),
            answer_delay: None,
            seed_contacts: 0,
        }
    }
}

/// The activity priority options (`activityFields`, key `priority`): id and label.
pub(crate) const PRIORITY_OPTIONS: [(u64, &str); 3] = [(261, "Low"), (262, "Medium"), (263, "High")];

#[derive(Debug, Default)]
pub(crate) struct PipedriveState {
    pub persons: BTreeMap<u64, Value>,
    pub activities: BTreeMap<u64, Value>,
    next_id: u64,
    /// OAuth access token to when it expires.
    pub tokens: HashMap<String, Instant>,
    /// OAuth access tokens the token endpoint has issued.
    pub tokens_issued: u64,
    pub window: VecDeque<Instant>,
    pub search_window: VecDeque<Instant>,
    pub day: Option<NaiveDate>,
    pub tokens_spent: u64,
    /// What the benchmark reads of the load.
    pub load: crate::load::LoadCounts,
}

impl PipedriveState {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

#[derive(Debug)]
pub(crate) struct Pipedrive {
    pub options: PipedriveMockOptions,
    state: Mutex<PipedriveState>,
}

impl Pipedrive {
    pub fn lock(&self) -> MutexGuard<'_, PipedriveState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Pipedrive's error body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "success": false,
        "error": message,
        "errorCode": status.as_u16(),
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        "data": null,
        "additional_data": null,
    });
    (status, axum::Json(body)).into_response()
}

struct PipedriveFaults;

impl FaultAnswers for PipedriveFaults {
    fn too_many_requests(&self) -> Response {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Request over limit");
        response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        response.headers_mut().insert("x-ratelimit-reset", HeaderValue::from_static("1"));
        response
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(status, "Internal server error")
    }

    fn rejected(&self) -> Response {
        error(StatusCode::BAD_REQUEST, INJECTED_REJECTION)
    }
}

/// The Pipedrive mock server.
#[derive(Debug)]
pub struct PipedriveMockServer;

impl PipedriveMockServer {
    /// Serves the mock on `listener` until the handle is dropped; requests are added to `log`.
    pub async fn start(options: PipedriveMockOptions, listener: TcpListener, log: RequestLog) -> PipedriveHandle {
        let addr = listener.local_addr().expect("a bound TCP listener has a local address");
        let faults = FaultSwitch::new(options.faults.clone(), Arc::new(PipedriveFaults));
        let answer_delay = options.answer_delay;
        let mut state = PipedriveState::default();
        api::seed_persons(&mut state, options.seed_contacts, options.users.first());
        let pipedrive = Arc::new(Pipedrive { options, state: Mutex::new(state) });
        let api = Router::new()
            .route("/v1/users", get(api::users))
            .route("/v1/activityFields", get(api::activity_fields))
            .route("/v1/persons", post(api::create_person))
            .route("/v1/persons/search", get(api::search_persons))
            .route("/v1/persons/collection", get(api::persons_collection))
            .route("/v1/activities/collection", get(api::activities_collection))
            .route("/api/v2/activities", post(api::create_activity).get(api::list_activities))
            .route("/api/v2/activities/{id}", patch(api::update_activity))
            .route_layer(from_fn(move |request, next: axum::middleware::Next| async move {
                AnswerDelay::wait(answer_delay).await;
                next.run(request).await
            }))
            .route_layer(from_fn_with_state(faults.clone(), inject))
            .route_layer(from_fn_with_state(pipedrive.clone(), gate::auth_and_limits));
        let token = Router::new()
            .route("/oauth/token", post(gate::token))
            .route_layer(from_fn_with_state(faults.clone(), inject));
        let router = api.merge(token).with_state(pipedrive.clone()).layer(from_fn_with_state(log.clone(), record));
        let shutdown = CancellationToken::new();
        tokio::spawn(crate::connection::accept_loop(listener, router, shutdown.clone()));
        PipedriveHandle { addr, pipedrive, faults, log, shutdown }
    }
}

/// A running Pipedrive mock; dropping it stops the server.
#[derive(Debug)]
pub struct PipedriveHandle {
    addr: SocketAddr,
    pipedrive: Arc<Pipedrive>,
    faults: FaultSwitch,
    log: RequestLog,
    shutdown: CancellationToken,
}

impl Drop for PipedriveHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl PipedriveHandle {
    /// The API base URL (and the OAuth server's), e.g. `http://127.0.0.1:8092`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// Pipedrive as the CRM compliance suite sees it.
    pub fn view(&self) -> PipedriveMock {
        PipedriveMock { pipedrive: self.pipedrive.clone(), faults: self.faults.clone(), log: self.log.clone() }
    }

    /// Makes every OAuth access token issued so far expire now.
    pub fn expire_tokens(&self) {
        expire_all(&self.pipedrive);
    }

    /// The load the gate saw so far.
    pub fn load(&self) -> crate::MockLoad {
        self.pipedrive.lock().load.snapshot()
    }

    /// Tokens of the day's budget spent so far.
    pub fn tokens_spent(&self) -> u64 {
        self.pipedrive.lock().tokens_spent
    }
}

fn expire_all(pipedrive: &Pipedrive) {
    let now = Instant::now();
    for expiry in pipedrive.lock().tokens.values_mut() {
        *expiry = now;
    }
}

/// A view of a running Pipedrive mock for the compliance suite; it does not keep the server running.
#[derive(Debug, Clone)]
pub struct PipedriveMock {
    pipedrive: Arc<Pipedrive>,
    faults: FaultSwitch,
    log: RequestLog,
}

/// The handoff id an activity's note carries (`[handoffd:<id>]`, HTML-escaped).
fn note_key(note: &str) -> Option<String> {
    let start = note.rfind("[handoffd:")? + "[handoffd:".len();
    let end = note[start..].find(']')? + start;
    let key = &note[start..end];
    Some(
        key.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

impl CrmMock for PipedriveMock {
    fn vendor(&self) -> &'static str {
        "Pipedrive"
    }

    fn set_faults(&self, plan: FaultPlan) {
        self.faults.set_plan(plan);
    }

    fn requests_received(&self) -> u64 {
        self.log.requests().iter().filter(|r| r.path.starts_with("/v1/") || r.path.starts_with("/api/")).count() as u64
    }

    fn owner_ids(&self) -> Vec<String> {
        self.pipedrive.options.users.iter().map(|u| u.id.to_string()).collect()
    }

    fn contacts(&self) -> Vec<MockedContact> {
        let values = |person: &Value, field: &str| -> Vec<String> {
            person[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["value"].as_str())
                .map(str::to_owned)
                .collect()
        };
        self.pipedrive
            .lock()
            .persons
            .iter()
            .map(|(id, person)| MockedContact {
                id: id.to_string(),
                phones: values(person, "phone"),
                emails: values(person, "email"),
            })
            .collect()
    }

    fn tasks(&self) -> Vec<MockedTask> {
        self.pipedrive
            .lock()
            .activities
            .iter()
            .map(|(id, activity)| {
                let due_at = (|| {
                    let date = NaiveDate::parse_from_str(activity["due_date"].as_str()?, "%Y-%m-%d").ok()?;
                    let time =
                        activity["due_time"].as_str().and_then(|t| NaiveTime::parse_from_str(t, "%H:%M:%S").ok());
                    Some(date.and_time(time.unwrap_or(NaiveTime::MIN)).and_utc())
                })();
                MockedTask {
                    id: id.to_string(),
                    external_key: activity["note"].as_str().and_then(note_key),
                    subject: activity["subject"].as_str().map(str::to_owned),
                    owner_id: activity["owner_id"].as_u64().map(|id| id.to_string()),
                    due_at,
                    priority: match activity["priority"].as_u64() {
                        Some(263) => Some(TaskPriority::High),
                        Some(262) => Some(TaskPriority::Medium),
                        Some(261) => Some(TaskPriority::Low),
                        _ => None,
                    },
                    contact_ids: activity["person_id"].as_u64().map(|id| id.to_string()).into_iter().collect(),
                    completed: activity["done"].as_bool() == Some(true),
                    created_at: activity["add_time"]
                        .as_str()
                        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                        .map(|at| at.to_utc()),
                }
            })
            .collect()
    }

    fn complete_task(&self, task_id: &str) -> bool {
        let mut state = self.pipedrive.lock();
        let Some(activity) = task_id.parse().ok().and_then(|id: u64| state.activities.get_mut(&id)) else {
            return false;
        };
        activity["done"] = json!(true);
        activity["update_time"] = json!(api::v2_time(chrono::Utc::now()));
        true
    }

    fn tokens_issued(&self) -> u64 {
        // OAuth only: an API token is never issued by the token endpoint (nor does it expire).
        self.pipedrive.lock().tokens_issued
    }

    fn expire_access_tokens(&self) {
        expire_all(&self.pipedrive);
    }

    fn exhaust_daily_budget(&self) {
        // The company's tokens for the current UTC day, all spent.
        let mut state = self.pipedrive.lock();
        state.day = Some(chrono::Utc::now().date_naive());
        state.tokens_spent = self.pipedrive.options.daily_tokens;
    }

    fn reset_daily_budget(&self) {
        // As at UTC midnight: a new day's tokens.
        self.pipedrive.lock().tokens_spent = 0;
    }
}
