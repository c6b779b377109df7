//! The command line of `handoffd-mocks` (and of `handoffd mock-crm`, which calls it): serves the mock vendors
//! (HubSpot under `/hubspot`, the Graph API under `/graph`) until Ctrl-C or SIGTERM, then prints the report.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;

use crate::{AnswerDelay, BatchErrorMode, FaultPlan, MockCrm, MockLimits, MockOAuthApp, MockOptions, MockSecret};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Contacts to create at start; the n-th (from 1) has phone +9197 followed by n in 8 digits, every fifth one
    /// in `mobilephone` instead of `phone`.
    #[arg(long, default_value_t = 0)]
    pub seed_contacts: usize,
    /// Faults to inject, as JSON or `429=0.05,5xx=0.02,reset=0.01,lost=0.01,400=0.01,lost_hang=30s,delay=0.1:250ms,seed=7,
    /// paths=batch/create|search`. Change them at run time with `POST /_mock/faults`.
    #[arg(long)]
    pub faults: Option<String>,
    /// A private-app access token to accept (repeat for several).
    #[arg(long = "access-token", default_value = crate::DEFAULT_ACCESS_TOKEN)]
    pub access_tokens: Vec<String>,
    /// The OAuth app's client id.
    #[arg(long, default_value = "mock-client-id")]
    pub oauth_client_id: String,
    /// The OAuth app's client secret.
    #[arg(long, default_value = "mock-client-secret")]
    pub oauth_client_secret: String,
    /// The OAuth app's refresh token.
    #[arg(long, default_value = "mock-refresh-token")]
    pub oauth_refresh_token: String,
    /// Lifetime of issued OAuth access tokens, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub oauth_expires_in: u64,
    /// Requests per rolling ten seconds per account.
    #[arg(long, default_value_t = 190)]
    pub ten_second_limit: u32,
    /// Requests per UTC day per account.
    #[arg(long, default_value_t = 650_000)]
    pub daily_limit: u64,
    /// Search requests per second per account.
    #[arg(long, default_value_t = 4)]
    pub search_per_second: u32,
    /// Create the custom task property `handoffd_handoff_id` at start (otherwise the client must create it).
    #[arg(long)]
    pub with_handoff_property: bool,
    /// Fail a whole batch with 400 when one input is invalid (default: 207 with per-input errors).
    #[arg(long)]
    pub whole_batch_errors: bool,
    /// Seed of the order of batch results.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long every vendor request waits before it is answered: a duration (`400ms`) or a range drawn from
    /// evenly (`300ms-500ms`), as a real portal takes its time. Default: at once.
    #[arg(long, value_parser = AnswerDelay::parse)]
    pub answer_delay: Option<AnswerDelay>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let faults = match &args.faults {
        Some(text) => FaultPlan::parse_cli(text)?,
        None => FaultPlan::default(),
    };
    let options = MockOptions {
        access_tokens: args.access_tokens.iter().map(|token| MockSecret(token.clone())).collect(),
        oauth: MockOAuthApp {
            client_id: args.oauth_client_id,
            client_secret: MockSecret(args.oauth_client_secret),
            refresh_token: MockSecret(args.oauth_refresh_token),
            expires_in_secs: args.oauth_expires_in,
            rotate_refresh_tokens: false,
        },
        seed_contacts: args.seed_contacts,
        limits: MockLimits {
            ten_second_max: args.ten_second_limit,
            daily_max: args.daily_limit,
            search_per_second: args.search_per_second,
        },
        batch_errors: if args.whole_batch_errors { BatchErrorMode::WholeBatch } else { BatchErrorMode::PerInput },
        handoff_property_exists: args.with_handoff_property,
        faults,
        seed: args.seed,
        answer_delay: args.answer_delay,
        ..MockOptions::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("could not listen on {}", args.listen))?;
        let mock = MockCrm::start(options, listener).await;
        eprintln!("Mock CRM listening on http://{}", mock.addr());
        if let Some(delay) = args.answer_delay {
            eprintln!("  every vendor request is answered after {delay}");
        }
        eprintln!("  HubSpot base_url: {}", mock.base_url());
        eprintln!("  Graph base_url:   {}", mock.graph_base_url());
        eprintln!(
            "  report: http://{0}/_mock/report  tasks: http://{0}/_mock/tasks  faults: POST http://{0}/_mock/faults",
            mock.addr()
        );
        wait_for_stop().await?;
        let report = mock.report();
        mock.shutdown().await;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM (how a benchmark harness stops the mock): either way the report gets printed.
async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("could not listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("could not wait for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}
