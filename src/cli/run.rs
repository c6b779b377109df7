//! `handoffd run`: the daemon, until SIGTERM or Ctrl-C (exit 0), or until a stage fails (exit 1).

use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The configuration first: it says what the log may hold (`log.redact`). Its errors go to
    // standard error through `main`, which needs no logger.
    let loaded = crate::config::load(&args.config.config)?;
    crate::telemetry::init_with(loaded.config.log.redact);
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        // Installed before the listeners are bound: a SIGTERM sent as soon as the port answers
        // must stop the daemon cleanly, not kill it.
        let signal = shutdown_signal()?;
        let hangups = hangup_signals()?;
        // A stage that fails ends the run with an error: exit 1, and systemd restarts the daemon.
        let manager = crate::daemon::ServiceManager::from_env();
        let daemon = crate::daemon::start_with(&loaded, manager).await?;
        let reloader = daemon.reloader();
        // SIGHUP (systemd's ExecReload=): reload; the outcome is logged by the reloader.
        let reloading = tokio::spawn(hangups.for_each(move |()| {
            let reloader = reloader.clone();
            async move {
                let _ = reloader.reload().await;
            }
        }));
        let outcome = daemon.run_until(signal).await;
        reloading.abort();
        outcome
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Every SIGHUP from now on (registered now, so one sent at start does not kill the process).
#[cfg(unix)]
fn hangup_signals() -> anyhow::Result<impl futures::Stream<Item = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let hangup = signal(SignalKind::hangup()).context("installing a SIGHUP handler")?;
    Ok(futures::stream::unfold(hangup, |mut hangup| async move { hangup.recv().await.map(|()| ((), hangup)) }))
}

#[cfg(not(unix))]
fn hangup_signals() -> anyhow::Result<impl futures::Stream<Item = ()> + Send + 'static> {
    Ok(futures::stream::empty())
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
