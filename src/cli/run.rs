//! `handoffd run`: the daemon, until SIGTERM or Ctrl-C (exit 0), or until a stage fails (exit 1).

use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::telemetry::init();
    let loaded = crate::config::load(&args.config.config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // A stage that fails ends the run with an error: exit 1, and systemd restarts the daemon.
    runtime.block_on(async { crate::daemon::start(&loaded).await?.run_until(shutdown_signal()).await })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
