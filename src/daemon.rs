//! Wires the stages together and owns shutdown.
//!
//! Shutdown order: stop accepting requests and finish the ones in flight (each of them is
//! answered only after its event is committed), let the inbox writer drain, then stop the
//! stage loops after their current round, within a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use handoffd_contract::kind::BuildContext;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Loaded;
use crate::conversation::HandoffMaker;
use crate::deliver::{Deliverer, RetryPolicy, StoreVault};
use crate::http::{AppState, router};
use crate::ingest::{InboxWriter, Normalizer};
use crate::interpret::Interpreter;
use crate::interpret::when::BusinessHours;
use crate::registry::Connectors;
use crate::route::Router;
use crate::store::Store;

/// How long the stages get to finish their current round at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

pub struct RunningDaemon {
    /// The address `server.listen` is bound to (useful with port 0).
    pub addr: SocketAddr,
    /// The address `admin.listen` is bound to (`/metrics`).
    pub admin_addr: SocketAddr,
    admin_server: JoinHandle<std::io::Result<()>>,
    pub store: Arc<dyn Store>,
    stop_server: CancellationToken,
    stop_stages: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    writer: JoinHandle<()>,
    stages: TaskTracker,
}

pub async fn start(loaded: &Loaded) -> anyhow::Result<RunningDaemon> {
    let config = &loaded.config;
    let store = crate::store::open(&config.store.url).await.context("opening the store")?;

    let timezone: chrono_tz::Tz =
        config.business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
    let hours = BusinessHours::parse(&config.business.hours).map_err(|e| anyhow::anyhow!("business.hours: {e}"))?;
    let interpreter = Arc::new(Interpreter::load(&config.interpret, loaded.base_dir())?);

    let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
    let context = BuildContext { vault: Arc::new(StoreVault(store.clone())), http };
    let connectors = Arc::new(Connectors::build(&config.connectors, &context)?);
    let crm = connectors
        .crms
        .get(&config.delivery.crm)
        .cloned()
        .with_context(|| format!("delivery.crm names `{}`, which is not a configured CRM", config.delivery.crm))?;

    let inbox_committed = Arc::new(Notify::new());
    let handoffs_changed = Arc::new(Notify::new());
    let outbox_changed = Arc::new(Notify::new());
    let (writer, inbox) = InboxWriter::new(store.clone(), inbox_committed.clone());
    let writer = tokio::spawn(writer.run());

    let quiet_period = chrono::Duration::from_std(config.conversation.quiet_period.get())?;
    let reopen_after = chrono::Duration::from_std(config.conversation.reopen_after.get())?;
    let stop_stages = CancellationToken::new();
    let stages = TaskTracker::new();
    stages.spawn(
        Normalizer {
            store: store.clone(),
            connectors: connectors.clone(),
            quiet_period,
            reopen_after,
            handoff_phrases: config.conversation.handoff_phrases.iter().map(|p| p.to_lowercase()).collect(),
            inbox_committed,
            handoffs_changed: handoffs_changed.clone(),
        }
        .run(stop_stages.clone()),
    );
    stages.spawn(
        HandoffMaker {
            store: store.clone(),
            interpreter,
            router: Router {
                owners: config.routing.owners.clone(),
                due: config.routing.due.clone(),
                timezone,
                hours,
                store: store.clone(),
            },
            crm_id: config.delivery.crm.clone(),
            timezone,
            business_hours: config.business.hours.clone(),
            reopen_after,
            last_expiry: Default::default(),
            handoffs_changed,
            outbox_changed: outbox_changed.clone(),
        }
        .run(stop_stages.clone()),
    );
    if let Some(expression) = &config.identity.crm_sync {
        stages.spawn(
            crate::identity::sync::CrmSync {
                store: store.clone(),
                crm: crm.clone(),
                schedule: crate::identity::sync::parse_schedule(expression)?,
                default_region: config
                    .connectors
                    .iter()
                    .find(|c| c.id() == config.delivery.crm)
                    .and_then(|c| c.default_region())
                    .map(str::to_owned),
            }
            .run(stop_stages.clone()),
        );
    }
    stages.spawn(
        Deliverer {
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
            // Stable across restarts (not the pid), so a restarted daemon takes back at once the
            // jobs its killed predecessor had leased; two daemons on one host differ by port.
            worker_id: format!("{}:{}", hostname(), config.server.listen),
            prepared: Default::default(),
        }
        .run(stop_stages.clone()),
    );
    stages.close();

    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on server.listen `{}`", config.server.listen))?;
    let addr = listener.local_addr()?;
    let app = router(AppState { store: store.clone(), connectors, inbox }, config.server.max_body_bytes);
    let stop_server = CancellationToken::new();
    crate::http::admin::metrics_handle();
    let server = tokio::spawn(
        axum::serve(listener, app).with_graceful_shutdown(stop_server.clone().cancelled_owned()).into_future(),
    );
    let admin_listener = tokio::net::TcpListener::bind(&config.admin.listen)
        .await
        .with_context(|| format!("cannot listen on admin.listen `{}`", config.admin.listen))?;
    let admin_addr = admin_listener.local_addr()?;
    let admin = crate::http::admin::router(config.admin.token.clone(), store.clone());
    let admin_server = tokio::spawn(
        axum::serve(admin_listener, admin).with_graceful_shutdown(stop_server.clone().cancelled_owned()).into_future(),
    );
    tracing::info!(%addr, %admin_addr, store = %redact_url(&config.store.url), "handoffd is running.");
    Ok(RunningDaemon { addr, admin_addr, admin_server, store, stop_server, stop_stages, server, writer, stages })
}

impl RunningDaemon {
    /// Stop accepting, finish in-flight work, and return when everything has stopped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("Shutting down: no new requests; finishing those in flight.");
        self.stop_server.cancel();
        self.server.await??;
        self.admin_server.await??;
        // Every request handle is gone with the server: the writer drains and stops.
        self.writer.await?;
        self.stop_stages.cancel();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, self.stages.wait()).await.is_err() {
            tracing::warn!("The pipeline stages did not stop within {SHUTDOWN_DEADLINE:?}; exiting anyway.");
        }
        tracing::info!("handoffd has stopped.");
        Ok(())
    }
}

fn redact_url(url: &str) -> String {
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
