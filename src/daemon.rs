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
use crate::ingest::{InboxWriter, Normalizer};
use crate::interpret::Interpreter;
use crate::registry::Connectors;
use crate::store::Store;

pub mod supervisor;

use supervisor::{StageHealth, Supervisor};

/// How long the stages get to finish their current round at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

pub struct RunningDaemon {
    /// The address `server.listen` is bound to (useful with port 0).
    pub addr: SocketAddr,
    /// The address `admin.listen` is bound to (`/metrics`).
    pub admin_addr: SocketAddr,
    pub store: Arc<dyn Store>,
    supervisor: Supervisor,
    stop_server: CancellationToken,
    server: JoinHandle<()>,
    admin_server: JoinHandle<()>,
    writer: JoinHandle<()>,
}

pub async fn start(loaded: &Loaded) -> anyhow::Result<RunningDaemon> {
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
    let store = crate::store::open(&store_url).await.context("opening the store")?;
    // Before any stage looks for work, so that no other instance's wake-up is missed.
    let wakeups = store.subscribe().await.context("listening for the other instances' wake-ups")?;

    let interpreter = Arc::new(Interpreter::load(&config.interpret, loaded.base_dir())?);
    let briefs = BriefMaker::from_config(config, interpreter, store.clone())?;

    let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
    let context = BuildContext { vault: Arc::new(StoreVault(store.clone())), http };
    let connectors = Arc::new(Connectors::build(&config.connectors, &context)?);
    let crm = connectors
        .crms
        .get(&config.delivery.crm)
        .cloned()
        .with_context(|| format!("delivery.crm names `{}`, which is not a configured CRM", config.delivery.crm))?;
    let sync_schedule = config
        .identity
        .crm_sync
        .as_deref()
        .map(crate::identity::sync::parse_schedule)
        .transpose()
        .map_err(|message| anyhow::anyhow!("identity.crm_sync: {message}"))?;

    let quiet_period = chrono::Duration::from_std(config.conversation.quiet_period.get())?;
    let reopen_after = chrono::Duration::from_std(config.conversation.reopen_after.get())?;
    // Everything that can fail is done: from here on no task is left running by an early return.
    let supervisor = Supervisor::new();
    let inbox_committed = Arc::new(Notify::new());
    let handoffs_changed = Arc::new(Notify::new());
    let outbox_changed = Arc::new(Notify::new());
    let (writer, inbox) = InboxWriter::new(store.clone(), inbox_committed.clone());
    let writer = supervisor.spawn("inbox_writer", writer.run());

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
    if let Some(schedule) = sync_schedule {
        let sync = crate::identity::sync::CrmSync {
            store: store.clone(),
            crm: crm.clone(),
            schedule,
            default_region: config
                .connectors
                .iter()
                .find(|c| c.id() == config.delivery.crm)
                .and_then(|c| c.default_region())
                .map(str::to_owned),
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
    let deliverer = Deliverer {
        account: crate::lease::Lease::new(
            store.clone(),
            format!("crm:{}", crm.id()),
            &worker_id,
            crate::deliver::ACCOUNT_LEASE,
        ),
        store: store.clone(),
        crm,
        retry: RetryPolicy {
            max_attempts: config.delivery.max_attempts,
            min_delay: config.delivery.retry_min.get(),
            max_delay: config.delivery.retry_max.get(),
        },
        batch_size: config.delivery.batch_size,
        linger: config.delivery.linger.get(),
        outbox_changed,
        worker_id,
        prepared: Default::default(),
    };
    supervisor.spawn_stage("deliver", |stop| deliverer.run(stop));

    let app = router(
        AppState { store: store.clone(), connectors, inbox, stages: supervisor.health() },
        config.server.max_body_bytes,
    );
    let stop_server = CancellationToken::new();
    crate::http::admin::metrics_handle();
    let server = supervisor.spawn(
        "server",
        serve("server", axum::serve(listener, app).with_graceful_shutdown(stop_server.clone().cancelled_owned())),
    );
    let admin = crate::http::admin::router(config.admin.token.clone(), store.clone());
    let admin_server = supervisor.spawn(
        "admin_server",
        serve(
            "admin_server",
            axum::serve(admin_listener, admin).with_graceful_shutdown(stop_server.clone().cancelled_owned()),
        ),
    );
    tracing::info!(%addr, %admin_addr, store = %redact_url(&store_url), "handoffd is running.");
    Ok(RunningDaemon { addr, admin_addr, store, supervisor, stop_server, server, admin_server, writer })
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
                    // The stages poll meanwhile; the listener reconnects on the next call.
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

/// A server as a supervised task: an error is logged, and its end is then the supervisor's to report.
async fn serve(name: &'static str, server: impl std::future::IntoFuture<Output = std::io::Result<()>>) {
    if let Err(error) = server.into_future().await {
        tracing::error!(%error, "The `{name}` listener failed.");
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
        self.shutdown().await?;
        match failure {
            Some(failure) => Err(anyhow::anyhow!("{failure}; handoffd stopped so that it can be restarted")),
            None => Ok(()),
        }
    }

    /// Stop accepting, finish in-flight work, and return when everything has stopped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("Shutting down: no new requests; finishing those in flight.");
        self.supervisor.begin_shutdown();
        self.stop_server.cancel();
        self.server.await?;
        self.admin_server.await?;
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

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into())
}
