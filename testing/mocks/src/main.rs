//! `handoffd-mocks`: the mock vendors as a server of their own, for manual tests and benchmarks run by hand.

use std::process::ExitCode;

use clap::Parser;

/// Serve mock vendors (HubSpot's endpoints and limits, the WhatsApp Graph send route), faults on demand.
#[derive(Debug, Parser)]
#[command(name = "handoffd-mocks", version)]
struct Cli {
    #[command(flatten)]
    args: handoffd_mocks::cli::Args,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    match handoffd_mocks::cli::run(Cli::parse().args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
