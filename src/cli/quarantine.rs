//! `handoffd quarantine list|show|drop`: bodies that were signed but could not be parsed, through
//! the running daemon's admin API or, when none runs, the store.

use std::process::ExitCode;

use super::admin_client::{Via, connect};
use crate::http::admin::wire::QuarantineView;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The most recent quarantined bodies, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One quarantined body, raw, with the reason (`id` as in `list` and the daemon's log line).
    Show { id: i64 },
    /// Delete a quarantined body for good.
    Drop { id: i64 },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let via = connect(&args.config).await?;
        match args.action {
            Action::List { limit } => {
                let entries: Vec<QuarantineView> = match &via {
                    Via::Daemon(api) => api.get(&format!("/admin/quarantine?limit={limit}")).await?,
                    Via::Store(store) => {
                        store.list_quarantine(limit).await?.into_iter().map(QuarantineView::brief).collect()
                    }
                };
                if entries.is_empty() {
                    println!("The quarantine is empty.");
                }
                for entry in entries {
                    println!(
                        "{}\t{}\t{}\t{} bytes\t{}",
                        entry.id,
                        entry.received_at.format("%Y-%m-%d %H:%M:%S"),
                        entry.connector_id,
                        entry.bytes,
                        entry.reason
                    );
                }
            }
            Action::Show { id } => {
                let entry: QuarantineView = match &via {
                    Via::Daemon(api) => api.get(&format!("/admin/quarantine/{id}")).await?,
                    Via::Store(store) => QuarantineView::full(store.get_quarantine(id).await?),
                };
                println!("quarantined body {}", entry.id);
                println!("connector:  {}", entry.connector_id);
                println!("received:   {}", entry.received_at.to_rfc3339());
                println!("reason:     {}", entry.reason);
                println!("{}", entry.body);
            }
            Action::Drop { id } => {
                match &via {
                    Via::Daemon(api) => {
                        api.send(reqwest::Method::DELETE, &format!("/admin/quarantine/{id}")).await?;
                    }
                    Via::Store(store) => store.drop_quarantine(id).await?,
                }
                println!("Quarantined body {id} is dropped.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
