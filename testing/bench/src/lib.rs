//! `handoffd-bench`: starts the mock CRM (in process, from `handoffd-mocks`) and the daemon (the `handoffd`
//! executable, as a child process), runs a named scenario and reports throughput, latencies, CRM budget, and exact
//! counts of lost and duplicate handoffs. It sees the daemon from outside only: webhooks in, `/metrics` and the
//! mock's tasks out; it never opens the daemon's store.
//!
//! - [`load`]: the webhook generator.
//! - `child`: the daemon as a child process (SIGKILL, restart, peak RSS).
//! - [`metrics`]: the daemon's counts from its `/metrics`.
//! - `account`: exact lost/duplicate accounting from those counts and the mock's tasks.
//! - [`report`]: the one table.

mod account;
mod child;
pub mod crm;
mod fleet;
pub mod load;
pub mod metrics;
pub mod report;
mod schema;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use report::BenchReport;
pub use stats::Samples;

use child::DaemonSetup;
use crm::{Allowance, CrmSetup, CrmUnderTest, CrmVendor};
use fleet::Fleet;
use handoffd_mocks::{AnswerDelay, FaultPlan};
use load::{Clock, Target};
use metrics::{DaemonCounts, MetricsReader};

/// The app secret the generated configuration and the load generator share.
const APP_SECRET: &str = "bench-app-secret";

/// The vendor whose webhooks the load generator sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Vendor {
    /// WhatsApp Cloud API messages, `X-Hub-Signature-256`.
    #[default]
    Whatsapp,
    /// Vapi end-of-call reports, signed by an HMAC-SHA256 authentication plan (`{timestamp}.{body}`).
    Vapi,
    /// Retell `call_ended` events, `x-retell-signature`.
    Retell,
    /// Each customer's messages alternate: a WhatsApp message, then a Vapi call of the same
    /// phone, and so on (one customer, one handoff, one task).
    Mixed,
}

impl Vendor {
    /// The connector id the daemon's bench config gives the vendor.
    pub fn connector_id(self) -> &'static str {
        match self {
            Self::Whatsapp => "wa-main",
            Self::Vapi => "vapi-main",
            Self::Retell => "retell-main",
            Self::Mixed => "mixed",
        }
    }

    /// The vendor that sends the `index`th message of a customer's burst.
    pub fn for_message(self, index: usize) -> Self {
        match self {
            Self::Mixed if index.is_multiple_of(2) => Self::Whatsapp,
            Self::Mixed => Self::Vapi,
            fixed => fixed,
        }
    }
}

/// A named scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// As fast as possible, then at a fixed rate: webhooks/s and acknowledgement latency (acknowledged = committed).
    Ingest,
    /// Customers' bursts with realistic gaps against HubSpot's limits.
    Steady,
    /// Many ready handoffs at once against 190 requests per 10 s: share of the allowed rate used.
    Backlog,
    /// `steady` with 20% mixed CRM faults, lost responses included.
    Faults,
    /// `steady` with the daemon killed (SIGKILL) at random moments and restarted, then drained.
    Crash,
    /// `backlog` on several instances (`--instances`, default 3) sharing PostgreSQL: once the backlog drains at full
    /// rate, the instance holding the CRM account's lease is killed (SIGKILL, not restarted); the time until
    /// another instance's first request reaches the CRM is the takeover time.
    Takeover,
}

/// Everything a run needs; [`BenchOptions::for_scenario`] gives each scenario's defaults.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub scenario: Scenario,
    /// Whose webhooks are sent (every scenario; `ingest` is the one that compares them).
    pub vendor: Vendor,
    /// The `handoffd` executable to run as the daemon.
    pub exe: PathBuf,
    /// The interpretation vocabulary folder.
    pub vocabulary: PathBuf,
    /// steady/faults/crash: the window the bursts start in; ingest: length of the fixed-rate phase.
    pub duration: Duration,
    pub messages: usize,
    pub customers: usize,
    /// ingest: the fixed rate of the second phase, webhooks per second.
    pub rate: f64,
    pub concurrency: usize,
    pub quiet_period: Duration,
    /// backlog: ready handoffs (one message each).
    pub handoffs: usize,
    /// Customers the CRM already holds as contacts (the first ones); the daemon syncs its identity cache from the
    /// CRM at start, so their deliveries need no contact search or create.
    pub known_customers: usize,
    /// The daemon's `delivery.linger`; `None`: the product's default for the CRM.
    pub linger: Option<Duration>,
    /// SQLite's `synchronous` mode for the daemon's store: `full` (the product's default) or `normal`.
    pub synchronous: String,
    /// The daemon's store (`None`: a SQLite file in the run's temp dir). A `postgres://` URL names a server: each
    /// run makes a schema of its own there and drops it at the end.
    pub store_url: Option<String>,
    /// Daemons sharing the store (PostgreSQL only above one), webhooks spread over them.
    pub instances: usize,
    /// takeover: how long the backlog drains before the lease holder is killed.
    pub kill_after: Duration,
    /// crash: how many times the daemon is killed.
    pub kills: u32,
    /// How long to wait for the daemon to drain after the load.
    pub drain_timeout: Duration,
    pub seed: u64,
    /// How long the mock CRM takes to answer each call (`None`: at once); a real portal takes 300-500 ms.
    pub answer_delay: Option<AnswerDelay>,
    /// The CRM delivered to, against its mock with the vendor's limits.
    pub crm: CrmVendor,
    /// Pipedrive: seats of the company, which size its daily token budget (30,000 tokens a seat).
    pub pipedrive_seats: u64,
    /// backlog, takeover: how held delivery is let go.
    pub release: Release,
}

/// How `backlog` and `takeover` let held delivery go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Release {
    /// The CRM was paused through the admin API of running daemons and is resumed in place: a CRM back from an
    /// outage or a pause, the account's lease held and its set-up done.
    #[default]
    Resume,
    /// Every daemon is killed and started again with the CRM's own limits (HubSpot only, held by a limit of one
    /// call an hour): a backlog met at start, the set-up, the first read of the change feed and the account's
    /// takeover included.
    Restart,
}

impl BenchOptions {
    pub fn for_scenario(scenario: Scenario, exe: PathBuf, vocabulary: PathBuf) -> Self {
        let mut options = Self {
            scenario,
            exe,
            vocabulary,
            duration: Duration::from_secs(20),
            messages: 1000,
            customers: 200,
            rate: 2000.0,
            concurrency: 32,
            quiet_period: Duration::from_secs(1),
            handoffs: 100_000,
            known_customers: 200,
            linger: None,
            synchronous: "full".to_owned(),
            store_url: None,
            instances: 1,
            kill_after: Duration::from_secs(20),
            kills: 5,
            drain_timeout: Duration::from_secs(300),
            seed: 1,
            vendor: Vendor::default(),
            answer_delay: None,
            crm: CrmVendor::default(),
            pipedrive_seats: 1,
            release: Release::default(),
        };
        match scenario {
            Scenario::Ingest => {
                options.messages = 20_000;
                options.concurrency = 64;
                options.duration = Duration::from_secs(10);
            }
            Scenario::Backlog | Scenario::Takeover => {
                // New customers: contacts are searched and created in batches along with the tasks.
                options.known_customers = 0;
                options.concurrency = 64;
                options.drain_timeout = Duration::from_secs(3600);
                if scenario == Scenario::Takeover {
                    // Enough to drain for a minute around the kill.
                    options.handoffs = 20_000;
                    options.instances = 3;
                }
            }
            // Half known, half new: both contact paths meet the faults and the kills.
            Scenario::Faults | Scenario::Crash => options.known_customers = 100,
            Scenario::Steady => {}
        }
        options
    }
}

/// 20% of CRM requests fail: 5% 429, 5% 5xx, 4% connection resets, 6% lost responses (written, never answered).
pub fn mixed_faults(seed: u64) -> FaultPlan {
    FaultPlan {
        rate_429: 0.05,
        rate_5xx: 0.05,
        rate_reset: 0.04,
        rate_lost: 0.06,
        lost_hang_ms: 0,
        seed,
        ..FaultPlan::default()
    }
}

/// Runs one scenario from start to drained (or the drain timeout) and reports it.
pub async fn run(options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let state = StateDir::create(options.seed)?;
    let postgres = options.store_url.as_deref().filter(|url| schema::is_postgres(url));
    anyhow::ensure!(options.instances >= 1, "--instances must be at least 1");
    anyhow::ensure!(
        options.instances == 1 || postgres.is_some(),
        "{} instances need a shared store: give --store postgres://...",
        options.instances
    );
    anyhow::ensure!(
        options.scenario != Scenario::Takeover || options.instances >= 2,
        "takeover needs another instance to take over: --instances 2 or more"
    );
    let run_schema = match postgres {
        Some(server) => Some(schema::RunSchema::create(server, options.seed).await?),
        None => None,
    };
    let store_url = match &run_schema {
        Some(schema) => Some(schema.store_url()),
        None => options.store_url.clone(),
    };
    let outcome = run_on(options, &state, store_url).await;
    if let Some(schema) = run_schema {
        // After the daemons stopped (they did, unless the run failed: then their connections end with them).
        if let Err(error) = schema.drop_unless_kept().await {
            tracing::warn!(error = %format!("{error:#}"), "Could not drop the run's schema.");
        }
    }
    outcome
}

async fn run_on(options: &BenchOptions, state: &StateDir, store_url: Option<String>) -> anyhow::Result<BenchReport> {
    let crm_setup = CrmSetup {
        faults: if options.scenario == Scenario::Faults { mixed_faults(options.seed) } else { FaultPlan::default() },
        known_customers: options.known_customers,
        answer_delay: options.answer_delay,
        pipedrive_seats: options.pipedrive_seats,
    };
    let mock = Arc::new(CrmUnderTest::start(options.crm, &crm_setup).await?);
    let daemon_crm = mock.daemon_crm();
    let held = matches!(options.scenario, Scenario::Backlog | Scenario::Takeover);
    anyhow::ensure!(
        options.release == Release::Resume || daemon_crm.holding_limits().is_some(),
        "--release restart needs a CRM whose limiter waits (HubSpot); the others are paused and resumed"
    );
    let mut setups = Vec::with_capacity(options.instances);
    for index in 0..options.instances {
        setups.push(DaemonSetup {
            name: instance_name(index),
            exe: options.exe.clone(),
            vocabulary: std::path::absolute(&options.vocabulary)?,
            state_dir: state.path().to_owned(),
            listen_port: child::free_port()?,
            admin_port: child::free_port()?,
            crm: daemon_crm.clone(),
            app_secret: APP_SECRET.to_owned(),
            quiet_period: options.quiet_period,
            // HubSpot's connector marks the contacts it creates (`contact_marker`), so a synced cache lets new
            // customers go without a search each: the sync is on for it whatever the known customers.
            crm_sync: options.known_customers > 0 || options.crm == CrmVendor::Hubspot,
            linger: options.linger,
            synchronous: options.synchronous.clone(),
            store_url: store_url.clone(),
            hold_delivery: held,
            release_by_restart: options.release == Release::Restart,
        });
    }
    let admin_ports: Vec<u16> = setups.iter().map(|s| s.admin_port).collect();
    let daemon_metrics = MetricsReader::new(&admin_ports);
    let target = Target {
        webhooks: setups.iter().map(|s| format!("http://127.0.0.1:{}/webhooks", s.listen_port)).collect(),
        app_secret: APP_SECRET.into(),
        vendor: options.vendor,
    };
    let fleet = Arc::new(Mutex::new(Fleet::start(setups).await?));
    let started = Instant::now();

    let sampler = Sampler::start(fleet.clone(), daemon_metrics.clone(), mock.clone());
    let mut report = BenchReport::new(options);
    // backlog: when held delivery was let go.
    let mut released_at = None;
    let load = match options.scenario {
        Scenario::Ingest => {
            let flood = load::fixed_rate("flood", options.messages, options.customers, f64::INFINITY);
            let flood = load::play(&target, flood, options.concurrency, Clock::FromSend).await;
            let count = (options.rate * options.duration.as_secs_f64()) as usize;
            let paced = load::fixed_rate("paced", count, options.customers, options.rate);
            let paced = load::play(&target, paced, options.concurrency.max(256), Clock::FromSchedule).await;
            report.fixed_rate = Some(report::FixedRate {
                rate: options.rate,
                achieved: paced.per_second(),
                ack_p50: paced.ack_latency.quantile(0.5),
                ack_p99: paced.ack_latency.quantile(0.99),
            });
            let mut flood = flood;
            flood.sent += paced.sent;
            flood.retries += paced.retries;
            flood.acked.extend(paced.acked);
            // The headline figures stay those of the flood.
            flood
        }
        Scenario::Backlog | Scenario::Takeover => {
            let plan = load::bursts(
                "backlog",
                options.handoffs,
                options.handoffs,
                Duration::ZERO,
                Duration::ZERO,
                options.seed,
            );
            let load = load::play(&target, plan, options.concurrency, Clock::FromSend).await;
            // Every handoff made and queued while delivery was held: then the backlog is let go.
            wait_made(&daemon_metrics, options.drain_timeout).await?;
            fleet.lock().await.release_delivery().await.context("releasing delivery")?;
            // The share is counted from the first request after the release: a restart that lets the backlog go
            // is the bench's (new limits), and the killed holder's lease must lapse first on PostgreSQL.
            released_at = Some(first_request_after(&mock, started).await);
            if options.scenario == Scenario::Takeover {
                tokio::time::sleep(options.kill_after).await;
                let lease = format!("crm:{}", daemon_crm.id);
                report.takeover = Some(kill_the_holder(&fleet, &daemon_metrics, &mock, &lease).await?);
            }
            load
        }
        Scenario::Steady | Scenario::Faults => {
            let plan = steady_plan(options);
            load::play(&target, plan, options.concurrency, Clock::FromSend).await
        }
        Scenario::Crash => {
            let plan = steady_plan(options);
            let killer = tokio::spawn(kill_at_random_moments(fleet.clone(), options.clone()));
            let load = load::play(&target, plan, options.concurrency, Clock::FromSend).await;
            killer.await.context("the killer task")??;
            load
        }
    };
    report.set_load(&load);

    let (drained, counts) = wait_drained(&daemon_metrics, options.drain_timeout).await?;
    let samples = sampler.stop().await;
    report.elapsed = started.elapsed();
    report.drained = drained;
    report.dead_letters = counts.dead_letters as u64;
    report.backlog_share = samples.backlog_share(mock.allowance(), released_at);
    samples.write_csv(&state.path().join("samples.csv"));
    let fleet = Arc::try_unwrap(fleet).map_err(|_| anyhow::anyhow!("the daemons are still shared"))?.into_inner();
    report.restarts = fleet.restarts();
    report.peak_rss_kib = fleet.stop().await?;

    let mock_report = mock.report();
    report.crm_load = Some(mock.load());
    // The counts of the drained daemon: nothing changed them after the last poll but the graceful stop.
    let outcome = account::account(&counts, &mock.tasks(), &mock.contacts(), &load.acked, options.quiet_period)?;
    report.set_crm(&mock_report, outcome);
    let mock = Arc::try_unwrap(mock).map_err(|_| anyhow::anyhow!("the mock CRM is still shared"))?;
    mock.shutdown().await;
    Ok(report)
}

/// `a`, `b`, `c`, ...: the names of the instances in their files.
fn instance_name(index: usize) -> String {
    char::from(b'a' + (index % 26) as u8).to_string()
}

/// The CRM requests the mock has seen so far.
fn crm_requests(mock: &CrmUnderTest) -> u64 {
    mock.requests()
}

/// When (since `started`) the CRM first sees a request after now; waits for it.
async fn first_request_after(mock: &CrmUnderTest, started: Instant) -> Duration {
    let before = crm_requests(mock);
    while crm_requests(mock) == before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Kills the instance holding the CRM account's lease (SIGKILL, no restart) and times how long until the CRM sees
/// a request from another instance.
async fn kill_the_holder(
    fleet: &Mutex<Fleet>,
    metrics: &MetricsReader,
    mock: &CrmUnderTest,
    lease: &str,
) -> anyhow::Result<report::Takeover> {
    let holder = metrics.lease_holder(lease).await.context("no instance says it holds the CRM account's lease")?;
    let killed_at = Instant::now();
    fleet.lock().await.instances[holder].kill9().await?;
    // A request the dead holder sent just before the kill may still be arriving: count from a moment later.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = crm_requests(mock);
    let deadline = killed_at + Duration::from_secs(120);
    while crm_requests(mock) == before {
        anyhow::ensure!(Instant::now() < deadline, "no instance delivered within 120 s of the holder's death");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = killed_at.elapsed().as_secs_f64();
    let new_holder = metrics.lease_holder(lease).await;
    Ok(report::Takeover { killed: instance_name(holder), seconds, new_holder: new_holder.map(instance_name) })
}

fn steady_plan(options: &BenchOptions) -> Vec<load::Planned> {
    load::bursts("steady", options.messages, options.customers, options.duration, options.quiet_period, options.seed)
}

/// Kills the daemon `kills` times at random moments while the load runs (and the quiet periods end), restarting
/// it each time.
async fn kill_at_random_moments(fleet: Arc<Mutex<Fleet>>, options: BenchOptions) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x6b696c6c);
    let window = options.duration + options.quiet_period * 2;
    let mut moments: Vec<Duration> = (0..options.kills).map(|_| window.mul_f64(rng.random_range(0.05..1.0))).collect();
    moments.sort();
    let start = Instant::now();
    for moment in moments {
        tokio::time::sleep_until(start + moment).await;
        // With several instances, a different one each time.
        let mut fleet = fleet.lock().await;
        let index = rng.random_range(0..fleet.instances.len());
        fleet.instances[index].kill9_and_restart().await.context("restarting after SIGKILL")?;
    }
    Ok(())
}

/// Polls until every message is normalised and every handoff made (the outbox holds the rest).
async fn wait_made(daemon: &MetricsReader, timeout: Duration) -> anyhow::Result<()> {
    let (done, counts) = poll_counts(daemon, timeout, 1, DaemonCounts::made).await?;
    anyhow::ensure!(done, "the handoffs were not all made in time: {counts:?}");
    Ok(())
}

/// Polls until drained (twice in a row, a poll apart) or the timeout; returns whether it drained and the counts.
async fn wait_drained(daemon: &MetricsReader, timeout: Duration) -> anyhow::Result<(bool, DaemonCounts)> {
    let (drained, counts) = poll_counts(daemon, timeout, 2, DaemonCounts::drained).await?;
    if !drained {
        tracing::warn!(?counts, "The daemon did not drain in time.");
    }
    Ok((drained, counts))
}

/// Reads the daemon's counts every 250 ms until `done` holds on `streak` reads in a row or `timeout` has passed;
/// returns whether it held, and the last counts. A failed scrape (the daemon restarting) breaks the streak; at the
/// deadline it is the error returned.
async fn poll_counts(
    daemon: &MetricsReader,
    timeout: Duration,
    streak: u32,
    done: impl Fn(&DaemonCounts) -> bool,
) -> anyhow::Result<(bool, DaemonCounts)> {
    let deadline = Instant::now() + timeout;
    let mut held = 0;
    loop {
        let counts = daemon.read().await;
        held = match &counts {
            Ok(counts) if done(counts) => held + 1,
            _ => 0,
        };
        if held >= streak || Instant::now() > deadline {
            return Ok((held >= streak, counts?));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The run's database, configuration and daemon log; removed when the run ends unless `HANDOFFD_BENCH_KEEP` is set.
struct StateDir(PathBuf);

impl StateDir {
    fn create(seed: u64) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("handoffd-bench-{}-{seed}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Self(dir))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        if std::env::var_os("HANDOFFD_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("bench state kept in {}", self.0.display());
        }
    }
}

/// Once a second: the daemon's peak RSS, the CRM requests so far and whether a backlog exists.
struct Sampler {
    stop: tokio_util::sync::CancellationToken,
    handle: tokio::task::JoinHandle<Samples1s>,
}

/// Between two samples: its length in seconds, CRM requests, of which searches, and seconds of calls in flight.
type Interval = (f64, u64, u64, f64);

/// Once a second: seconds since start, CRM requests so far, of which searches, outbox jobs pending, of which
/// no delivery round holds yet, and the seconds of CRM calls in flight so far (summed over the calls).
#[derive(Debug, Default)]
struct Samples1s(Vec<(f64, u64, u64, i64, i64, f64)>);

impl Samples1s {
    /// For a closer look at a kept run (`HANDOFFD_BENCH_KEEP`): one line per second.
    fn write_csv(&self, path: &std::path::Path) {
        let mut csv = String::from("seconds,crm_requests,searches,outbox_pending,outbox_unleased,busy_seconds\n");
        for (secs, requests, searches, pending, unleased, busy) in &self.0 {
            csv.push_str(&format!("{secs:.1},{requests},{searches},{pending},{unleased},{busy:.2}\n"));
        }
        if let Err(error) = std::fs::write(path, csv) {
            tracing::warn!(%error, "Could not write the samples.");
        }
    }

    /// The share of the allowed rate used in the seconds that began with handoffs waiting for delivery (jobs in
    /// the outbox that no delivery round holds), and over the whole time jobs were pending; both from `from` on
    /// (when held delivery was let go), if given. `None` if the backlog lasted less than one ten-second window.
    /// Against a rate (HubSpot, Pipedrive), every request counts against the window's limit (handoffd's limiter
    /// charges searches to HubSpot's ten seconds too), and searches against the search limit. Against a
    /// concurrency cap (Zoho), the share is the average number of calls in flight over the cap. Salesforce has
    /// neither over seconds: its share is not a number (`NaN`), the calls in flight are still given.
    fn backlog_share(&self, allowance: Allowance, from: Option<Duration>) -> Option<report::BacklogShare> {
        let share = |seconds: &[Interval]| {
            let secs: f64 = seconds.iter().map(|s| s.0).sum();
            let requests: u64 = seconds.iter().map(|s| s.1).sum();
            let searches: u64 = seconds.iter().map(|s| s.2).sum();
            let busy: f64 = seconds.iter().map(|s| s.3).sum();
            let per_second = |count: u64, allowed: f64| count as f64 / (secs * allowed);
            let (requests_share, searches_share) = match allowance {
                Allowance::Rate { per_second: rate, searches_per_second } => {
                    (per_second(requests, rate), per_second(searches, searches_per_second))
                }
                Allowance::InFlight { cap } => (busy / (secs * cap), f64::NAN),
                Allowance::None => (f64::NAN, f64::NAN),
            };
            (secs, requests_share, searches_share, busy / secs)
        };
        let from = from.map_or(0.0, |d| d.as_secs_f64());
        // Each interval between two samples, with the state at its start.
        let intervals: Vec<(Interval, i64, i64)> = self
            .0
            .windows(2)
            .filter(|w| w[0].0 >= from)
            .map(|w| ((w[1].0 - w[0].0, w[1].1 - w[0].1, w[1].2 - w[0].2, w[1].5 - w[0].5), w[0].3, w[0].4))
            .collect();
        let waiting: Vec<_> = intervals.iter().filter(|(_, _, unleased)| *unleased > 0).map(|i| i.0).collect();
        let pending: Vec<_> = intervals.iter().filter(|(_, pending, _)| *pending > 0).map(|i| i.0).collect();
        let (secs, requests, searches, in_flight) = share(&waiting);
        let (pending_secs, whole, _, _) = share(&pending);
        (secs >= 10.0).then_some(report::BacklogShare {
            requests,
            searches,
            seconds: secs,
            whole_run: (pending_secs >= 10.0).then_some(whole),
            in_flight,
            allowance,
        })
    }
}

impl Sampler {
    fn start(fleet: Arc<Mutex<Fleet>>, daemon_metrics: MetricsReader, mock: Arc<CrmUnderTest>) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            let start = Instant::now();
            let mut samples = Samples1s::default();
            while !token.is_cancelled() {
                fleet.lock().await.sample_rss();
                // In process: the mock's gate counts calls as they arrive.
                let load = mock.load();
                // Pipedrive counts searches apart from its window: only the other calls count against it.
                let requests =
                    if mock.vendor == CrmVendor::Pipedrive { load.calls - load.searches } else { load.calls };
                // A second the daemon could not be read (a restart) has no sample: the next interval spans it.
                if let Ok(counts) = daemon_metrics.read().await {
                    let (pending, unleased) = (counts.outbox_pending, counts.outbox_unleased);
                    let at = start.elapsed().as_secs_f64();
                    samples.0.push((at, requests, load.searches, pending, unleased, load.busy_secs));
                }
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            samples
        });
        Self { stop, handle }
    }

    async fn stop(self) -> Samples1s {
        self.stop.cancel();
        self.handle.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample a second: (requests so far, searches so far, pending, unleased); one call in flight at all times.
    fn samples(rows: &[(u64, u64, i64, i64)]) -> Samples1s {
        Samples1s(rows.iter().enumerate().map(|(i, r)| (i as f64, r.0, r.1, r.2, r.3, i as f64)).collect())
    }

    const HUBSPOT: Allowance = Allowance::Rate { per_second: 19.0, searches_per_second: 4.0 };

    #[test]
    fn the_backlog_share_counts_the_seconds_that_begin_with_handoffs_waiting_after_the_release() {
        // Until second 5: held (nothing sent, jobs waiting); then 20 s of 19 requests and 3 searches a second with
        // jobs waiting; then 10 s with the last rounds in hand (nothing unleased), 10 requests a second.
        let mut rows = vec![(0, 0, 1000, 1000); 6];
        for second in 1..=20u64 {
            rows.push((19 * second, 3 * second, 1000, 800));
        }
        rows.last_mut().unwrap().3 = 0;
        for second in 1..=10u64 {
            rows.push((380 + 10 * second, 60, 200, 0));
        }
        let share = samples(&rows).backlog_share(HUBSPOT, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(share.seconds, 20.0, "{share:?}");
        assert!((share.requests - 1.0).abs() < 1e-9, "{share:?}");
        assert!((share.searches - 0.75).abs() < 1e-9, "{share:?}");
        // While any job was pending: 480 requests in 30 s against 19 a second.
        let whole = share.whole_run.unwrap();
        assert!((whole - 480.0 / (30.0 * 19.0)).abs() < 1e-9, "{share:?}");
        // Counted from the start instead, the held seconds pull it down.
        let from_start = samples(&rows).backlog_share(HUBSPOT, None).unwrap();
        assert!(from_start.requests < 0.85, "{from_start:?}");
    }

    #[test]
    fn against_a_concurrency_cap_the_share_is_the_calls_in_flight_over_the_cap() {
        // One call in flight all the time (the helper's busy seconds), jobs waiting throughout.
        let rows: Vec<_> = (0..12u64).map(|s| (s, 0, 10, 10)).collect();
        let share = samples(&rows).backlog_share(Allowance::InFlight { cap: 4.0 }, None).unwrap();
        assert!((share.requests - 0.25).abs() < 1e-9, "{share:?}");
        assert!((share.in_flight - 1.0).abs() < 1e-9, "{share:?}");
        // No short-term limit: no share, the calls in flight still counted.
        let none = samples(&rows).backlog_share(Allowance::None, None).unwrap();
        assert!(none.requests.is_nan() && (none.in_flight - 1.0).abs() < 1e-9, "{none:?}");
    }

    #[test]
    fn no_backlog_share_for_a_backlog_shorter_than_one_window() {
        let rows: Vec<_> = (0..8u64).map(|s| (19 * s, 0, 10, 10)).collect();
        assert!(samples(&rows).backlog_share(HUBSPOT, None).is_none());
    }
}
