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
    runtime.block_on(async {
        // Installed before the listeners are bound: a SIGTERM sent as soon as the port answers
        // must stop the daemon cleanly, not kill it.
        let signal = shutdown_signal()?;
        // A stage that fails ends the run with an error: exit 1, and systemd restarts the daemon.
        let manager = crate::daemon::ServiceManager::from_env();
        crate::daemon::start_with(&loaded, manager).await?.run_until(signal).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or Ctrl-C, with the handlers registered now.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
