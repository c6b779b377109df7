//! Mock vendor servers for handoffd's tests, `handoffd demo` and `handoffd-bench`, plus the CRM compliance suite
//! every CRM connector runs against its mock.
//!
//! One server speaks HubSpot's CRM v3 endpoints (under `/hubspot`) the way the connector uses them, enforces
//! HubSpot's limits the way HubSpot does (rolling ten-second window, daily budget, search per second), and serves
//! the WhatsApp Cloud API's Graph send route (under `/graph`). Faults are injected on demand, deterministically from
//! a seed, including the one that matters most for idempotency: a write that is applied but whose answer never
//! arrives. This crate knows nothing of the daemon: it speaks vendors' wire formats, and the compliance suite talks
//! to connectors through `handoffd-contract` only.
//!
//! Layout, one module per vendor and the machinery they share:
//! - [`hubspot`]: HubSpot's endpoints (one file per endpoint family), its auth/limits gate, its rate limits.
//! - [`salesforce`]: Salesforce's token endpoint, SOQL, sObject Collections, the org's API allocation (under
//!   `/salesforce`).
//! - `whatsapp_cloud`: the Graph API send route.
//! - [`twilio`], [`exotel`]: the voice vendors' call-record APIs the pollers read, each a server of its own
//!   (`TwilioCallsMock`, `ExotelCallsMock`), started per test.
//! - [`vapi`], [`retell`]: the voice vendors' list-calls APIs (servers of their own, `voice`:
//!   what they share), which the voice pollers read.
//! - [`compliance`]: the CRM compliance suite, and [`compliance::CrmMock`], what a vendor mock shows it.
//! - `state`: what the mock holds (contacts, tasks, owners, tokens, counters) behind one mutex.
//! - [`faults`]: the fault plan and its seeded dice; `middleware`: request counting, the answer delay
//!   ([`AnswerDelay`]) and fault injection.
//! - `connection`: the accept loop, which can drop a connection without an answer.
//! - [`report`]: counters for the report, `/_mock/*` routes.
//! - [`zoho`], [`pipedrive`]: vendors on servers of their own, with their own limits and error shapes;
//!   `vendor_faults`: the fault dice in their words; [`recorded`]: the requests they received, for `spec`
//!   (feature `spec`), which checks them against the vendor's OpenAPI description.
//! - [`cli`]: the `handoffd-mocks` command line (also `handoffd mock-crm`).

mod answer_delay;
mod basic_auth;
pub mod cli;
pub mod compliance;
mod connection;
pub mod exotel;
pub mod faults;
pub mod hubspot;
mod load;
mod middleware;
pub mod pipedrive;
pub mod recorded;
pub mod report;
pub mod retell;
pub mod salesforce;
#[cfg(feature = "spec")]
pub mod spec;
mod state;
pub mod twilio;
pub mod vapi;
mod vendor_faults;
mod voice;
mod whatsapp_cloud;
pub mod zoho;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use answer_delay::{AnswerDelay, AnswerDelayError};
pub use faults::{FaultPlan, FaultPlanError};
pub use load::MockLoad;
pub use report::{
    FaultCounts, GraphMessage, MockAssociation, MockContactView, MockReport, MockTaskView, RateLimitedCounts,
};
pub use state::{MockOwner, seed_contact_phone};
pub use voice::VoiceMock;

use state::Shared;

/// The private-app token the mock accepts unless told otherwise.
pub const DEFAULT_ACCESS_TOKEN: &str = "mock-hubspot-token";

/// A string the mock treats as a secret: never shown in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct MockSecret(pub String);

impl fmt::Debug for MockSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockSecret(***)")
    }
}

impl From<&str> for MockSecret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The OAuth app the token endpoint accepts (refresh_token grant only).
#[derive(Debug, Clone)]
pub struct MockOAuthApp {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: MockSecret,
    /// The one refresh token the app holds (HubSpot's do not rotate).
    pub refresh_token: MockSecret,
    /// Lifetime of issued access tokens, in seconds (HubSpot: 1800). Short values exercise proactive refresh.
    pub expires_in_secs: u64,
    /// Each refresh answers with a new refresh token and refuses the one it was given from then on (as
    /// vendors that rotate refresh tokens do), to test that clients sharing tokens never spend one twice.
    pub rotate_refresh_tokens: bool,
}

impl Default for MockOAuthApp {
    fn default() -> Self {
        Self {
            client_id: "mock-client-id".to_owned(),
            client_secret: "mock-client-secret".into(),
            refresh_token: "mock-refresh-token".into(),
            expires_in_secs: 1800,
            rotate_refresh_tokens: false,
        }
    }
}

/// How a batch create or update answers inputs that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchErrorMode {
    /// The valid inputs are written; the answer is 207 with one error per invalid input.
    #[default]
    PerInput,
    /// One invalid input fails the whole batch with 400 and nothing is written.
    WholeBatch,
}

/// HubSpot's published limits for a private app (Professional), as the mock enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockLimits {
    /// Requests per rolling ten seconds per account (HubSpot: 190).
    pub ten_second_max: u32,
    /// Requests per UTC day per account (HubSpot Professional: 650,000).
    pub daily_max: u64,
    /// Search requests per rolling second per account (HubSpot: 4, historically).
    pub search_per_second: u32,
}

impl Default for MockLimits {
    fn default() -> Self {
        Self { ten_second_max: 190, daily_max: 650_000, search_per_second: 4 }
    }
}

/// Everything the mock can be told at start.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Private-app access tokens accepted as `Authorization: Bearer`.
    pub access_tokens: Vec<MockSecret>,
    /// The OAuth app behind `/hubspot/oauth/v1/token`.
    pub oauth: MockOAuthApp,
    /// The owners `GET /crm/v3/owners` lists; tasks must name one of them.
    pub owners: Vec<MockOwner>,
    /// Contacts created at start, with predictable phones (see [`seed_contact_phone`]).
    pub seed_contacts: usize,
    /// Rate limits per account.
    pub limits: MockLimits,
    /// How batch writes answer invalid inputs.
    pub batch_errors: BatchErrorMode,
    /// Whether the custom task property `handoffd_handoff_id` exists at start (HubSpot: it must be created).
    pub handoff_property_exists: bool,
    /// Faults injected from the first request on.
    pub faults: FaultPlan,
    /// Seed of the order in which batch results are shuffled.
    pub seed: u64,
    /// How long every vendor request waits before it is handled (`None`: it is handled at once). A real portal
    /// answers in 300-500 ms; benchmarks set this to see what the answer time costs.
    pub answer_delay: Option<AnswerDelay>,
    /// The Salesforce org served under `/salesforce`.
    pub salesforce: salesforce::SalesforceOptions,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            access_tokens: vec![DEFAULT_ACCESS_TOKEN.into()],
            oauth: MockOAuthApp::default(),
            owners: MockOwner::defaults(),
            seed_contacts: 0,
            limits: MockLimits::default(),
            batch_errors: BatchErrorMode::default(),
            handoff_property_exists: false,
            faults: FaultPlan::default(),
            seed: 0,
            answer_delay: None,
            salesforce: salesforce::SalesforceOptions::default(),
        }
    }
}

/// The mock CRM server.
#[derive(Debug)]
pub struct MockCrm;

impl MockCrm {
    /// Serves the mock on `listener` until the handle is shut down (or dropped).
    pub async fn start(options: MockOptions, listener: TcpListener) -> MockHandle {
        // A bound listener always knows its address; failing here would mean the OS lost the socket.
        let addr = listener.local_addr().expect("a bound TCP listener has a local address");
        let shared = Arc::new(Shared::new(options));
        let shutdown = CancellationToken::new();
        let router = router(shared.clone());
        let accept_loop = tokio::spawn(connection::accept_loop(listener, router, shutdown.clone()));
        MockHandle { addr, shared, shutdown, accept_loop: Some(accept_loop) }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/hubspot", hubspot::routes(shared.clone()))
        .nest("/salesforce", salesforce::routes(shared.clone()))
        .merge(whatsapp_cloud::routes(shared.clone()))
        .merge(report::routes())
        .with_state(shared)
}

/// A running mock: its address, its report, its faults, its shutdown.
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    accept_loop: Option<JoinHandle<()>>,
}

impl MockHandle {
    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// HubSpot's base URL on the mock, e.g. `http://127.0.0.1:8090/hubspot`.
    pub fn base_url(&self) -> String {
        format!("http://{}/hubspot", self.addr)
    }

    /// Salesforce's login host on the mock (a connector's `base_url`), e.g. `http://127.0.0.1:8090/salesforce/login`;
    /// its token answers name `http://127.0.0.1:8090/salesforce` as the instance URL.
    pub fn salesforce_login_url(&self) -> String {
        format!("http://{}/salesforce/login", self.addr)
    }

    /// The Graph API base URL on the mock, e.g. `http://127.0.0.1:8090/graph`.
    pub fn graph_base_url(&self) -> String {
        format!("http://{}/graph", self.addr)
    }

    /// What the mock has seen so far.
    pub fn report(&self) -> MockReport {
        self.shared.lock().report()
    }

    /// Every task, with its properties and associations, in creation order.
    pub fn tasks(&self) -> Vec<MockTaskView> {
        self.shared.lock().task_views()
    }

    /// Every message the Graph API send route accepted, in order.
    pub fn whatsapp_messages(&self) -> Vec<GraphMessage> {
        self.shared.lock().graph_messages.clone()
    }

    /// Every contact, with its properties, in id order.
    pub fn contacts(&self) -> Vec<MockContactView> {
        self.shared.lock().contact_views()
    }

    /// HubSpot as the CRM compliance suite sees it (a view: it does not keep the server running).
    pub fn hubspot(&self) -> hubspot::HubspotMock {
        hubspot::HubspotMock { shared: self.shared.clone() }
    }

    /// The load Salesforce's gate saw (its API routes; the token endpoint apart).
    pub fn salesforce_load(&self) -> MockLoad {
        self.shared.lock().salesforce.load.snapshot()
    }

    /// Salesforce as the CRM compliance suite sees it (a view: it does not keep the server running).
    pub fn salesforce(&self) -> salesforce::SalesforceMock {
        salesforce::SalesforceMock { shared: self.shared.clone() }
    }

    /// Replaces the fault plan; the dice are reseeded from the plan's seed.
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        plan.validate()?;
        self.shared.lock().faults.set_plan(plan);
        Ok(())
    }

    /// Stops accepting, drops every open connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(accept_loop) = self.accept_loop.take() {
            // The loop only ends by cancellation; a panic in it has nothing left to clean up.
            let _ = accept_loop.await;
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
