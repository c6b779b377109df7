//! `handoffd check`: validate a configuration and report every problem as `file:line:col: key:
//! message`. Exit 0 when clean, 2 when not (1 stays for failures of handoffd itself), so the
//! systemd unit can run it in `ExecStartPre`.

use std::process::ExitCode;

use crate::config;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    match config::load_with_env(path, &config::process_env) {
        Ok(loaded) => {
            let ids: Vec<&str> = loaded.config.connectors.iter().map(|c| c.id()).collect();
            println!("ok: {} ({} connectors: {})", path.display(), ids.len(), ids.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            println!("{report}");
            Ok(ExitCode::from(2))
        }
    }
}
