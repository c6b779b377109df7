//! The command line: one file per verb.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod admin_client;
mod audit;
mod backfill;
mod backtest;
mod backup;
mod check;
mod config_hash;
mod connector;
#[cfg(feature = "mock")]
mod demo;
mod dlq;
mod eval;
mod explain;
mod identity;
#[cfg(feature = "mock")]
mod mock_crm;
mod quarantine;
mod reload;
mod replay;
mod run;
mod schema;
mod train;

#[derive(Debug, Parser)]
#[command(name = "handoffd", version, about = "Turns AI-to-human handoffs into ready-made CRM tasks.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon.
    Run(run::Args),
    /// See it work with no vendor account: mock CRM, sample conversations, the tasks written.
    #[cfg(feature = "mock")]
    Demo(demo::Args),
    /// Validate a configuration file and report every problem with file:line:key.
    Check(check::Args),
    /// Show the brief handoffd makes of a conversation.
    Explain(explain::Args),
    /// Score the interpreter on a directory of labelled cases.
    Eval(eval::Args),
    /// Fit the brief's model on labelled cases (cross-validated against the rules) and write it.
    Train(train::Args),
    /// Deliveries that exhausted their retries: list, show, replay, drop.
    Dlq(dlq::Args),
    /// Bodies that were signed but could not be parsed: list, show, drop.
    Quarantine(quarantine::Args),
    /// Identity conflicts and merges: list them, split a merge.
    Identity(identity::Args),
    /// A customer's whole timeline across channels, handoffs and decisions, or one handoff's decisions.
    Audit(audit::Args),
    /// Replay a past period's routing through candidate rules and show what would change (never writes).
    Backtest(backtest::Args),
    /// The running daemon's connectors: list, pause, resume, poll now.
    Connector(connector::Args),
    /// The configuration file's SHA-256, and the running daemon's (exit 3 when they differ).
    ConfigHash(config_hash::Args),
    /// A consistent copy of the SQLite store into a folder, while the daemon runs.
    Backup(backup::Args),
    /// Print the configuration's JSON Schema (for editors: see the README).
    Schema(schema::Args),
    /// Reload the running daemon's configuration (as SIGHUP does) and print the outcome.
    Reload(reload::Args),
    /// Run stored raw events through the pipeline again, with progress.
    Replay(replay::Args),
    /// Read a vendor's history through its poller from a given time (`--since 30d`), with progress.
    Backfill(backfill::Args),
    /// Serve a mock CRM (HubSpot endpoints and limits, faults on demand) for tests, demos and benchmarks.
    #[cfg(feature = "mock")]
    MockCrm(handoffd_mocks::cli::Args),
}

/// Every verb that reads the configuration takes it the same way, before or after its own
/// subcommand (`handoffd dlq --config F list` and `handoffd dlq list --config F`).
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The YAML configuration file. Relative paths inside it resolve from its folder.
    #[arg(long, short = 'c', env = "HANDOFFD_CONFIG", default_value = "config/example.yaml", global = true)]
    pub config: PathBuf,
}

/// The async runtime of one command. Dropped, it gives the tasks still running a few seconds to end and then
/// leaves them to the process's exit: sqlx's pool upkeep task was seen spinning without yielding after a command
/// had done its work (`identity split` on SQLite, once, under load), which held the runtime's drop, and so the
/// process, forever. A finished command must not hang whoever ran it.
pub(crate) struct CommandRuntime(Option<tokio::runtime::Runtime>);

impl CommandRuntime {
    /// How long a finished command waits for its leftover tasks.
    const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

    pub(crate) fn new() -> anyhow::Result<CommandRuntime> {
        Ok(CommandRuntime(Some(tokio::runtime::Runtime::new().context("starting the async runtime")?)))
    }
}

impl std::ops::Deref for CommandRuntime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("the runtime lives until the command's end")
    }
}

impl Drop for CommandRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_timeout(Self::LINGER);
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        #[cfg(feature = "mock")]
        Command::Demo(args) => demo::run(args),
        Command::Check(args) => check::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::Dlq(args) => dlq::run(args),
        Command::Quarantine(args) => quarantine::run(args),
        Command::Identity(args) => identity::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Connector(args) => connector::run(args),
        Command::ConfigHash(args) => config_hash::run(args),
        Command::Backup(args) => backup::run(args),
        Command::Reload(args) => reload::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Backfill(args) => backfill::run(args),
        #[cfg(feature = "mock")]
        Command::MockCrm(args) => mock_crm::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Open the store the configuration names, for the verbs that inspect or repair it. It must
/// exist already: an admin verb run with the wrong configuration must say so, not create an
/// empty store and report that it holds nothing.
async fn store_from_config(arg: &ConfigArg) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
    let loaded = crate::config::load(&arg.config)?;
    let url = loaded.store_url();
    if let Some(file) = crate::config::paths::sqlite_file(&url)
        && !file.exists()
    {
        anyhow::bail!(
            "the store `{}` does not exist (store.url `{}` in `{}`, relative to that file's folder); \
             has `handoffd run` used this configuration yet?",
            file.display(),
            loaded.config.store.url,
            loaded.path.display()
        );
    }
    crate::store::open(&url).await.with_context(|| format!("opening the store `{}`", crate::daemon::redact_url(&url)))
}
