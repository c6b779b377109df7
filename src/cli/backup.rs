//! `handoffd backup DIR`: a consistent copy of the store while the daemon runs.

use std::process::ExitCode;

use anyhow::Context;

use super::store_from_config;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The folder to write the copy into (created if missing; it must not hold a copy already).
    pub dir: std::path::PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        std::fs::create_dir_all(&args.dir).with_context(|| format!("creating `{}`", args.dir.display()))?;
        let store = store_from_config(&args.config).await?;
        let files =
            store.backup_into(&args.dir).await.with_context(|| format!("backing up into `{}`", args.dir.display()))?;
        for file in &files {
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            println!("{}\t{size} bytes", file.display());
        }
        println!(
            "Backed up {} files. To restore: stop handoffd, copy them over the store's files, start it.",
            files.len()
        );
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
