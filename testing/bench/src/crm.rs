//! The CRM a run delivers to (`--crm`): its mock, started in process with the vendor's own limits, the connector
//! block of the daemon's configuration, and what the bench reads back (calls, tasks, contacts, the load on the
//! vendor's limits) in the same terms whatever the vendor.
//!
//! The limits each mock enforces, from the vendors' documentation:
//! - HubSpot (private app, Professional): 190 calls per rolling 10 s, 650,000 a day, search 4 a second.
//! - Salesforce (Enterprise org): 100,000 calls per rolling 24 hours (`Sforce-Limit-Info` on every answer), 25
//!   long-running requests (20 s or more) in flight; no per-second limit.
//! - Zoho CRM (v8): 50,000 credits per rolling 24 hours (one a call), 10 calls in flight (the Standard edition's
//!   concurrency cap; Professional 15, Enterprise 20, Ultimate 25).
//! - Pipedrive (Essential/Lite, an API token): 20 calls per 2-second window, searches 10 per 2 s apart, and the
//!   company's daily budget of 30,000 tokens per seat (a search 40, a write 10, a list 20), `x-ratelimit-*` on
//!   every answer. `--pipedrive-seats` sizes the budget.

use std::collections::{BTreeMap, HashMap};

use chrono::SecondsFormat;
use handoffd_mocks::compliance::{CrmMock, MockedContact, MockedTask};
use handoffd_mocks::pipedrive::{PipedriveHandle, PipedriveMockOptions, PipedriveMockServer};
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::zoho::{ZohoHandle, ZohoMockOptions, ZohoMockServer};
use handoffd_mocks::{
    AnswerDelay, FaultPlan, MockAssociation, MockContactView, MockCrm, MockHandle, MockLoad, MockOptions, MockReport,
    MockTaskView,
};

/// The CRM vendor a run delivers to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CrmVendor {
    #[default]
    Hubspot,
    Salesforce,
    Zoho,
    Pipedrive,
}

/// Zoho's calls in flight in the bench (the Standard edition's cap): the mock's and the connector's.
const ZOHO_CONCURRENCY: usize = 10;
const ZOHO_CREDITS_PER_DAY: u64 = 50_000;
/// Pipedrive Essential/Lite with an API token.
const PIPEDRIVE_REQUESTS_PER_2S: usize = 20;
const PIPEDRIVE_SEARCHES_PER_2S: usize = 10;
const PIPEDRIVE_TOKENS_PER_SEAT: u64 = 30_000;

/// How long a call may take before its answer counts as lost: the connectors' own default. The mocks run in the
/// bench's process and hold one lock per vendor, so a debug build on a busy machine answers a batch write in
/// seconds at times; a shorter timeout would turn those into lost answers, lookups and updates that a portal
/// answering in 300-500 ms would not cause.
const CALL_TIMEOUT: &str = "30s";

/// What the bench's mock of the CRM is told, besides the vendor.
#[derive(Debug, Clone)]
pub struct CrmSetup {
    pub faults: FaultPlan,
    /// Contacts the CRM holds at start (the known customers).
    pub known_customers: usize,
    pub answer_delay: Option<AnswerDelay>,
    /// Pipedrive: seats of the company (its daily budget is 30,000 tokens per seat on the Lite plan).
    pub pipedrive_seats: u64,
}

/// The share of a CRM's limit a backlog used: against what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Calls per second (every call counts, searches too), and searches per second on their own limit.
    Rate { per_second: f64, searches_per_second: f64 },
    /// Calls in flight at once (Zoho's concurrency cap): the average number in flight over the cap.
    InFlight { cap: f64 },
    /// No short-term limit binds (Salesforce's is a day's allocation): the share is not reported.
    None,
}

/// The mock CRM of a run, and the daemon's view of it.
pub struct CrmUnderTest {
    pub vendor: CrmVendor,
    /// Always started: it serves HubSpot and Salesforce (and the Graph API).
    pub hub: MockHandle,
    zoho: Option<ZohoHandle>,
    pipedrive: Option<PipedriveHandle>,
    known_customers: usize,
    pipedrive_seats: u64,
}

async fn listener() -> anyhow::Result<tokio::net::TcpListener> {
    Ok(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
}

impl CrmUnderTest {
    pub async fn start(vendor: CrmVendor, setup: &CrmSetup) -> anyhow::Result<Self> {
        let hubspot_faults = if vendor == CrmVendor::Hubspot { setup.faults.clone() } else { FaultPlan::default() };
        let mut options = MockOptions {
            faults: if vendor == CrmVendor::Salesforce { setup.faults.clone() } else { hubspot_faults },
            seed_contacts: if vendor == CrmVendor::Hubspot { setup.known_customers } else { 0 },
            answer_delay: setup.answer_delay,
            ..MockOptions::default()
        };
        if vendor == CrmVendor::Salesforce {
            options.salesforce.seed_contacts = setup.known_customers;
        }
        let hub = MockCrm::start(options, listener().await?).await;
        let zoho = match vendor {
            CrmVendor::Zoho => Some(
                ZohoMockServer::start(
                    ZohoMockOptions {
                        credits_per_day: ZOHO_CREDITS_PER_DAY,
                        concurrency: ZOHO_CONCURRENCY,
                        faults: setup.faults.clone(),
                        answer_delay: setup.answer_delay,
                        seed_contacts: setup.known_customers,
                        ..ZohoMockOptions::default()
                    },
                    listener().await?,
                    RequestLog::default(),
                )
                .await,
            ),
            _ => None,
        };
        let pipedrive = match vendor {
            CrmVendor::Pipedrive => Some(
                PipedriveMockServer::start(
                    PipedriveMockOptions {
                        requests_per_window: PIPEDRIVE_REQUESTS_PER_2S,
                        searches_per_window: PIPEDRIVE_SEARCHES_PER_2S,
                        daily_tokens: PIPEDRIVE_TOKENS_PER_SEAT * setup.pipedrive_seats.max(1),
                        faults: setup.faults.clone(),
                        answer_delay: setup.answer_delay,
                        seed_contacts: setup.known_customers,
                        ..PipedriveMockOptions::default()
                    },
                    listener().await?,
                    RequestLog::default(),
                )
                .await,
            ),
            _ => None,
        };
        let pipedrive_seats = setup.pipedrive_seats.max(1);
        Ok(Self { vendor, hub, zoho, pipedrive, known_customers: setup.known_customers, pipedrive_seats })
    }

    /// The connector id the daemon's configuration gives the CRM.
    pub fn connector_id(&self) -> &'static str {
        match self.vendor {
            CrmVendor::Hubspot => "hubspot-main",
            CrmVendor::Salesforce => "salesforce-main",
            CrmVendor::Zoho => "zoho-main",
            CrmVendor::Pipedrive => "pipedrive-main",
        }
    }

    /// What the daemon's configuration says of the CRM: the owners routing assigns, and the connector.
    pub fn daemon_crm(&self) -> DaemonCrm {
        let owners: Vec<String> = match self.vendor {
            CrmVendor::Hubspot => vec!["75480001".into(), "75480002".into()],
            _ => self.view().owner_ids().into_iter().take(2).collect(),
        };
        let connector = match self.vendor {
            CrmVendor::Hubspot => format!(
                "  - id: hubspot-main\n    kind: hubspot\n    base_url: {}\n    access_token: {}\n    request_timeout: 2s\n    \
                 contact_marker: handoffd-bench\n",
                self.hub.base_url(),
                handoffd_mocks::DEFAULT_ACCESS_TOKEN
            ),
            CrmVendor::Salesforce => {
                let org = handoffd_mocks::salesforce::SalesforceOptions::default();
                format!(
                    "  - id: salesforce-main\n    kind: salesforce\n    base_url: {}\n    client_id: {}\n    \
                     client_secret: {}\n    refresh_token: {}\n    request_timeout: {CALL_TIMEOUT}\n",
                    self.hub.salesforce_login_url(),
                    org.client_id,
                    org.client_secret.0,
                    org.refresh_token.0
                )
            }
            CrmVendor::Zoho => {
                let zoho = ZohoMockOptions::default();
                let url = self.zoho.as_ref().map(ZohoHandle::base_url).unwrap_or_default();
                format!(
                    "  - id: zoho-main\n    kind: zoho\n    base_url: {url}\n    accounts_url: {url}\n    client_id: {}\n    \
                     client_secret: {}\n    refresh_token: {}\n    request_timeout: {CALL_TIMEOUT}\n    \
                     limits: {{credits_per_day: {ZOHO_CREDITS_PER_DAY}, concurrency: {ZOHO_CONCURRENCY}}}\n",
                    zoho.client_id, zoho.client_secret, zoho.refresh_token
                )
            }
            CrmVendor::Pipedrive => {
                let url = self.pipedrive.as_ref().map(PipedriveHandle::base_url).unwrap_or_default();
                let daily = self.pipedrive_daily_tokens();
                format!(
                    "  - id: pipedrive-main\n    kind: pipedrive\n    base_url: {url}\n    api_token: {}\n    \
                     request_timeout: {CALL_TIMEOUT}\n    limits: {{requests: {PIPEDRIVE_REQUESTS_PER_2S}, search_requests: \
                     {PIPEDRIVE_SEARCHES_PER_2S}, daily_tokens: {daily}}}\n",
                    PipedriveMockOptions::default().api_token
                )
            }
        };
        DaemonCrm { id: self.connector_id().to_owned(), owners, connector, vendor: self.vendor }
    }

    fn pipedrive_daily_tokens(&self) -> u64 {
        PIPEDRIVE_TOKENS_PER_SEAT * self.pipedrive_seats
    }

    /// The vendor's mock as the compliance suite sees it.
    fn view(&self) -> Box<dyn CrmMock> {
        match self.vendor {
            CrmVendor::Hubspot => Box::new(self.hub.hubspot()),
            CrmVendor::Salesforce => Box::new(self.hub.salesforce()),
            CrmVendor::Zoho => Box::new(self.zoho.as_ref().expect("started with --crm zoho").view()),
            CrmVendor::Pipedrive => Box::new(self.pipedrive.as_ref().expect("started with --crm pipedrive").view()),
        }
    }

    /// The load on the vendor's limits so far (HubSpot: from its report; the others from their gates).
    pub fn load(&self) -> MockLoad {
        match self.vendor {
            CrmVendor::Hubspot => {
                let report = self.hub.report();
                let routes = report.requests_per_endpoint.iter();
                MockLoad {
                    calls: report.requests_per_endpoint.values().sum(),
                    searches: routes.filter(|(route, _)| route.ends_with("/search")).map(|(_, n)| n).sum(),
                    refused_for_limits: report.responses_429 - report.faults_injected.status_429,
                    max_in_window: report.max_requests_in_10s_window,
                    ..MockLoad::default()
                }
            }
            CrmVendor::Salesforce => self.hub.salesforce_load(),
            CrmVendor::Zoho => self.zoho.as_ref().map(ZohoHandle::load).unwrap_or_default(),
            CrmVendor::Pipedrive => self.pipedrive.as_ref().map(PipedriveHandle::load).unwrap_or_default(),
        }
    }

    /// Calls the vendor's API received so far (the token endpoint's apart, except HubSpot's, as before).
    pub fn requests(&self) -> u64 {
        self.load().calls
    }

    /// What 100% of the allowed rate is while a backlog drains.
    pub fn allowance(&self) -> Allowance {
        match self.vendor {
            CrmVendor::Hubspot => {
                let limits = MockOptions::default().limits;
                Allowance::Rate {
                    per_second: f64::from(limits.ten_second_max) / 10.0,
                    searches_per_second: f64::from(limits.search_per_second),
                }
            }
            CrmVendor::Pipedrive => Allowance::Rate {
                per_second: PIPEDRIVE_REQUESTS_PER_2S as f64 / 2.0,
                searches_per_second: PIPEDRIVE_SEARCHES_PER_2S as f64 / 2.0,
            },
            CrmVendor::Zoho => Allowance::InFlight { cap: ZOHO_CONCURRENCY as f64 },
            CrmVendor::Salesforce => Allowance::None,
        }
    }

    /// A report in HubSpot's mock's terms, whatever the vendor, so the one table serves them all.
    pub fn report(&self) -> MockReport {
        if self.vendor == CrmVendor::Hubspot {
            return self.hub.report();
        }
        let load = self.load();
        let view = self.view();
        let contacts = view.contacts();
        let mut phones: HashMap<&str, u64> = HashMap::new();
        for phone in contacts.iter().flat_map(|c| c.phones.iter()) {
            *phones.entry(phone.as_str()).or_default() += 1;
        }
        let mut report = MockReport {
            tasks_created: view.tasks().len() as u64,
            contacts_created: (contacts.len() - self.known_customers.min(contacts.len())) as u64,
            duplicate_contacts: phones.values().map(|n| n - 1).sum(),
            responses_429: load.refused_for_limits,
            max_requests_in_10s_window: load.max_in_window,
            ..MockReport::default()
        };
        report.requests_per_endpoint = match self.vendor {
            CrmVendor::Salesforce => {
                let all = self.hub.report().requests_per_endpoint;
                all.into_iter().filter(|(route, _)| route.contains("/salesforce/")).collect()
            }
            CrmVendor::Zoho => routes(self.zoho.as_ref().map(|z| z.log().clone())),
            CrmVendor::Pipedrive => routes(self.pipedrive.as_ref().map(|p| p.log().clone())),
            CrmVendor::Hubspot => BTreeMap::new(),
        };
        report.faults_injected = self.hub.report().faults_injected;
        report
    }

    /// Every task, in HubSpot's mock's terms (the handoff id as `handoffd_handoff_id`).
    pub fn tasks(&self) -> Vec<MockTaskView> {
        if self.vendor == CrmVendor::Hubspot {
            return self.hub.tasks();
        }
        self.view().tasks().into_iter().map(task_view).collect()
    }

    /// Every contact, in HubSpot's mock's terms (the first phone as `phone`).
    pub fn contacts(&self) -> Vec<MockContactView> {
        if self.vendor == CrmVendor::Hubspot {
            return self.hub.contacts();
        }
        self.view().contacts().into_iter().map(contact_view).collect()
    }

    pub async fn shutdown(self) {
        // The vendors on servers of their own stop when dropped.
        drop(self.zoho);
        drop(self.pipedrive);
        self.hub.shutdown().await;
    }
}

/// Requests per `METHOD path` from a vendor's request log (token requests included: they are calls too).
fn routes(log: Option<RequestLog>) -> BTreeMap<String, u64> {
    let mut routes = BTreeMap::new();
    for request in log.map(|l| l.requests()).unwrap_or_default() {
        *routes.entry(format!("{} {}", request.method, request.path)).or_default() += 1;
    }
    routes
}

fn task_view(task: MockedTask) -> MockTaskView {
    let created = task.created_at.unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true);
    MockTaskView {
        id: task.id,
        properties: task.external_key.map(|key| ("handoffd_handoff_id".to_owned(), key)).into_iter().collect(),
        associations: task
            .contact_ids
            .into_iter()
            .map(|to_id| MockAssociation { to_id, association_category: String::new(), association_type_id: 0 })
            .collect(),
        created_at: created.clone(),
        updated_at: created,
    }
}

fn contact_view(contact: MockedContact) -> MockContactView {
    MockContactView {
        id: contact.id,
        properties: contact.phones.into_iter().take(1).map(|phone| ("phone".to_owned(), phone)).collect(),
    }
}

/// The CRM in the daemon's configuration.
#[derive(Debug, Clone)]
pub struct DaemonCrm {
    pub vendor: CrmVendor,
    /// `delivery.crm` and the connector's id.
    pub id: String,
    /// `routing.owners`' ids.
    pub owners: Vec<String>,
    /// The connector's block under `connectors:`, indented.
    pub connector: String,
}

impl DaemonCrm {
    /// The limits that can hold delivery back while the backlog piles up, where the vendor's limiter waits rather
    /// than refuses (HubSpot: one call an hour); `None` where delivery can only be held by pausing the CRM through
    /// the admin API.
    pub fn holding_limits(&self) -> Option<&'static str> {
        (self.vendor == CrmVendor::Hubspot).then_some("    limits: {requests: 1, window: 3600s}\n")
    }
}
