//! `handoffd config-hash`: the configuration file's hash (SHA-256 of its bytes as written, before
//! interpolation: no secret's value is in it), and the running daemon's, to tell whether the
//! daemon runs the file on disk or waits for a reload.

use std::process::ExitCode;

use anyhow::Context;

use super::admin_client::{Via, connect};
use crate::http::admin::wire::ConfigFileView;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.config.config)
        .with_context(|| format!("reading the configuration `{}`", args.config.config.display()))?;
    let on_disk = crate::config::file_sha256(&bytes);
    println!("{on_disk}  {} (on disk)", args.config.config.display());
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let Via::Daemon(api) = connect(&args.config).await? else {
            return Ok(ExitCode::SUCCESS);
        };
        let running: ConfigFileView = api.get("/admin/config").await?;
        println!("{}  {} (running)", running.sha256, running.path);
        if running.sha256 != on_disk {
            eprintln!("The running daemon's configuration differs from the file: `handoffd reload` applies the file.");
            return Ok(ExitCode::from(3));
        }
        Ok(ExitCode::SUCCESS)
    })
}
