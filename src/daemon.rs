//! Wires the stages together and owns shutdown.
//!
//! Start order: bind the listeners, open the store, then start the stages, each a named task
//! under the [`supervisor`], which notices a stage that ends or panics (`/readyz` turns 503 and
//! [`RunningDaemon::run_until`] returns the failure, so the process exits non-zero).
//!
//! Shutdown order: stop accepting requests and finish the ones in flight (each of them is
//! answered only after its event is committed), let the inbox writer drain, then stop the
//! stage loops after their current round, within a deadline that names the stages it missed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use handoffd_contract::kind::BuildContext;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Loaded;
use crate::conversation::{BriefMaker, HandoffMaker};
use crate::deliver::{Deliverer, RetryPolicy, StoreVault};
use crate::http::{AppState, router};
use crate::ingest::poll::{Backoff, PollHost, Poller};
use crate::ingest::{InboxWriter, Normalizer};
use crate::interpret::Interpreter;
use crate::registry::Connectors;
use crate::store::Store;

pub mod controls;
pub mod notify;
pub mod queue_gauges;
pub mod reload;
pub mod shared;
pub mod supervisor;
mod watchdog;

pub use notify::ServiceManager;
use shared::Shared;
use supervisor::{StageHealth, Supervisor};

/// How long the stages get to finish their current round at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);
/// How long a claimed poll cursor stays this instance's: longer than any one poll, short enough
/// that another instance takes over soon after this one dies.
const POLL_LEASE: Duration = Duration::from_secs(120);

pub struct RunningDaemon {
    /// The address `server.listen` is bound to (useful with port 0).
    pub addr: SocketAddr,
    /// The address `admin.listen` is bound to (`/metrics`).
    pub admin_addr: SocketAddr,
    pub store: Arc<dyn Store>,
    supervisor: Supervisor,
    manager: ServiceManager,
    reloader: Arc<reload::Reloader>,
    stop_server: CancellationToken,
    server: JoinHandle<()>,
    admin_server: JoinHandle<()>,
    /// The poll host, when a connector polls: it holds an inbox handle, so it stops before the writer.
    poll_host: Option<JoinHandle<()>>,
    writer: JoinHandle<()>,
}

/// Start without a service manager (tests, `handoffd demo`).
pub async fn start(loaded: &Loaded) -> anyhow::Result<RunningDaemon> {
    start_with(loaded, ServiceManager::none()).await
}

/// Start, telling `manager` (systemd) what happens: `READY=1` once the store is migrated and
/// both listeners are bound, and watchdog pings while no stage is wedged.
pub async fn start_with(loaded: &Loaded, manager: ServiceManager) -> anyhow::Result<RunningDaemon> {
    let config = &loaded.config;
    // Bound first: an address in use fails the start before any stage has touched the store.
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on server.listen `{}`", config.server.listen))?;
    let addr = listener.local_addr()?;
    let admin_listener = tokio::net::TcpListener::bind(&config.admin.listen)
        .await
        .with_context(|| format!("cannot listen on admin.listen `{}`", config.admin.listen))?;
    let admin_addr = admin_listener.local_addr()?;

    let store_url = loaded.store_url();
    manager.status("Starting: opening the store and running its migrations");
    let store = crate::store::open(&store_url).await.context("opening the store")?;
    // Before any stage looks for work, so that no other instance's wake-up is missed.
    let wakeups = store.subscribe().await.context("listening for the other instances' wake-ups")?;

    let interpreter = Arc::new(Interpreter::load(&config.interpret, loaded.base_dir())?);
    let briefs = BriefMaker::from_config(config, interpreter, store.clone())?;

    let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
    let token_keys = config.store.token_keys().map_err(|error| anyhow::anyhow!("store.token_keys: {error}"))?;
    if token_keys.is_none() {
        tracing::warn!("store.token_keys is not set: OAuth tokens are stored unencrypted in the store.");
    }
    let context_http = http.clone();
    let context = BuildContext { vault: Arc::new(StoreVault::new(store.clone(), token_keys)), http };
    let connectors = Connectors::build(&config.connectors, &context)?;
    let crm = connectors
        .crms
        .get(&config.delivery.crm)
        .cloned()
        .with_context(|| format!("delivery.crm names `{}`, which is not a configured CRM", config.delivery.crm))?;
    // Every stage's CRM calls are counted and timed (`handoffd_crm_calls_total`).
    let crm = crate::deliver::MeteredCrm::wrap(crm);
    // What a reload swaps whole.
    let connectors = Shared::new(connectors);
    let briefs = Shared::new(briefs);
    let reloader = Arc::new(reload::Reloader {
        path: loaded.path.clone(),
        running: std::sync::Mutex::new(reload::RestartOnly::of(config)),
        connectors: connectors.clone(),
        briefs: briefs.clone(),
        store: store.clone(),
        context,
        manager: manager.clone(),
        busy: Default::default(),
        // The file as it is now: the caller parsed it a moment ago (a reload hashes the bytes it parses).
        config_sha256: std::sync::Mutex::new(
            std::fs::read(&loaded.path).map(|bytes| crate::config::file_sha256(&bytes)).unwrap_or_default(),
        ),
    });
    let sync_schedule = config
        .identity
        .crm_sync
        .as_deref()
        .map(crate::identity::sync::parse_schedule)
        .transpose()
        .map_err(|message| anyhow::anyhow!("identity.crm_sync: {message}"))?;

    let owner_sync_schedule = crate::route::sync::parse_schedule(
        config.routing.owner_sync.as_deref().unwrap_or(crate::route::sync::DEFAULT_SCHEDULE),
    )
    .map_err(|message| anyhow::anyhow!("routing.owner_sync: {message}"))?;

    // Pollers are built once: a reload that adds or changes one takes effect at restart.
    let pollers = connectors
        .get()
        .poll_sources
        .values()
        .map(|source| Poller::new(source.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let quiet_period = chrono::Duration::from_std(config.conversation.quiet_period.get())?;
    let reopen_after = chrono::Duration::from_std(config.conversation.reopen_after.get())?;
    let timezone: chrono_tz::Tz =
        config.business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
    let controls = crate::daemon::controls::Controls::default();
    // Pauses kept in the store hold from the first round of every stage.
    controls.load(store.as_ref()).await.context("reading the paused connectors")?;
    // Everything that can fail is done: from here on no task is left running by an early return.
    let supervisor = Supervisor::with_stuck_after(config.service.stuck_after.get());
    let inbox_committed = Arc::new(Notify::new());
    let handoffs_changed = Arc::new(Notify::new());
    let outbox_changed = Arc::new(Notify::new());
    let (writer, inbox) = InboxWriter::new(store.clone(), inbox_committed.clone());
    let writer = supervisor.spawn("inbox_writer", writer.run());
    // The poll host commits through the inbox writer, so it stops with the servers, before the
    // writer drains.
    let stop_server = CancellationToken::new();
    let poll_host = (!pollers.is_empty()).then(|| {
        let host = PollHost {
            store: store.clone(),
            inbox: Arc::new(inbox.clone()),
            pollers,
            holder: format!("{}:{}", hostname(), config.server.listen),
            lease: POLL_LEASE,
            backoff: Backoff::default(),
            controls: controls.clone(),
        };
        supervisor.spawn("poll", host.run(stop_server.clone()))
    });

    if let Some(wakeups) = wakeups {
        let stages = Wakers {
            inbox: inbox_committed.clone(),
            handoffs: handoffs_changed.clone(),
            outbox: outbox_changed.clone(),
        };
        supervisor.spawn_stage("wakeups", |stop| stages.forward(wakeups, stop));
    }
    let normalizer = Normalizer {
        store: store.clone(),
        connectors: connectors.clone(),
        quiet_period,
        reopen_after,
        handoff_phrases: config.conversation.handoff_phrases.iter().map(|p| p.to_lowercase()).collect(),
        inbox_committed,
        handoffs_changed: handoffs_changed.clone(),
    };
    supervisor.spawn_stage("normalize", |stop| normalizer.run(stop));
    supervisor.spawn_stage("queue_gauges", {
        let store = store.clone();
        move |stop| queue_gauges::run(store, stop)
    });
    supervisor.spawn_stage("pauses", {
        let (controls, store) = (controls.clone(), store.clone());
        move |stop| controls.follow_store(store, stop)
    });
    let owner_sync = crate::route::sync::OwnerSync {
        store: store.clone(),
        crm: crm.clone(),
        crm_id: config.delivery.crm.clone(),
        router: briefs.clone(),
        schedule: owner_sync_schedule,
        lease: crate::lease::Lease::new(
            store.clone(),
            format!("owner_sync:{}", config.delivery.crm),
            &format!("{}:{}", hostname(), config.server.listen),
            crate::route::sync::OWNER_SYNC_LEASE,
        ),
    };
    let briefs_for_watch = briefs.clone();
    let maker = HandoffMaker {
        store: store.clone(),
        briefs,
        crm_id: config.delivery.crm.clone(),
        reopen_after,
        last_expiry: Default::default(),
        handoffs_changed,
        outbox_changed: outbox_changed.clone(),
    };
    supervisor.spawn_stage("make_handoffs", |stop| maker.run(stop));
    supervisor.spawn_stage("owner_sync", |stop| owner_sync.run(stop));
    let crm_region = config
        .connectors
        .iter()
        .find(|c| c.id() == config.delivery.crm)
        .and_then(|c| c.default_region())
        .map(str::to_owned);
    // A cache that is synced can be made fresh for a round of new customers (see `deliver::Freshness`).
    let freshness = sync_schedule.is_some().then(|| Arc::new(crate::deliver::Freshness::new(crm_region.clone())));
    if let Some(schedule) = sync_schedule {
        let sync = crate::identity::sync::CrmSync {
            store: store.clone(),
            crm: crm.clone(),
            schedule,
            default_region: crm_region,
            lease: crate::lease::Lease::new(
                store.clone(),
                format!("crm_sync:{}", crm.id()),
                &format!("{}:{}", hostname(), config.server.listen),
                crate::identity::sync::SYNC_LEASE,
            ),
        };
        supervisor.spawn_stage("crm_sync", |stop| sync.run(stop));
    }
    // Stable across restarts (not the pid), so a restarted daemon takes back at once the jobs its killed
    // predecessor had leased; two daemons on one host differ by port.
    let worker_id = format!("{}:{}", hostname(), config.server.listen);
    // Delivery and the SLA watcher share the account's lease: the instance that holds it makes all of the
    // account's calls, so its rate limit stays exact.
    let account = Arc::new(crate::lease::Lease::new(
        store.clone(),
        format!("crm:{}", crm.id()),
        &worker_id,
        crate::deliver::ACCOUNT_LEASE,
    ));
    if let Some(sla) = &config.sla {
        let watcher = crate::watch::SlaWatcher {
            store: store.clone(),
            crm: crm.clone(),
            sla: sla.clone(),
            // The router new handoffs are routed with, read afresh at each reassignment: a reload's routing
            // reaches the watcher at once.
            reassigner: Arc::new(crate::watch::RouterReassigner::following({
                let briefs = briefs_for_watch.clone();
                move || briefs.get().router.clone()
            })),
            messengers: connectors.get().messengers.clone(),
            http: context_http.clone(),
            timezone,
            account: account.clone(),
            takes_lease: false,
        };
        supervisor.spawn_stage("sla_watch", |stop| watcher.run(stop));
    }
    let linger = match &config.delivery.linger {
        Some(linger) => linger.get(),
        None => crate::deliver::default_linger(&crm.limits()),
    };
    tracing::info!(crm = %crm.id(), linger = ?linger, "Partial task batches wait this long for more tasks.");
    let deliverer = Deliverer {
        account,
        store: store.clone(),
        crm,
        retry: RetryPolicy {
            max_attempts: config.delivery.max_attempts,
            min_delay: config.delivery.retry_min.get(),
            max_delay: config.delivery.retry_max.get(),
        },
        batch_size: config.delivery.batch_size,
        linger,
        outbox_changed,
        worker_id,
        prepared: Default::default(),
        controls: controls.clone(),
        preset_after: Default::default(),
        freshness,
    };
    supervisor.spawn_stage("deliver", |stop| deliverer.run(stop));

    let admin_connectors = connectors.clone();
    let admin_inbox = inbox.clone();
    let app = router(
        AppState { store: store.clone(), connectors, inbox, stages: supervisor.health() },
        config.server.max_body_bytes,
    );
    crate::http::admin::metrics_handle();
    let limits = fit_to_open_files(config.server.connection_limits());
    // Each request carries its peer address (`ConnectInfo`), for connectors that allow only
    // listed sources (Exotel signs nothing).
    let server =
        supervisor.spawn("server", crate::http::serve::serve("server", listener, app, limits, stop_server.clone()));
    let admin = crate::http::admin::router(crate::http::admin::Admin {
        token: config.admin.token.clone(),
        store: store.clone(),
        reloader: Some(reloader.clone()),
        connectors: admin_connectors,
        controls,
        delivery_crm: config.delivery.crm.clone(),
        inbox: Some(Arc::new(admin_inbox)),
    });
    let admin_server = supervisor.spawn(
        "admin_server",
        crate::http::serve::serve("admin_server", admin_listener, admin, limits, stop_server.clone()),
    );
    if let Some(interval) = manager.watchdog_interval() {
        let (manager, health) = (manager.clone(), supervisor.health());
        supervisor.spawn_stage("watchdog", move |stop| watchdog::run(manager, health, interval, stop));
    }
    tracing::info!(%addr, %admin_addr, store = %redact_url(&store_url), "handoffd is running.");
    manager.ready(&format!("Running: webhooks on {addr}, admin on {admin_addr}"));
    Ok(RunningDaemon {
        addr,
        admin_addr,
        store,
        supervisor,
        manager,
        reloader,
        stop_server,
        server,
        admin_server,
        poll_host,
        writer,
    })
}

/// The in-process wake-ups of the stages, woken too by the other instances' commits (PostgreSQL).
struct Wakers {
    inbox: Arc<Notify>,
    handoffs: Arc<Notify>,
    outbox: Arc<Notify>,
}

impl Wakers {
    async fn forward(self, mut wakeups: Box<dyn crate::store::Wakeups>, stop: CancellationToken) {
        use crate::store::Wakeup;
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = wakeups.next() => next,
            };
            match next {
                Ok(Wakeup::Inbox) => self.inbox.notify_one(),
                Ok(Wakeup::Handoffs) => self.handoffs.notify_one(),
                Ok(Wakeup::Outbox) => self.outbox.notify_one(),
                Err(error) => {
                    // The stages poll meanwhile; the listener reconnects on the next call, then wakes every stage
                    // once (wake-ups notified while no connection listened are gone).
                    tracing::warn!(%error, "Listening for the other instances' wake-ups failed; retrying.");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}

impl RunningDaemon {
    /// Run a stage of the caller's beside the daemon's own, under the same supervision (tests
    /// inject stages that end or panic).
    pub fn spawn_stage<F, Fut>(&self, name: &'static str, stage: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.supervisor.spawn_stage(name, stage);
    }

    /// What SIGHUP and `handoffd reload` call.
    pub fn reloader(&self) -> Arc<reload::Reloader> {
        self.reloader.clone()
    }

    /// Which stages failed, as `/readyz` sees them.
    pub fn stage_health(&self) -> StageHealth {
        self.supervisor.health()
    }

    /// Serve until `signal` (SIGTERM) or until a stage fails, then shut down. A failed stage is
    /// an error, so the process exits non-zero and systemd (`Restart=on-failure`) restarts it.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let health = self.stage_health();
        let failure = tokio::select! {
            _ = signal => None,
            failure = health.first_failure() => Some(failure),
        };
        if let Some(failure) = &failure {
            self.manager.status(&format!("Failed: {failure}"));
        }
        self.shutdown().await?;
        match failure {
            Some(failure) => Err(anyhow::anyhow!("{failure}; handoffd stopped so that it can be restarted")),
            None => Ok(()),
        }
    }

    /// Stop accepting, finish in-flight work, and return when everything has stopped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("Shutting down: no new requests; finishing those in flight.");
        self.manager.stopping();
        self.supervisor.begin_shutdown();
        self.stop_server.cancel();
        self.server.await?;
        self.admin_server.await?;
        if let Some(poll_host) = self.poll_host {
            poll_host.await?;
        }
        // Every request handle is gone with the server: the writer drains and stops.
        self.writer.await?;
        if let Err(running) = self.supervisor.shutdown(SHUTDOWN_DEADLINE).await {
            let names = running.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
            tracing::warn!("The stages {names} did not stop within {SHUTDOWN_DEADLINE:?}; exiting anyway.");
        }
        tracing::info!("handoffd has stopped.");
        Ok(())
    }
}

/// A store URL fit for logs and error messages: no password.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Both listeners' connection caps together must fit the open-file limit, with room for the
/// databases, the CRM clients and the logs: a cap above it would let idle clients exhaust the
/// descriptors (`accept: Too many open files`) and stop every webhook.
fn fit_to_open_files(limits: crate::http::serve::ConnectionLimits) -> crate::http::serve::ConnectionLimits {
    const RESERVED: usize = 128;
    let Some(open_files) = open_file_limit() else { return limits };
    let fits = (open_files.saturating_sub(RESERVED) / 2).max(16);
    if fits < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            open_file_limit = open_files,
            using = fits,
            "server.max_connections does not fit the open-file limit (LimitNOFILE=); each listener takes at most {fits}."
        );
        return crate::http::serve::ConnectionLimits { max_connections: fits, ..limits };
    }
    limits
}

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (Linux); `None` elsewhere.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into())
}
