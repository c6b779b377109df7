//! The one table `handoffd-bench` prints.

use std::fmt;
use std::time::Duration;

use super::account::Outcome;
use super::crm::Allowance;
use super::load::LoadResult;
use super::{BenchOptions, Scenario};
use handoffd_mocks::{FaultCounts, MockLoad, MockReport, RateLimitedCounts};

/// The second phase of `ingest`.
#[derive(Debug, Clone)]
pub struct FixedRate {
    pub rate: f64,
    pub achieved: f64,
    pub ack_p50: Option<Duration>,
    pub ack_p99: Option<Duration>,
}

/// Everything a run measured. Counts are exact; timings depend on the machine.
#[derive(Debug, Default)]
pub struct BenchReport {
    pub scenario: Option<Scenario>,
    pub parameters: String,
    pub messages_sent: usize,
    pub messages_acked: usize,
    pub webhooks_per_sec: f64,
    pub ack_p50: Option<Duration>,
    pub ack_p99: Option<Duration>,
    pub fixed_rate: Option<FixedRate>,
    pub send_retries: u64,
    pub handoff_p50: Option<Duration>,
    pub handoff_p99: Option<Duration>,
    pub crm_requests: u64,
    /// Requests per CRM route, most used first.
    pub requests_by_route: Vec<(String, u64)>,
    pub tasks_created: u64,
    pub responses_429: u64,
    /// Of those, 429s for a real limit, by HubSpot policy (the others were injected).
    pub rate_limited: RateLimitedCounts,
    pub max_requests_in_10s: u64,
    pub backlog_share: Option<BacklogShare>,
    /// takeover: the holder's death and the next request from another instance.
    pub takeover: Option<Takeover>,
    pub duplicates: u64,
    /// Contacts created with a phone another contact already had.
    pub duplicate_contacts: u64,
    pub contacts_created: u64,
    pub lost: u64,
    /// Customers with acknowledged messages and no task, first few (where to look when messages were lost).
    pub customers_without_task: Vec<String>,
    /// Handoffs with a task as the daemon holds them (`handoffd_handoffs_with_task`).
    pub daemon_tasks: u64,
    /// Distinct handoff ids among the CRM's tasks.
    pub crm_tasks: u64,
    /// Handoffs the daemon and the CRM disagree on having a task for: must be 0.
    pub task_mismatch: u64,
    pub dead_letters: u64,
    pub drained: bool,
    pub restarts: u32,
    pub faults_injected: FaultCounts,
    pub peak_rss_kib: u64,
    pub elapsed: Duration,
    /// The CRM's name in the table's title.
    pub crm: String,
    /// What the CRM's mock saw of the load on its limits.
    pub crm_load: Option<MockLoad>,
}

/// The share of the CRM's allowed rate a run used while a backlog existed: while handoffs waited for delivery.
#[derive(Debug, Clone, Copy)]
pub struct BacklogShare {
    /// Every request (searches included) over the ten-second limit.
    pub requests: f64,
    /// Searches over the search limit.
    pub searches: f64,
    /// How long handoffs waited for delivery.
    pub seconds: f64,
    /// The average number of CRM calls in flight then.
    pub in_flight: f64,
    /// What the shares are of.
    pub allowance: Allowance,
    /// Every request over the ten-second limit while any job was pending, including the time the stages before
    /// delivery made handoffs more slowly than it sent them.
    pub whole_run: Option<f64>,
}

/// A CRM account's lease taken over after its holder was killed.
#[derive(Debug, Clone)]
pub struct Takeover {
    /// The instance killed (it held the lease).
    pub killed: String,
    /// From the SIGKILL to the CRM's next request (from another instance).
    pub seconds: f64,
    /// The instance that says it holds the lease then.
    pub new_holder: Option<String>,
}

impl BenchReport {
    pub fn new(options: &BenchOptions) -> Self {
        let parameters = match options.scenario {
            Scenario::Ingest => format!(
                "{} messages flooded at concurrency {}, then {}/s for {:?}; {} customers",
                options.messages, options.concurrency, options.rate, options.duration, options.customers
            ),
            Scenario::Backlog => format!("{} handoffs at concurrency {}", options.handoffs, options.concurrency),
            Scenario::Takeover => format!(
                "{} handoffs at concurrency {}, the lease holder killed {:?} into the drain",
                options.handoffs, options.concurrency, options.kill_after
            ),
            _ => format!(
                "{} messages, {} customers, bursts within {:?}, concurrency {}{}",
                options.messages,
                options.customers,
                options.duration,
                options.concurrency,
                if options.scenario == Scenario::Crash { format!(", {} kills", options.kills) } else { String::new() }
            ),
        };
        Self {
            scenario: Some(options.scenario),
            parameters: format!(
                "{} webhooks; {parameters}; quiet period {:?}; linger {}; {} customers known to the CRM; \
                 {}; CRM answers {}; seed {}",
                options.vendor.connector_id().trim_end_matches("-main"),
                options.quiet_period,
                options.linger.map_or("the CRM's default".to_owned(), |linger| format!("{linger:?}")),
                options.known_customers,
                store_description(options),
                options.answer_delay.map_or("at once".to_owned(), |d| format!("in {d}")),
                options.seed
            ),
            crm: format!("{:?}", options.crm).to_lowercase(),
            ..Self::default()
        }
    }

    pub(super) fn set_load(&mut self, load: &LoadResult) {
        self.messages_sent = load.sent;
        self.messages_acked = load.acked.len();
        self.webhooks_per_sec = load.per_second();
        self.ack_p50 = load.ack_latency.quantile(0.5);
        self.ack_p99 = load.ack_latency.quantile(0.99);
        self.send_retries = load.retries;
    }

    pub(super) fn set_crm(&mut self, mock: &MockReport, outcome: Outcome) {
        self.crm_requests = mock.requests_per_endpoint.values().sum();
        let mut routes: Vec<(String, u64)> =
            mock.requests_per_endpoint.iter().map(|(route, count)| (route.clone(), *count)).collect();
        routes.sort_by_key(|route| std::cmp::Reverse(route.1));
        self.requests_by_route = routes;
        self.tasks_created = mock.tasks_created;
        self.responses_429 = mock.responses_429;
        self.rate_limited = mock.rate_limited.clone();
        self.max_requests_in_10s = mock.max_requests_in_10s_window;
        self.duplicates = outcome.duplicates.max(mock.duplicate_tasks);
        self.duplicate_contacts = mock.duplicate_contacts;
        self.contacts_created = mock.contacts_created;
        self.lost = outcome.lost;
        self.daemon_tasks = outcome.daemon_tasks;
        self.crm_tasks = outcome.crm_tasks;
        self.task_mismatch = outcome.task_mismatch();
        self.customers_without_task = outcome.customers_without_task.clone();
        self.handoff_p50 = outcome.handoff_latency.quantile(0.5);
        self.handoff_p99 = outcome.handoff_latency.quantile(0.99);
        self.faults_injected = mock.faults_injected.clone();
    }

    /// CRM requests (all of them: owners, properties, contacts, tasks, look-ups) per task created.
    pub fn crm_calls_per_task(&self) -> Option<f64> {
        (self.tasks_created > 0).then(|| self.crm_requests as f64 / self.tasks_created as f64)
    }

    /// Task writes (batch create and update) per task created: the cost once identities are cached.
    pub fn task_calls_per_task(&self) -> Option<f64> {
        let writes: u64 =
            self.requests_by_route.iter().filter(|(route, _)| is_task_write(route)).map(|(_, count)| count).sum();
        (self.tasks_created > 0).then(|| writes as f64 / self.tasks_created as f64)
    }

    /// Nothing lost, nothing duplicated, every message acknowledged, the daemon drained, and it agrees with the CRM
    /// on which handoffs have a task.
    pub fn is_exact(&self) -> bool {
        self.drained
            && self.lost == 0
            && self.duplicates == 0
            && self.task_mismatch == 0
            && self.messages_acked == self.messages_sent
    }
}

/// The store and the instances on it, without the URL (it may hold a password).
fn store_description(options: &BenchOptions) -> String {
    match options.store_url.as_deref() {
        Some(url) if super::schema::is_postgres(url) => {
            format!("PostgreSQL (a schema per run), {} instance(s)", options.instances)
        }
        Some(_) => "the store of --store".to_owned(),
        None => format!("SQLite synchronous={}", options.synchronous),
    }
}

/// Whether a `METHOD path` route writes tasks: HubSpot's batch create and update, Salesforce's upsert (the only
/// upsert the connector sends is of Tasks) and update of Task records, Zoho's Tasks upsert and update, Pipedrive's activity create and update.
fn is_task_write(route: &str) -> bool {
    let reads = route.starts_with("GET ");
    route.contains("/objects/tasks/batch/create")
        || route.contains("/objects/tasks/batch/update")
        || route.contains("/composite/sobjects/{object}/")
        || (route.starts_with("PATCH ") && route.ends_with("/composite/sobjects"))
        || (!reads && route.contains("/crm/v8/Tasks"))
        || (!reads && route.contains("/api/v2/activities"))
}

/// The backlog's share of the CRM's allowance, in words.
fn share_text(s: BacklogShare) -> String {
    let whole =
        s.whole_run.filter(|w| w.is_finite()).map(|w| format!("{:.1}%", w * 100.0)).unwrap_or_else(|| "-".into());
    match s.allowance {
        Allowance::Rate { per_second, searches_per_second } => format!(
            "{:.1}% of {per_second}/s over {:.0} s with handoffs waiting (search: {:.1}% of its own {searches_per_second}/s); \
             {whole} while any job was pending",
            s.requests * 100.0,
            s.seconds,
            s.searches * 100.0
        ),
        Allowance::InFlight { cap } => format!(
            "{:.1}% of {cap} calls in flight over {:.0} s with handoffs waiting ({:.1} in flight on average); {whole} \
             while any job was pending",
            s.requests * 100.0,
            s.seconds,
            s.in_flight
        ),
        Allowance::None => format!(
            "no short-term limit ({:.1} calls in flight on average over {:.0} s with handoffs waiting)",
            s.in_flight, s.seconds
        ),
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0)).unwrap_or_else(|| "-".into())
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scenario = self.scenario.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default();
        let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
        writeln!(f, "handoffd-bench {scenario} --crm {} ({build}): {}", self.crm, self.parameters)?;
        let mut rows: Vec<(String, String)> = vec![
            ("webhooks/s accepted".into(), format!("{:.0}", self.webhooks_per_sec)),
            ("ack latency p50 / p99".into(), format!("{} / {}", ms(self.ack_p50), ms(self.ack_p99))),
        ];
        if let Some(fixed) = &self.fixed_rate {
            rows.push((
                format!("ack latency p50 / p99 at {:.0}/s", fixed.rate),
                format!("{} / {} (achieved {:.0}/s)", ms(fixed.ack_p50), ms(fixed.ack_p99), fixed.achieved),
            ));
        }
        rows.extend([
            ("handoff latency p50 / p99".into(), format!("{} / {}", ms(self.handoff_p50), ms(self.handoff_p99))),
            (
                "CRM calls per task".into(),
                self.crm_calls_per_task()
                    .map(|c| format!("{c:.3} ({} requests)", self.crm_requests))
                    .unwrap_or_else(|| "-".into()),
            ),
            (
                "  once identities are cached (task writes)".into(),
                self.task_calls_per_task().map(|c| format!("{c:.3}")).unwrap_or_else(|| "-".into()),
            ),
            (
                "429s received".into(),
                if self.crm != "hubspot" && !self.crm.is_empty() {
                    format!(
                        "{} (calls the CRM refused for a limit: its budget, window or calls in flight)",
                        self.responses_429
                    )
                } else {
                    let limited = &self.rate_limited;
                    format!(
                        "{} (limits reached: ten-second {}, search {}, daily {})",
                        self.responses_429, limited.ten_secondly_rolling, limited.secondly, limited.daily
                    )
                },
            ),
            (
                "peak against the CRM's short-term limit".into(),
                match self.crm.as_str() {
                    "hubspot" => format!("{} requests in 10 s, searches apart (limit 190)", self.max_requests_in_10s),
                    "pipedrive" => format!("{} requests in 2 s, searches apart (limit 20)", self.max_requests_in_10s),
                    _ => self
                        .crm_load
                        .as_ref()
                        .map(|load| format!("{} calls in flight at once", load.max_in_flight))
                        .unwrap_or_else(|| "-".into()),
                },
            ),
            (
                "allowed rate used in backlog".into(),
                self.backlog_share.map(share_text).unwrap_or_else(|| "- (no backlog >= 10 s)".into()),
            ),
            (
                "lease takeover after SIGKILL".into(),
                self.takeover
                    .as_ref()
                    .map(|t| {
                        let new_holder = t.new_holder.as_deref().unwrap_or("?");
                        format!("{:.1} s (holder `{}` killed; `{new_holder}` delivers)", t.seconds, t.killed)
                    })
                    .unwrap_or_else(|| "-".into()),
            ),
            ("tasks created".into(), self.tasks_created.to_string()),
            (
                "handoffs with a task: daemon / CRM".into(),
                format!(
                    "{} / {}{}",
                    self.daemon_tasks,
                    self.crm_tasks,
                    if self.task_mismatch > 0 { " (MISMATCH)" } else { "" }
                ),
            ),
            ("duplicates".into(), self.duplicates.to_string()),
            (
                "contacts created (duplicates)".into(),
                format!("{} ({})", self.contacts_created, self.duplicate_contacts),
            ),
            (
                "lost".into(),
                if self.drained {
                    format!("{} of {} acknowledged", self.lost, self.messages_acked)
                } else {
                    format!("n/a: not drained ({} acknowledged messages in no task yet)", self.lost)
                },
            ),
            ("not acknowledged".into(), (self.messages_sent - self.messages_acked).to_string()),
            ("dead letters".into(), self.dead_letters.to_string()),
            ("drained".into(), if self.drained { "yes".into() } else { "NO (timed out)".into() }),
            ("peak RSS (daemon)".into(), format!("{:.1} MB", self.peak_rss_kib as f64 / 1024.0)),
        ]);
        if self.restarts > 0 {
            rows.push(("kill -9 and restarts".into(), self.restarts.to_string()));
        }
        let faults = &self.faults_injected;
        if faults != &FaultCounts::default() {
            rows.push((
                "faults injected".into(),
                format!(
                    "429 {}, 5xx {}, reset {}, lost response {}",
                    faults.status_429, faults.status_5xx, faults.resets, faults.lost_responses
                ),
            ));
        }
        rows.push(("re-sent webhooks".into(), self.send_retries.to_string()));
        rows.push(("wall time".into(), format!("{:.1} s", self.elapsed.as_secs_f64())));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        writeln!(f, "| {:width$} | value", "metric")?;
        writeln!(f, "|-{}-|------", "-".repeat(width))?;
        for (key, value) in rows {
            writeln!(f, "| {key:width$} | {value}")?;
        }
        for (route, count) in self.requests_by_route.iter().take(8) {
            writeln!(f, "  CRM requests: {count:>6}  {route}")?;
        }
        if self.drained && self.lost > 0 {
            let customers = if self.customers_without_task.is_empty() {
                "none".to_owned()
            } else {
                self.customers_without_task.join(", ")
            };
            writeln!(
                f,
                "lost: customers with no task, first few: {customers} (run again with HANDOFFD_BENCH_KEEP=1 and look \
                 into the kept database with `handoffd audit`)"
            )?;
        }
        Ok(())
    }
}
