//! Start a daemon against a mock CRM, send signed webhooks, wait for outcomes.

use std::path::PathBuf;
use std::time::Duration;

use handoffd::config::Loaded;
use handoffd::daemon::RunningDaemon;
use handoffd_mocks::{MockCrm, MockHandle, MockOptions};
use serde_json::json;

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const OWNER_A: &str = "75480001";
pub const OWNER_B: &str = "75480002";

pub struct Harness {
    pub state_dir: tempfile::TempDir,
    /// `store.url`: a SQLite file in `state_dir`, or a scratch PostgreSQL schema (see `super::BACKEND`).
    pub store_url: String,
    /// The scratch schema, dropped with the harness.
    _schema: Option<crate::pg_scratch::Schema>,
    pub crm_base_url: String,
    pub extra_hubspot: String,
    pub owners: Vec<&'static str>,
    pub quiet_period: &'static str,
    /// `delivery.linger`: `0s` unless a test is about sharing calls, so timings stay those of the quiet period.
    pub linger: &'static str,
    /// Where the WhatsApp connector's Graph API lives (the send proxy forwards there).
    pub graph_base_url: String,
}

/// Which store the daemons of a test module use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A schema of its own per harness on `HANDOFFD_TEST_POSTGRES_URL`. (Each copy of this file has its own
    /// `Backend`: this copy's `Postgres` may go unused.)
    #[allow(dead_code)]
    Postgres,
}

impl Harness {
    /// A harness on this module's backend (`super::BACKEND`); `None` when it is PostgreSQL and there is none
    /// to test against (the test is skipped, and says so).
    pub fn new(crm_base_url: String) -> Option<Self> {
        Self::on(super::BACKEND, crm_base_url)
    }

    pub fn on(backend: Backend, crm_base_url: String) -> Option<Self> {
        let state_dir = tempfile::tempdir().expect("temp dir");
        let (store_url, schema) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", state_dir.path().join("handoffd.db").display()), None),
            Backend::Postgres => {
                let schema = crate::pg_scratch::Schema::create(&crate::pg_scratch::url_or_skip("a spine test")?);
                (schema.store_url(), Some(schema))
            }
        };
        Some(Self {
            state_dir,
            store_url,
            _schema: schema,
            crm_base_url,
            extra_hubspot: String::new(),
            owners: vec![OWNER_A, OWNER_B],
            quiet_period: "1s",
            linger: "0s",
            graph_base_url: "http://127.0.0.1:9/graph".to_owned(),
        })
    }

    pub fn config_text(&self) -> String {
        let owners: String = self.owners.iter().map(|id| format!("    - id: \"{id}\"\n")).collect();
        format!(
            r#"
store:
  url: "{store_url}"
server:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
conversation:
  quiet_period: {quiet}
business:
  timezone: Asia/Kolkata
  hours: {{mon: "09:30-19:30", tue: "09:30-19:30", wed: "09:30-19:30", thu: "09:30-19:30", fri: "09:30-19:30", sat: "10:00-18:00"}}
interpret:
  vocabulary: vocabulary
routing:
  owners:
{owners}
delivery:
  crm: hubspot-main
  max_attempts: 4
  retry_min: 200ms
  retry_max: 1s
  linger: {linger}
connectors:
  - id: wa-main
    kind: whatsapp_cloud
    app_secret: {APP_SECRET}
    verify_token: {VERIFY_TOKEN}
    phone_number_id: "106540352242922"
    base_url: {graph}
    agent_access_tokens: [agent-desk-token]
    default_region: IN
  - id: hubspot-main
    kind: hubspot
    base_url: {crm}
    access_token: mock-hubspot-token
    request_timeout: 2s
{extra}
"#,
            store_url = self.store_url,
            quiet = self.quiet_period,
            linger = self.linger,
            crm = self.crm_base_url,
            graph = self.graph_base_url,
            extra = self.extra_hubspot,
        )
    }

    pub fn loaded(&self) -> Loaded {
        let config = handoffd::config::parse(&self.config_text(), &|_| None).unwrap_or_else(|problems| {
            panic!("test config is invalid: {problems:?}");
        });
        // Relative paths (the vocabulary) resolve from the project's config folder.
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/test.yaml");
        Loaded { config, path }
    }

    pub async fn start(&self) -> RunningDaemon {
        handoffd::daemon::start(&self.loaded()).await.expect("daemon starts")
    }
}

pub async fn start_mock(options: MockOptions) -> MockHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
    MockCrm::start(MockOptions { handoff_property_exists: true, ..options }, listener).await
}

/// A WhatsApp Cloud API webhook body with one text message.
pub fn text_webhook(wamid: &str, wa_id: &str, name: &str, text: &str, timestamp: i64) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": [{"from": wa_id, "id": wamid, "timestamp": timestamp.to_string(), "type": "text", "text": {"body": text}}]
                }
            }]
        }]
    })
    .to_string()
}

pub async fn post_webhook(addr: std::net::SocketAddr, body: &str, signature: Option<String>) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("http://{addr}/webhooks/wa-main"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    request.send().await.expect("webhook post").status()
}

pub async fn post_signed(addr: std::net::SocketAddr, body: &str) -> reqwest::StatusCode {
    post_webhook(addr, body, Some(handoffd_whatsapp_cloud::sign(APP_SECRET, body.as_bytes()))).await
}

/// Poll `check` every 50 ms until it returns `Some`, or panic after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
