//! `handoffd connector list|pause|resume|poll`. A pause is kept in the store until `resume`: it
//! survives a restart and holds on every instance; with no daemon running, pause and resume
//! write the store directly. What a pause means for a poller, the delivery CRM and a webhook
//! source is in `daemon::controls` and the README. `list` and `poll` need the running daemon.

use std::process::ExitCode;

use super::admin_client::{Via, connect, daemon, segment};
use crate::http::admin::wire::{ConnectorView, ControlOutcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Every configured connector: its kind, its roles, whether it is paused.
    List,
    /// Pause a poller (it stops polling) or the delivery CRM (jobs wait in the outbox).
    Pause { id: String },
    /// Resume a paused connector.
    Resume { id: String },
    /// Poll now instead of at the next scheduled time.
    Poll { id: String },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        if let Action::Pause { id } | Action::Resume { id } = &args.action
            && let Via::Store(store) = connect(&args.config).await?
        {
            return pause_in_store(&args.config, store, id, matches!(args.action, Action::Pause { .. })).await;
        }
        let api = daemon(&args.config).await?;
        let (verb, id) = match &args.action {
            Action::List => {
                let connectors: Vec<ConnectorView> = api.get("/admin/connectors").await?;
                for connector in connectors {
                    println!(
                        "{}\t{}\t{}\t{}",
                        connector.id,
                        connector.kind,
                        connector.roles.join(","),
                        if connector.paused {
                            "paused"
                        } else if connector.pausable {
                            "running"
                        } else {
                            "-"
                        }
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            Action::Pause { id } => ("pause", id),
            Action::Resume { id } => ("resume", id),
            Action::Poll { id } => ("poll", id),
        };
        let outcome: ControlOutcome = api.post(&format!("/admin/connectors/{}/{verb}", segment(id))).await?;
        match (outcome.state.as_str(), outcome.changed) {
            ("paused", true) => {
                println!("`{id}` is paused until `handoffd connector resume {id}` (kept in the store).")
            }
            ("paused", false) => println!("`{id}` was paused already."),
            ("resumed", true) => println!("`{id}` is resumed."),
            ("resumed", false) => println!("`{id}` was not paused."),
            _ => println!("`{id}` polls now."),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Pause or resume with no daemon running: the store keeps it for the next start (and for every
/// instance). Only a connector that can be paused: a poller or the delivery CRM.
async fn pause_in_store(
    config: &super::ConfigArg,
    store: std::sync::Arc<dyn crate::store::Store>,
    id: &str,
    paused: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&config.config)?;
    let Some(block) = loaded.config.connectors.iter().find(|c| c.id() == id) else {
        anyhow::bail!("no connector `{id}` is configured");
    };
    // Built (no network) to see whether it polls, as the daemon does.
    let context = handoffd_contract::kind::BuildContext {
        vault: std::sync::Arc::new(crate::deliver::StoreVault::new(store.clone(), None)),
        http: reqwest::Client::new(),
    };
    let built = crate::registry::Connectors::build(std::slice::from_ref(block), &context)?;
    let pausable = id == loaded.config.delivery.crm || built.poll_sources.contains_key(id);
    if !pausable {
        anyhow::bail!(
            "`{id}` ({}) cannot be paused: only a poller or the delivery CRM `{}` can",
            block.kind(),
            loaded.config.delivery.crm
        );
    }
    let changed = store.set_connector_paused(id, paused, chrono::Utc::now()).await?;
    match (paused, changed) {
        (true, true) => println!("`{id}` is paused (in the store) until `handoffd connector resume {id}`."),
        (true, false) => println!("`{id}` was paused already."),
        (false, true) => println!("`{id}` is resumed (in the store)."),
        (false, false) => println!("`{id}` was not paused."),
    }
    Ok(ExitCode::SUCCESS)
}
