//! `handoffd identity conflicts|merges|split`: customers the identity stage would not merge on
//! its own, and merges it made that a person wants undone.

use std::process::ExitCode;

use super::store_from_config;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Customers whose keys met but were not merged (different CRM contacts, an unreadable phone).
    Conflicts {
        #[command(flatten)]
        config: super::ConfigArg,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Recorded merges, most recent first, with their evidence.
    Merges {
        #[command(flatten)]
        config: super::ConfigArg,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Undo a merge: the absorbed customer's keys, interactions and handoffs go back to it.
    Split {
        #[command(flatten)]
        config: super::ConfigArg,
        /// The merge id, as `identity merges` lists it.
        merge_id: i64,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let config = match &args.action {
            Action::Conflicts { config, .. } | Action::Merges { config, .. } | Action::Split { config, .. } => config,
        };
        let store = store_from_config(config).await?;
        match args.action {
            Action::Conflicts { limit, .. } => {
                let conflicts = store.identity_conflicts(limit).await?;
                if conflicts.is_empty() {
                    println!("No identity conflicts.");
                }
                for conflict in conflicts {
                    let evidence: Vec<String> =
                        conflict.evidence.iter().map(|(key, customer)| format!("{key} -> {customer}")).collect();
                    println!(
                        "{}\t{}\tseen {}x\tcustomers {}\tattached to {}\n\t{}\n\tevidence: {}",
                        conflict.id,
                        conflict.last_seen_at.format("%Y-%m-%d %H:%M:%S"),
                        conflict.times_seen,
                        conflict.customers.join(", "),
                        conflict.attach_to,
                        conflict.reason,
                        evidence.join("; ")
                    );
                }
            }
            Action::Merges { limit, .. } => {
                let merges = crate::identity::resolve::list_merges(store.as_ref(), limit).await?;
                if merges.is_empty() {
                    println!("No merges.");
                }
                for merge in merges {
                    let state = match merge.undone_at {
                        Some(at) => format!("split {}", at.format("%Y-%m-%d %H:%M:%S")),
                        None => "merged".to_owned(),
                    };
                    println!(
                        "{}\t{}\t{state}\t{} <- {}\n\t{}",
                        merge.id,
                        merge.merged_at.format("%Y-%m-%d %H:%M:%S"),
                        merge.survivor_id,
                        merge.absorbed_id,
                        merge.explanation
                    );
                }
            }
            Action::Split { merge_id, .. } => {
                let outcome =
                    crate::identity::resolve::split_merge(store.as_ref(), merge_id, chrono::Utc::now()).await?;
                println!(
                    "Merge {} is split: customer {} is back with {} key(s), {} interaction(s) and {} handoff(s).",
                    outcome.merge_id,
                    outcome.customer_id,
                    outcome.restored_keys.len(),
                    outcome.interactions_moved,
                    outcome.handoffs_moved
                );
                for key in &outcome.restored_keys {
                    println!("\trestored {key}");
                }
                for key in &outcome.skipped_keys {
                    println!("\tleft where it is (moved since the merge): {key}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
