//! `handoffd schema`: the configuration's JSON Schema, for editors (see the README).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&crate::config::json_schema::config_schema())?);
    Ok(ExitCode::SUCCESS)
}
