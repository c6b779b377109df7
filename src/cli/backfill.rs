//! `handoffd backfill --connector ID --since 30d [--until T]`: a vendor's history read through
//! the connector's poller from a given time (further back than its `poll.look_back`), each page
//! committed through the inbox. Dedup keys make a re-run, or an overlap with what the poller and
//! the webhooks brought, harmless.
//!
//! This process walks the vendor (with the configuration's credentials); each page goes to the
//! running daemon's admin API when one answers (its normaliser takes it at once), or into the
//! store's inbox when none does (normalised at the next start). It says which.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::inbox::{Committed, InboxError, InboxSink, InboxSource};
use handoffd_contract::kind::BuildContext;
use handoffd_contract::webhook::Verified;

use super::admin_client::{AdminClient, Via, segment};
use crate::deliver::StoreVault;
use crate::ingest::backfill::{Progress, StoreInbox, backfill};
use crate::registry::Connectors;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The poller's connector id.
    #[arg(long)]
    pub connector: String,
    /// Read from this far back (`30d`, `12h`) or from an RFC 3339 time.
    #[arg(long)]
    pub since: String,
    /// Stop once the walk has passed this time (RFC 3339, or a duration ago); default: now.
    #[arg(long)]
    pub until: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let now = Utc::now();
    let since = super::replay::instant(&args.since, now).context("--since")?;
    let until = args.until.as_deref().map(|t| super::replay::instant(t, now)).transpose().context("--until")?;
    if until.is_some_and(|until| until <= since) {
        anyhow::bail!("--until must be later than --since");
    }
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let config = &loaded.config;
        let Some(block) = config.connectors.iter().find(|c| c.id() == args.connector) else {
            let known: Vec<&str> = config.connectors.iter().map(|c| c.id()).collect();
            anyhow::bail!("no connector `{}` is configured (configured: {})", args.connector, known.join(", "));
        };
        let via = super::admin_client::connect(&args.config).await?;
        let store = match &via {
            Via::Store(store) => store.clone(),
            // The connectors' credential vault (OAuth tokens) is the store, daemon or not.
            Via::Daemon(_) => super::store_from_config(&args.config).await?,
        };
        let token_keys = config.store.token_keys().map_err(|error| anyhow::anyhow!("store.token_keys: {error}"))?;
        let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
        let context = BuildContext { vault: Arc::new(StoreVault::new(store.clone(), token_keys)), http };
        let connectors = Connectors::build(std::slice::from_ref(block), &context)?;
        let Some(source) = connectors.poll_sources.get(&args.connector) else {
            anyhow::bail!(
                "connector `{}` ({}) has no poller: backfill reads a vendor's history through its `poll:` block",
                args.connector,
                block.kind()
            );
        };
        let inbox: Box<dyn InboxSink> = match via {
            Via::Daemon(client) => Box::new(DaemonInbox(client)),
            Via::Store(store) => Box::new(StoreInbox(store)),
        };
        let shown = Shown::new(since, until.unwrap_or(now));
        let done = backfill(source.as_ref(), inbox.as_ref(), since, until, |p| shown.update(p)).await;
        shown.finish();
        let done = done?;
        println!(
            "Backfilled `{}` from {}: {} pages, {} interactions committed to the inbox (duplicates are dropped when \
             they are normalised).",
            args.connector,
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            done.pages,
            done.interactions
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The running daemon's inbox, through `POST /admin/connectors/{id}/backfill`.
struct DaemonInbox(AdminClient);

#[async_trait]
impl InboxSink for DaemonInbox {
    async fn accept(&self, connector_id: &str, _: InboxSource, event: Verified) -> Result<Committed, InboxError> {
        let path = format!("/admin/connectors/{}/backfill", segment(connector_id));
        let answer: serde_json::Value =
            self.0.post_body(&path, event.body().to_vec()).await.map_err(|e| InboxError(format!("{e:#}")))?;
        Ok(Committed { inbox_id: answer["inbox_id"].as_i64().unwrap_or_default() })
    }
}

/// A progress bar over the time range on a terminal, a line every few seconds otherwise.
struct Shown {
    since: DateTime<Utc>,
    bar: Option<indicatif::ProgressBar>,
    last_line: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Shown {
    fn new(since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new((until - since).num_seconds().max(1) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {percent}% of the range, {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar
        });
        Self { since, bar, last_line: Default::default() }
    }

    fn update(&self, progress: &Progress) {
        let reached = progress.reached.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let counts = format!("{} pages, {} interactions", progress.pages, progress.interactions);
        match &self.bar {
            Some(bar) => {
                if let Some(at) = progress.reached {
                    bar.set_position((at - self.since).num_seconds().max(0) as u64);
                }
                bar.set_message(counts);
            }
            None => {
                let mut last = self.last_line.lock().expect("the last line's time");
                if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                    eprintln!("backfill: {counts}, up to {}", reached.as_deref().unwrap_or("(not known yet)"));
                    *last = Some(std::time::Instant::now());
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
