//! `handoffd dlq list|show|replay|drop`: deliveries that exhausted their retries.

use std::process::ExitCode;

use anyhow::Context;

use super::store_from_config;

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
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let store = store_from_config(&args.config).await?;
        match args.action {
            Action::List { limit } => {
                let letters = store.list_dead_letters(limit).await?;
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
                let letter = store.get_dead_letter(id).await?;
                let payload: serde_json::Value = serde_json::from_str(&letter.payload).unwrap_or_default();
                println!("dead letter {}", letter.id);
                println!("handoff:    {}", letter.handoff_id);
                println!("crm:        {}", letter.crm_id);
                println!("failed at:  {}", letter.failed_at.to_rfc3339());
                println!("attempts:   {}", letter.attempts);
                println!("last error: {}", letter.last_error);
                println!("{}", serde_json::to_string_pretty(&payload)?);
            }
            Action::Replay { id } => {
                store.replay_dead_letter(id, crate::conversation::lifecycle::REPLAYED, chrono::Utc::now()).await?;
                println!("Dead letter {id} is back in the outbox; a running daemon delivers it shortly.");
            }
            Action::Drop { id } => {
                store.drop_dead_letter(id).await?;
                println!("Dead letter {id} is dropped.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
