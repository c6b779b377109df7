//! Zoho CRM v8 as its OpenAPI description (zoho/crm-oas v8.0) and API docs say it behaves, on a server of its
//! own: the accounts server's refresh grant (`POST /oauth/v2/token`) and the API (`/crm/v8/...`) on one address.
//!
//! - `gate`: the `Zoho-oauthtoken` check, the concurrency cap and the credits of a rolling 24 hours.
//! - `records`: insert, update, upsert (`duplicate_check_fields`), read by `ids`, and search (`criteria`,
//!   `email`, `phone`) on `Contacts` and `Tasks`; `criteria`: the criteria grammar with its escapes.
//! - `coql`: the Query API (`POST /crm/v8/coql`); `users`: `GET /crm/v8/users`; `oauth`: the token endpoint.
//!
//! Every API route passes, outermost first: the request log, the gate, faults, the answer time, the handler.

mod coql;
mod criteria;
mod gate;
mod oauth;
mod records;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use handoffd_contract::task::TaskPriority;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::AnswerDelay;
use crate::compliance::{CrmMock, MockedContact, MockedTask};
use crate::faults::{FaultPlan, INJECTED_REJECTION};
use crate::recorded::{RequestLog, record};
use crate::vendor_faults::{FaultAnswers, FaultSwitch, inject};

/// A Zoho user tasks can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZohoUser {
    pub id: String,
    pub full_name: String,
    pub email: String,
}

impl ZohoUser {
    /// Two active users, unless told otherwise.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                id: "5725767000000411001".into(),
                full_name: "Asha Rao".into(),
                email: "asha.rao@example.com".into(),
            },
            Self {
                id: "5725767000000411002".into(),
                full_name: "Miguel Torres".into(),
                email: "miguel.torres@example.com".into(),
            },
        ]
    }
}

/// Everything the Zoho mock can be told at start.
#[derive(Debug, Clone)]
pub struct ZohoMockOptions {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Lifetime of issued access tokens (Zoho: 3600 s).
    pub token_lifetime_secs: u64,
    /// The scopes every token is granted (space-separated), as the token answer lists them.
    pub scope: String,
    pub users: Vec<ZohoUser>,
    /// The unique Tasks field that upserts check for duplicates.
    pub external_key_field: String,
    /// API credits per rolling 24 hours.
    pub credits_per_day: u64,
    /// Calls in flight at once.
    pub concurrency: usize,
    pub faults: FaultPlan,
    /// How long each API call takes to answer (`None`: at once), as a real portal takes 300-500 ms.
    pub answer_delay: Option<AnswerDelay>,
    /// Contacts created at start, with the phones [`crate::seed_contact_phone`] gives (the benchmark's known
    /// customers).
    pub seed_contacts: usize,
}

impl Default for ZohoMockOptions {
    fn default() -> Self {
        Self {
            client_id: "1000.MOCKCLIENT".into(),
            client_secret: "mock-zoho-secret".into(),
            refresh_token: "1000.mock-zoho-refresh".into(),
            token_lifetime_secs: 3600,
            scope: "ZohoCRM.modules.ALL ZohoCRM.coql.READ ZohoCRM.users.READ".into(),
            users: ZohoUser::defaults(),
            external_key_field: "Handoffd_Handoff_Id".into(),
            credits_per_day: 50_000,
            concurrency: 10,
            faults: FaultPlan::default(),
            answer_delay: None,
            seed_contacts: 0,
        }
    }
}

/// A record as Zoho holds it: field API names to values.
pub(crate) type Record = Map<String, Value>;

#[derive(Debug, Default)]
pub(crate) struct ZohoState {
    /// Module (`Contacts`, `Tasks`) to records by id, in creation order.
    pub modules: HashMap<String, BTreeMap<u64, Record>>,
    next_id: u64,
    /// Access token to when it expires.
    pub tokens: HashMap<String, Instant>,
    /// Access tokens the token endpoint has issued.
    pub tokens_issued: u64,
    pub in_flight: usize,
    /// When each credit of the last 24 hours was spent.
    pub credits: std::collections::VecDeque<Instant>,
    /// What the benchmark reads of the load.
    pub load: crate::load::LoadCounts,
    /// Tasks by their external key (unique), kept by every write.
    pub task_keys: HashMap<String, u64>,
}

impl ZohoState {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        5_725_767_000_001_000_000 + self.next_id
    }

    /// `count` Contacts with seeded phones, modified a second apart so the change feed has an order.
    fn seed_contacts(&mut self, count: usize, owner: Option<&ZohoUser>) {
        let now = Utc::now();
        for index in 0..count {
            let id = self.next_id();
            let at = zoho_time(now - chrono::Duration::seconds((count - index) as i64));
            let owner = owner.map(|u| json!({"name": u.full_name, "id": u.id})).unwrap_or(Value::Null);
            let record = json!({
                "id": id.to_string(),
                "Last_Name": format!("Known {}", index + 1),
                "Phone": crate::seed_contact_phone(index),
                "Owner": owner,
                "Created_Time": at,
                "Modified_Time": at,
            });
            if let Value::Object(record) = record {
                self.modules.entry("Contacts".to_owned()).or_default().insert(id, record);
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Zoho {
    pub options: ZohoMockOptions,
    state: Mutex<ZohoState>,
}

impl Zoho {
    pub fn lock(&self) -> MutexGuard<'_, ZohoState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Zoho's whole-call error body.
pub(crate) fn error(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    (status, axum::Json(json!({"code": code, "details": details, "message": message, "status": "error"})))
        .into_response()
}

struct ZohoFaults;

impl FaultAnswers for ZohoFaults {
    fn too_many_requests(&self) -> Response {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "too many requests", json!({}));
        response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        response
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(status, "INTERNAL_ERROR", "Internal Server Error", json!({}))
    }

    fn rejected(&self) -> Response {
        error(StatusCode::BAD_REQUEST, "INVALID_DATA", INJECTED_REJECTION, json!({}))
    }
}

/// The Zoho mock server.
#[derive(Debug)]
pub struct ZohoMockServer;

impl ZohoMockServer {
    /// Serves the mock on `listener` until the handle is dropped; requests are added to `log`.
    pub async fn start(options: ZohoMockOptions, listener: TcpListener, log: RequestLog) -> ZohoHandle {
        let addr = listener.local_addr().expect("a bound TCP listener has a local address");
        let faults = FaultSwitch::new(options.faults.clone(), Arc::new(ZohoFaults));
        let answer_delay = options.answer_delay;
        let mut state = ZohoState::default();
        state.seed_contacts(options.seed_contacts, options.users.first());
        let zoho = Arc::new(Zoho { options, state: Mutex::new(state) });
        let api = Router::new()
            .route("/crm/v8/users", get(records::users))
            .route("/crm/v8/coql", post(coql::query))
            .route("/crm/v8/{module}", get(records::read).post(records::insert).put(records::update))
            .route("/crm/v8/{module}/upsert", post(records::upsert))
            .route("/crm/v8/{module}/search", get(records::search))
            .route_layer(from_fn(move |request, next: axum::middleware::Next| async move {
                AnswerDelay::wait(answer_delay).await;
                next.run(request).await
            }))
            .route_layer(from_fn_with_state(faults.clone(), inject))
            .route_layer(from_fn_with_state(zoho.clone(), gate::auth_and_limits));
        let token = Router::new()
            .route("/oauth/v2/token", post(oauth::token))
            .route_layer(from_fn_with_state(faults.clone(), inject));
        let router = api.merge(token).with_state(zoho.clone()).layer(from_fn_with_state(log.clone(), record));
        let shutdown = CancellationToken::new();
        tokio::spawn(crate::connection::accept_loop(listener, router, shutdown.clone()));
        ZohoHandle { addr, zoho, faults, log, shutdown }
    }
}

/// A running Zoho mock; dropping it stops the server.
#[derive(Debug)]
pub struct ZohoHandle {
    addr: SocketAddr,
    zoho: Arc<Zoho>,
    faults: FaultSwitch,
    log: RequestLog,
    shutdown: CancellationToken,
}

impl Drop for ZohoHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl std::fmt::Debug for FaultSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultSwitch")
    }
}

impl ZohoHandle {
    /// The API and accounts base URL, e.g. `http://127.0.0.1:8091`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// Zoho as the CRM compliance suite sees it.
    pub fn view(&self) -> ZohoMock {
        ZohoMock { zoho: self.zoho.clone(), faults: self.faults.clone(), log: self.log.clone(), start: self.log.len() }
    }

    /// Makes every access token issued so far expire now, as an hour's wait would.
    pub fn expire_tokens(&self) {
        expire_all(&self.zoho);
    }

    /// The load the gate saw so far.
    pub fn load(&self) -> crate::MockLoad {
        self.zoho.lock().load.snapshot()
    }
}

fn expire_all(zoho: &Zoho) {
    let now = Instant::now();
    for expiry in zoho.lock().tokens.values_mut() {
        *expiry = now;
    }
}

/// A view of a running Zoho mock for the compliance suite; it does not keep the server running.
#[derive(Debug, Clone)]
pub struct ZohoMock {
    zoho: Arc<Zoho>,
    faults: FaultSwitch,
    log: RequestLog,
    start: usize,
}

impl CrmMock for ZohoMock {
    fn vendor(&self) -> &'static str {
        "Zoho CRM"
    }

    fn set_faults(&self, plan: FaultPlan) {
        self.faults.set_plan(plan);
    }

    fn requests_received(&self) -> u64 {
        // API calls only: a token refresh is not a CRM call.
        let api = self.log.requests().into_iter().skip(self.start).filter(|r| r.path.starts_with("/crm/")).count();
        api as u64
    }

    fn owner_ids(&self) -> Vec<String> {
        self.zoho.options.users.iter().map(|u| u.id.clone()).collect()
    }

    fn contacts(&self) -> Vec<MockedContact> {
        let state = self.zoho.lock();
        let Some(contacts) = state.modules.get("Contacts") else { return Vec::new() };
        contacts
            .iter()
            .map(|(id, record)| MockedContact {
                id: id.to_string(),
                phones: ["Phone", "Mobile"].iter().filter_map(|f| text(record, f)).collect(),
                emails: text(record, "Email").into_iter().collect(),
            })
            .collect()
    }

    fn tasks(&self) -> Vec<MockedTask> {
        let key_field = self.zoho.options.external_key_field.as_str();
        let state = self.zoho.lock();
        let Some(tasks) = state.modules.get("Tasks") else { return Vec::new() };
        tasks
            .iter()
            .map(|(id, record)| MockedTask {
                id: id.to_string(),
                external_key: text(record, key_field),
                subject: text(record, "Subject"),
                owner_id: record.get("Owner").and_then(|o| o.get("id")).and_then(Value::as_str).map(str::to_owned),
                due_at: record
                    .get("Remind_At")
                    .and_then(|r| r.get("ALARM"))
                    .and_then(Value::as_str)
                    .and_then(alarm_time),
                priority: match text(record, "Priority").as_deref() {
                    Some("Highest" | "High") => Some(TaskPriority::High),
                    Some("Normal") => Some(TaskPriority::Medium),
                    Some("Low" | "Lowest") => Some(TaskPriority::Low),
                    _ => None,
                },
                contact_ids: record
                    .get("Who_Id")
                    .and_then(|w| w.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
                completed: text(record, "Status").as_deref() == Some("Completed"),
                created_at: text(record, "Created_Time")
                    .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                    .map(|at| at.to_utc()),
            })
            .collect()
    }

    fn complete_task(&self, task_id: &str) -> bool {
        let mut state = self.zoho.lock();
        let Some(task) = task_id.parse().ok().and_then(|id: u64| state.modules.get_mut("Tasks")?.get_mut(&id)) else {
            return false;
        };
        task.insert("Status".into(), json!("Completed"));
        task.insert("Modified_Time".into(), json!(zoho_time(Utc::now())));
        true
    }

    fn tokens_issued(&self) -> u64 {
        self.zoho.lock().tokens_issued
    }

    fn expire_access_tokens(&self) {
        expire_all(&self.zoho);
    }

    fn exhaust_daily_budget(&self) {
        // Zoho counts credits over a rolling 24 hours: the whole allowance spent just now.
        let now = Instant::now();
        let mut state = self.zoho.lock();
        let spent = state.credits.len() as u64;
        let left = self.zoho.options.credits_per_day.saturating_sub(spent);
        state.credits.extend(std::iter::repeat_n(now, usize::try_from(left).unwrap_or(usize::MAX)));
    }

    fn reset_daily_budget(&self) {
        // 24 hours on, every credit spent has rolled out of the window.
        self.zoho.lock().credits.clear();
    }
}

pub(crate) fn text(record: &Record, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The time of a reminder (`...;TRIGGER=DATE-TIME:2026-03-07T14:30:00+00:00`).
pub(crate) fn alarm_time(alarm: &str) -> Option<DateTime<Utc>> {
    let at = alarm.split(';').find_map(|part| part.strip_prefix("TRIGGER=DATE-TIME:"))?;
    DateTime::parse_from_rfc3339(at).ok().map(|at| at.to_utc())
}

/// Zoho's time format: seconds and an offset (`2026-03-07T14:30:00+00:00`).
pub(crate) fn zoho_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
