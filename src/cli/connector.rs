//! `handoffd connector list|pause|resume|poll`: what only the running daemon holds. A pause lasts
//! until `resume` or a restart; what it means for a poller, the delivery CRM and a webhook
//! source is in `daemon::controls` and the README.

use std::process::ExitCode;

use anyhow::Context;

use super::admin_client::{daemon, segment};
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
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
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
            ("paused", true) => println!("`{id}` is paused until `handoffd connector resume {id}` or a restart."),
            ("paused", false) => println!("`{id}` was paused already."),
            ("resumed", true) => println!("`{id}` is resumed."),
            ("resumed", false) => println!("`{id}` was not paused."),
            _ => println!("`{id}` polls now."),
        }
        Ok(ExitCode::SUCCESS)
    })
}
