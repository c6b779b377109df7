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
    /// The SLA watcher: open handoffs' tasks read from the CRM, the escalation ladder, confirmations to customers.
    /// Unset: no watcher (a handoff stays open until `conversation.reopen_after`).
    #[serde(default)]
    pub sla: Option<SlaConfig>,
    /// Identity reconciliation: how the CRM identity cache is kept fresh.
    #[serde(default)]
    pub identity: IdentityConfig,
    pub connectors: Vec<ConnectorConfig>,
    /// How the daemon behaves as a service (systemd's watchdog).
    #[serde(default)]
    pub service: ServiceConfig,
    /// What the daemon's log lines may hold.
    #[serde(default)]
    pub log: LogConfig,
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Personal data replaced in every log line, at every level, in both formats (fields and
    /// messages). Secrets from the configuration never reach a log line regardless. Applied at
    /// start (a reload leaves it for the next restart).
    #[serde(default)]
    pub redact: RedactConfig,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Replace phone numbers (any run of 10 to 15 digits, with or without a leading `+`: E.164
    /// numbers, WhatsApp ids, national numbers) with `[phone]`. Errs on the side of hiding: a
    /// 10-digit Unix time is hidden too. Default `false`.
    #[serde(default)]
    pub phones: bool,
    /// Replace message text (the values of the fields that carry what a customer, the AI or an
    /// agent said: `text`, `body`, `transcript`, `evidence`, ...) with `[text]`. Default `false`.
    #[serde(default)]
    pub text: bool,
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
    /// Everyone a task can go to. With no `pools` and no `rules`, they form one pool (`default`)
    /// shared round robin.
    pub owners: Vec<OwnerConfig>,
    /// Pool name -> the owners in it, each by `email` or `id` as written under `owners`.
    #[serde(default)]
    pub pools: BTreeMap<String, Vec<String>>,
    /// In order; the first rule whose `when` matches the brief picks the pool and the strategy.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// The pool a brief goes to when no rule matches, or when a rule's pool (and its fallback) has
    /// nobody available. Unset: `default` when that pool exists (the implicit one included).
    #[serde(default)]
    pub default_pool: Option<String>,
    /// How soon a task is due, per urgency, when the customer named no time.
    #[serde(default)]
    pub due: DuePolicy,
    /// Public holidays per region (ISO 3166 code, as an owner's `region`): `IN: [2026-01-26, ...]`.
    /// An owner is off all day on a holiday of their region.
    #[serde(default)]
    pub holidays: BTreeMap<String, Vec<String>>,
    /// Pool name -> the manager who hears of that pool's escalations: an owner under `owners` (by `email` or
    /// `id`), reached through their `notify` (then through what the `notify_manager` step names).
    #[serde(default)]
    pub managers: BTreeMap<String, String>,
    /// When owners' emails are resolved to CRM ids again through the CRM's owners API, as a cron
    /// expression with seconds. Default hourly (`0 0 * * * *`); the first sync runs at start. On
    /// several instances only the holder of the `owner_sync` lease runs it.
    #[serde(default)]
    pub owner_sync: Option<String>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    /// The owner's login email in the CRM; resolved to the CRM's owner id through its owners API.
    #[serde(default)]
    pub email: Option<String>,
    /// The owner's user id in the CRM (HubSpot `hubspot_owner_id`), instead of (or beside) `email`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Working hours in the `business.hours` format (`mon: "09:30-13:00,14:00-19:30"`; days left
    /// out are off; a shift may run past midnight, `sat: "22:00-02:00"`). Outside them the owner is
    /// off shift and gets no task. Unset: never off shift (days off and holidays still count), and
    /// due times follow `business.hours`.
    #[serde(default)]
    pub hours: Option<BTreeMap<String, String>>,
    /// IANA time zone the hours are in. Default `business.timezone`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Days off and out-of-office ranges, each `{from, to}`: dates (`2026-12-01`, whole days in
    /// the owner's time zone, both included) or RFC 3339 instants.
    #[serde(default)]
    pub away: Vec<AwayConfig>,
    /// Languages the owner speaks (codes as the vocabulary's folders: `en`, `hi`, ...).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Free-form skills a rule can require (`enterprise`, `dental`, ...).
    #[serde(default)]
    pub skills: Vec<String>,
    /// Most open handoffs at once; an owner at capacity takes no new ones. Unset: no limit.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// The region whose `routing.holidays` the owner keeps (ISO 3166, e.g. `IN`).
    #[serde(default)]
    pub region: Option<String>,
    /// How this owner hears of escalations as a pool's manager (`routing.managers`): the SLA watcher's
    /// `notify_manager` step reaches them here before what the step itself names.
    #[serde(default)]
    pub notify: Option<OwnerNotify>,
}

/// Where a manager is reached.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerNotify {
    /// A URL that receives the signed JSON POST (as a ladder step's `webhook`).
    #[serde(default)]
    pub webhook: Option<ManagerWebhook>,
    /// The manager's WhatsApp number, E.164 (`+919820012345`): the `notify_manager` step's `whatsapp` template
    /// goes here.
    #[serde(default)]
    pub phone: Option<String>,
}

impl OwnerConfig {
    /// How pools and rules name this owner: the email when given, else the id.
    pub fn key(&self) -> &str {
        self.email.as_deref().or(self.id.as_deref()).unwrap_or("")
    }

    /// Whether `name` (a pool member or a manager) refers to this owner.
    pub fn is_named(&self, name: &str) -> bool {
        self.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(name)) || self.id.as_deref() == Some(name)
    }
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwayConfig {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Shown in the brief's `recommended_owner.rule` and in the audit.
    pub name: String,
    /// All given keys must match (each a list: any of its values). Empty: matches every brief.
    #[serde(default)]
    pub when: RuleWhen,
    /// The pool this rule hands tasks to.
    pub pool: String,
    #[serde(default)]
    pub strategy: Strategy,
    /// Where the task goes when nobody in `pool` is available (then `default_pool`).
    #[serde(default)]
    pub fallback_pool: Option<String>,
    /// Only owners with every one of these skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Only owners who speak one of these languages.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Whether the customer gets the confirmation (`sla.confirm`'s template: who will act and when) once the
    /// task exists: `true` confirms this rule's handoffs, `false` never does; unset, `sla.confirm` decides
    /// (set: every handoff is confirmed). `true` needs `sla.confirm`, which names the template.
    #[serde(default)]
    pub confirm: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleWhen {
    /// Intent codes (the vocabulary's); matches when the brief has any of them.
    #[serde(default)]
    pub intent: Option<Vec<String>>,
    /// `high`, `medium`, `low`.
    #[serde(default)]
    pub urgency: Option<Vec<String>>,
    /// `callback`, `escalation`, `nurture`, `closed_lost`, `booked`.
    #[serde(default)]
    pub disposition: Option<Vec<String>>,
    /// The conversation's channel: `whatsapp`, `voice`, `sms`, `webchat`, `email`.
    #[serde(default)]
    pub channel: Option<Vec<String>>,
    /// The brief's `source`, e.g. `meta_lead_ad`.
    #[serde(default)]
    pub source: Option<Vec<String>>,
    /// The conversation's language (vocabulary folder codes).
    #[serde(default)]
    pub language: Option<Vec<String>>,
}

/// How a rule picks among the available owners of its pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The CRM contact's current owner when in the pool and available; else round robin.
    Sticky,
    /// Each pool's turn is kept in the store: fair across restarts and instances.
    #[default]
    RoundRobin,
    /// The owner with the fewest open handoffs (ties: the pool's order).
    LeastOpenTasks,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sticky => "sticky",
            Self::RoundRobin => "round_robin",
            Self::LeastOpenTasks => "least_open_tasks",
        }
    }
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
    /// top of the quiet period lets steady traffic share calls instead of spending one per task. Unset: chosen
    /// from the CRM's limits (2s; 10s where its allowance is counted by the day, so every call spends the
    /// day's budget; 0s where it has no batch calls to share).
    #[serde(default)]
    pub linger: Option<ConfigDuration>,
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

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// How often the watcher reads the state of open handoffs' tasks from the CRM (in batches, through the
    /// delivery CRM's own rate limiter). Default `5m`; at least `10s`.
    #[serde(default = "default_check_every")]
    pub check_every: ConfigDuration,
    /// What happens to a task still open past its due time: steps in order of `after`, each run once per
    /// handoff.
    #[serde(default)]
    pub ladder: Vec<LadderStep>,
    /// A WhatsApp template telling the customer what happens next, sent once per handoff after its task exists
    /// (never to a customer who sent STOP). Unset: no confirmation.
    #[serde(default)]
    pub confirm: Option<ConfirmConfig>,
}

fn default_check_every() -> ConfigDuration {
    ConfigDuration::from_secs(300)
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LadderStep {
    /// How long past the task's due time the step runs, e.g. `20m`.
    pub after: ConfigDuration,
    /// `remind` (raise the task's priority to high and add a note), `reassign` (to the next available owner of
    /// the task's pool) or `notify_manager` (a signed webhook POST and/or a WhatsApp template).
    pub action: LadderAction,
    /// `remind`: the note added to the task; `{minutes}` is replaced by the minutes past due.
    #[serde(default)]
    pub note: Option<String>,
    /// `notify_manager`: the manager's name, for the audit trail and the message, when the pool has no manager
    /// under `routing.managers`.
    #[serde(default)]
    pub manager: Option<String>,
    /// `notify_manager`: a URL that receives a JSON POST signed with `X-Handoffd-Signature`.
    #[serde(default)]
    pub webhook: Option<ManagerWebhook>,
    /// `notify_manager`: an approved WhatsApp template sent to the manager through a messenger connector.
    #[serde(default)]
    pub whatsapp: Option<ManagerWhatsapp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LadderAction {
    Remind,
    Reassign,
    NotifyManager,
}

impl LadderAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Remind => "remind",
            Self::Reassign => "reassign",
            Self::NotifyManager => "notify_manager",
        }
    }
}

#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerWebhook {
    /// Where the POST goes (http or https).
    pub url: String,
    /// Signs the body: `X-Handoffd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    pub secret: String,
}

// The secret never reaches a log through `{:?}`.
impl std::fmt::Debug for ManagerWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerWebhook").field("url", &self.url).field("secret", &"<redacted>").finish()
    }
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerWhatsapp {
    /// The id of the messenger connector (`whatsapp_cloud`) that sends it.
    pub messenger: String,
    /// The number, E.164 (`+919820012345`), for pools whose manager has no `notify.phone`.
    #[serde(default)]
    pub to: Option<String>,
    /// The approved template's name; its body parameters are the owner's name, the customer's name and the
    /// minutes past due, in that order.
    pub template: String,
    /// The template's language code, e.g. `en_US`.
    pub language: String,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmConfig {
    /// The id of the messenger connector (`whatsapp_cloud`) that sends it.
    pub messenger: String,
    /// The approved template's name, e.g. `callback_confirmation` ("{{1}} from our team will call you {{2}}").
    pub template: String,
    /// The template's language code, e.g. `en_US`.
    pub language: String,
    /// The template's body parameters, in order: `owner_name`, `due` (the due time in the business's time zone,
    /// e.g. "Sat 5 Dec, 10:00") or `customer_name`. Default `[owner_name, due]`.
    #[serde(default = "default_confirm_parameters")]
    pub parameters: Vec<ConfirmParameter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmParameter {
    OwnerName,
    Due,
    CustomerName,
}

fn default_confirm_parameters() -> Vec<ConfirmParameter> {
    vec![ConfirmParameter::OwnerName, ConfirmParameter::Due]
}
