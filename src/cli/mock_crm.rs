//! `handoffd mock-crm`: the `handoffd-mocks` server (HubSpot under `/hubspot`, the Graph API under `/graph`),
//! bundled so that `handoffd demo`'s mock can also be run by hand from the one installed binary.

use std::process::ExitCode;

pub fn run(args: handoffd_mocks::cli::Args) -> anyhow::Result<ExitCode> {
    crate::telemetry::init();
    handoffd_mocks::cli::run(args)
}
