//! `handoffd dlq list|show|replay|drop`: deliveries that exhausted their retries, through the
//! running daemon's admin API or, when none runs, the store.

use std::process::ExitCode;

use super::admin_client::{Via, connect};
use crate::http::admin::wire::DeadLetterView;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The most recent dead letters, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One dead letter in full: its last error and the task it would write.
    Show { id: i64 },
    /// Put a dead letter back in the outbox (after fixing its cause, e.g. an owner id).
    Replay { id: i64 },
    /// Delete a dead letter for good.
    Drop { id: i64 },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let via = connect(&args.config).await?;
        match args.action {
            Action::List { limit } => {
                let letters: Vec<DeadLetterView> = match &via {
                    Via::Daemon(api) => api.get(&format!("/admin/dead-letters?limit={limit}")).await?,
                    Via::Store(store) => {
                        store.list_dead_letters(limit).await?.into_iter().map(DeadLetterView::brief).collect()
                    }
                };
                if letters.is_empty() {
                    println!("The dead-letter queue is empty.");
                }
                for letter in letters {
                    println!(
                        "{}\t{}\thandoff {}\t{} attempts\t{}",
                        letter.id,
                        letter.failed_at.format("%Y-%m-%d %H:%M:%S"),
                        letter.handoff_id,
                        letter.attempts,
                        letter.last_error
                    );
                }
            }
            Action::Show { id } => {
                let letter: DeadLetterView = match &via {
                    Via::Daemon(api) => api.get(&format!("/admin/dead-letters/{id}")).await?,
                    Via::Store(store) => DeadLetterView::full(store.get_dead_letter(id).await?),
                };
                println!("dead letter {}", letter.id);
                println!("handoff:    {}", letter.handoff_id);
                println!("crm:        {}", letter.crm_id);
                println!("failed at:  {}", letter.failed_at.to_rfc3339());
                println!("attempts:   {}", letter.attempts);
                println!("last error: {}", letter.last_error);
                println!("{}", serde_json::to_string_pretty(&letter.payload)?);
            }
            Action::Replay { id } => {
                match &via {
                    Via::Daemon(api) => {
                        api.send(reqwest::Method::POST, &format!("/admin/dead-letters/{id}/replay")).await?;
                    }
                    Via::Store(store) => {
                        store
                            .replay_dead_letter(id, crate::conversation::lifecycle::REPLAYED, chrono::Utc::now())
                            .await?
                    }
                }
                println!("Dead letter {id} is back in the outbox; a running daemon delivers it shortly.");
            }
            Action::Drop { id } => {
                match &via {
                    Via::Daemon(api) => {
                        api.send(reqwest::Method::DELETE, &format!("/admin/dead-letters/{id}")).await?;
                    }
                    Via::Store(store) => store.drop_dead_letter(id).await?,
                }
                println!("Dead letter {id} is dropped.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
