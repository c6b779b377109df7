//! The configuration's shape. Every field says why it exists: these comments are the
//! reference sales ops and admins read (and what a JSON Schema is generated from).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::registry::ConnectorConfig;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
    pub server: ServerConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub conversation: ConversationConfig,
    pub business: BusinessConfig,
    #[serde(default)]
    pub interpret: crate::interpret::InterpretConfig,
    pub routing: RoutingConfig,
    pub delivery: DeliveryConfig,
    /// Identity reconciliation: how the CRM identity cache is kept fresh.
    #[serde(default)]
    pub identity: IdentityConfig,
    pub connectors: Vec<ConnectorConfig>,
    /// How the daemon behaves as a service (systemd's watchdog).
    #[serde(default)]
    pub service: ServiceConfig,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// How long one round of a stage may run before the stage counts as wedged: `/readyz`
    /// answers 503 and the systemd watchdog pings stop, so systemd restarts the service
    /// (`WatchdogSec=` in the unit). Default `15m`, longer than any healthy round.
    #[serde(default = "default_stuck_after")]
    pub stuck_after: ConfigDuration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self { stuck_after: default_stuck_after() }
    }
}

fn default_stuck_after() -> ConfigDuration {
    ConfigDuration::from_secs(crate::daemon::supervisor::DEFAULT_STUCK_AFTER.as_secs())
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// When to sync contacts changed in the delivery CRM into the local identity cache, as a
    /// cron expression with seconds (`sec min hour day month weekday`), e.g. `0 */5 * * * *`
    /// (every five minutes, recommended). The first sync runs at start; steady-state delivery
    /// then needs no search call for known contacts. Unset: no sync, every contact the cache
    /// does not hold yet is searched for at delivery (and cached then).
    #[serde(default)]
    pub crm_sync: Option<String>,
}

#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path/to/handoffd.db` (created if missing) or `postgres://...`.
    pub url: String,
    /// Keys that encrypt the OAuth tokens kept in the store, each base64 of 32 random bytes
    /// (`openssl rand -base64 32`), best given as `${cred:token_key}` (a systemd credential).
    /// The first seals; the others only open, for rotation: put a new key first, keep the old
    /// one second until handoffd has started once, then remove it. Unset: tokens are stored
    /// unencrypted (a warning says so at start).
    #[serde(default)]
    pub token_keys: Vec<String>,
}

// The URL may carry a password and the keys are secrets: neither reaches a log through `{:?}`.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &crate::daemon::redact_url(&self.url))
            .field("token_keys", &format!("<{} redacted>", self.token_keys.len()))
            .finish()
    }
}

impl StoreConfig {
    /// The token keys, or `None` when none are configured.
    pub fn token_keys(&self) -> Result<Option<crate::deliver::TokenKeys>, String> {
        if self.token_keys.is_empty() {
            return Ok(None);
        }
        crate::deliver::TokenKeys::parse(&self.token_keys).map(Some)
    }
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port` vendors reach: webhooks, `/healthz`, `/readyz`.
    pub listen: String,
    /// Largest webhook body accepted, in bytes; larger ones get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most connections open at once on each listener (`server.listen` and `admin.listen`). At
    /// the cap a new connection closes the one idle the longest; when none is idle it is
    /// refused. Lowered at start to fit the process's open-file limit (`LimitNOFILE=`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A client must send its request headers within this, or its connection is closed.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: ConfigDuration,
    /// A request body that stalls this long fails the request.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout: ConfigDuration,
    /// A keep-alive connection with no request for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: ConfigDuration,
    /// Largest request head (request line and headers), in bytes; larger ones get 431.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
}

impl ServerConfig {
    /// The limits every listener applies to its clients.
    pub fn connection_limits(&self) -> crate::http::serve::ConnectionLimits {
        crate::http::serve::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout.get(),
            body_read_timeout: self.body_read_timeout.get(),
            idle_timeout: self.idle_timeout.get(),
            max_header_bytes: self.max_header_bytes,
        }
    }
}

fn default_max_connections() -> usize {
    4096
}

fn default_header_read_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}

fn default_body_read_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(15)
}

fn default_idle_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}

fn default_max_header_bytes() -> usize {
    32 * 1024
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// `host:port` for `/metrics` and the admin API; loopback unless `token` is set.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// Bearer token the admin API and metrics require.
    #[serde(default)]
    pub token: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { listen: default_admin_listen(), token: None }
    }
}

fn default_admin_listen() -> String {
    "127.0.0.1:9464".to_owned()
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// How long the customer must be quiet before a burst becomes a handoff.
    #[serde(default = "default_quiet_period")]
    pub quiet_period: ConfigDuration,
    /// How long a handoff stays open (later messages update its task) without the CRM
    /// reporting the task done.
    #[serde(default = "default_reopen_after")]
    pub reopen_after: ConfigDuration,
    /// Phrases which, said by the AI, end the conversation at once (case-insensitive).
    #[serde(default = "default_handoff_phrases")]
    pub handoff_phrases: Vec<String>,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            quiet_period: default_quiet_period(),
            reopen_after: default_reopen_after(),
            handoff_phrases: default_handoff_phrases(),
        }
    }
}

fn default_handoff_phrases() -> Vec<String> {
    ["connecting you with our team", "connect you with our team", "transferring you to", "a colleague will call you"]
        .map(String::from)
        .to_vec()
}

fn default_quiet_period() -> ConfigDuration {
    ConfigDuration::from_secs(90)
}

fn default_reopen_after() -> ConfigDuration {
    ConfigDuration::from_secs(7 * 24 * 3600)
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessConfig {
    /// IANA time zone the business works in, e.g. `Asia/Kolkata`.
    pub timezone: String,
    /// Opening hours per day: `mon`..`sun` -> `"09:30-19:30"`. A missing day is closed.
    pub hours: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// The owners tasks are shared among, in round-robin order.
    pub owners: Vec<OwnerConfig>,
    /// How soon a task is due, per urgency, when the customer named no time.
    #[serde(default)]
    pub due: DuePolicy,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    /// The owner's user id in the CRM (HubSpot `hubspot_owner_id`).
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuePolicy {
    /// Business time to act on a high-urgency handoff.
    #[serde(default = "default_due_high")]
    pub high: ConfigDuration,
    #[serde(default = "default_due_medium")]
    pub medium: ConfigDuration,
    #[serde(default = "default_due_low")]
    pub low: ConfigDuration,
}

impl Default for DuePolicy {
    fn default() -> Self {
        Self { high: default_due_high(), medium: default_due_medium(), low: default_due_low() }
    }
}

fn default_due_high() -> ConfigDuration {
    ConfigDuration::from_secs(30 * 60)
}

fn default_due_medium() -> ConfigDuration {
    ConfigDuration::from_secs(4 * 3600)
}

fn default_due_low() -> ConfigDuration {
    ConfigDuration::from_secs(2 * 24 * 3600)
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The id of the CRM connector tasks are written to.
    pub crm: String,
    /// Attempts before a delivery goes to the dead-letter queue.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; later ones grow exponentially, with jitter.
    #[serde(default = "default_retry_min")]
    pub retry_min: ConfigDuration,
    /// Longest delay between two attempts.
    #[serde(default = "default_retry_max")]
    pub retry_max: ConfigDuration,
    /// Most tasks written in one batch call (capped by the CRM's own limit).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long a partial batch waits for more tasks before it is sent (`0s`: at once). A few seconds on
    /// top of the quiet period lets steady traffic share calls instead of spending one per task.
    #[serde(default = "default_linger")]
    pub linger: ConfigDuration,
}

fn default_linger() -> ConfigDuration {
    ConfigDuration::from_secs(2)
}

fn default_max_attempts() -> u32 {
    8
}

fn default_retry_min() -> ConfigDuration {
    ConfigDuration::from_secs(1)
}

fn default_retry_max() -> ConfigDuration {
    ConfigDuration::from_secs(300)
}

fn default_batch_size() -> usize {
    100
}
