//! `handoffd-bench SCENARIO`: starts the mock CRM and the daemon (`handoffd run --config`, as a child process),
//! runs the scenario and prints one table. Exit 1 if a message was lost or a handoff duplicated.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use handoffd_bench::{BenchOptions, Scenario};

/// Load, latency, CRM budget and exactness: mock CRM + daemon + a named scenario, one table.
#[derive(Debug, Parser)]
#[command(name = "handoffd-bench", version)]
pub struct Args {
    /// The scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// steady/faults/crash: the window the customers' bursts start in; ingest: the fixed-rate phase.
    #[arg(long)]
    pub duration: Option<humantime::Duration>,
    /// Messages to send (ingest: the flood; steady/faults/crash: all bursts).
    #[arg(long)]
    pub messages: Option<usize>,
    /// Distinct customers the messages come from.
    #[arg(long)]
    pub customers: Option<usize>,
    /// ingest: webhooks per second in the fixed-rate phase.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests in flight at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Whose webhooks to send: WhatsApp messages, Vapi end-of-call reports or Retell call events.
    #[arg(long, value_enum, default_value = "whatsapp")]
    pub vendor: handoffd_bench::Vendor,
    /// The daemon's quiet period (short, so a bench does not wait 90 s).
    #[arg(long)]
    pub quiet_period: Option<humantime::Duration>,
    /// backlog: ready handoffs to create (one message each).
    #[arg(long)]
    pub handoffs: Option<usize>,
    /// Customers already in the CRM (the first ones; the daemon syncs them at start). Default: steady all,
    /// faults/crash 100, backlog none.
    #[arg(long)]
    pub known_customers: Option<usize>,
    /// The daemon's `delivery.linger` (default: unset, the product's default for the CRM; 0s sends each task at once).
    #[arg(long)]
    pub linger: Option<humantime::Duration>,
    /// SQLite's `synchronous` mode for the daemon's store: `full` (the default) or `normal`.
    #[arg(long, value_parser = ["full", "normal"])]
    pub synchronous: Option<String>,
    /// The daemon's store instead of a SQLite file in a temp dir. A PostgreSQL server
    /// (`postgres://postgres@127.0.0.1:5432/test`) gets a schema of its own for the run, dropped at the end.
    #[arg(long, alias = "store-url")]
    pub store: Option<String>,
    /// Daemons sharing the store (a `postgres://` one), on loopback ports of their own; webhooks are spread over
    /// them. Default 1 (takeover: 3).
    #[arg(long)]
    pub instances: Option<usize>,
    /// takeover: how long the backlog drains before the lease holder is killed (default 20s).
    #[arg(long)]
    pub kill_after: Option<humantime::Duration>,
    /// crash: how many times to kill -9 the daemon.
    #[arg(long)]
    pub kills: Option<u32>,
    /// How long to wait for the daemon to drain after the load.
    #[arg(long)]
    pub drain_timeout: Option<humantime::Duration>,
    /// How long the mock CRM takes to answer each call: a duration (`400ms`) or a range drawn from evenly
    /// (`300ms-500ms`, what a real portal takes). Default: at once.
    #[arg(long, value_parser = handoffd_mocks::AnswerDelay::parse)]
    pub answer_delay: Option<handoffd_mocks::AnswerDelay>,
    /// The CRM tasks are delivered to, against its mock with the vendor's own limits (see PERFORMANCE.md).
    #[arg(long, value_enum, default_value = "hubspot")]
    pub crm: handoffd_bench::crm::CrmVendor,
    /// Pipedrive: seats of the company; its daily budget is 30,000 tokens a seat (the Lite plan's multiplier 1).
    #[arg(long, default_value_t = 1)]
    pub pipedrive_seats: u64,
    /// backlog, takeover: how held delivery is let go: `resume` the paused CRM in the running daemons, or
    /// `restart` them with the CRM's own limits (HubSpot only: the set-up and the first read of the change
    /// feed are then part of the drain).
    #[arg(long, value_enum, default_value = "resume")]
    pub release: handoffd_bench::Release,
    /// Seed of the workload, the faults and the kill moments.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The interpretation vocabulary folder.
    #[arg(long, default_value = "config/vocabulary")]
    pub vocabulary: PathBuf,
    /// The `handoffd` executable to run as the daemon (default: `handoffd` beside this executable).
    #[arg(long)]
    pub daemon: Option<PathBuf>,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    match run(Args::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `handoffd` in the folder of this executable: where cargo builds both (`target/release/`).
fn daemon_beside_this_executable() -> anyhow::Result<PathBuf> {
    let this = std::env::current_exe().context("finding this executable, to find `handoffd` beside it")?;
    let daemon = this.with_file_name(format!("handoffd{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        daemon.is_file(),
        "no daemon at `{}`: build it (`cargo build --release`) or name it with --daemon",
        daemon.display()
    );
    Ok(daemon)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let exe = match args.daemon {
        Some(path) => path,
        None => daemon_beside_this_executable()?,
    };
    let mut options = BenchOptions::for_scenario(args.scenario, exe, args.vocabulary);
    options.vendor = args.vendor;
    if let Some(d) = args.duration {
        options.duration = *d;
    }
    if let Some(n) = args.messages {
        options.messages = n;
    }
    if let Some(n) = args.customers {
        options.customers = n;
    }
    if let Some(r) = args.rate {
        anyhow::ensure!(r > 0.0, "--rate must be positive");
        options.rate = r;
    }
    if let Some(n) = args.concurrency {
        options.concurrency = n;
    }
    if let Some(q) = args.quiet_period {
        options.quiet_period = *q;
    }
    if let Some(n) = args.handoffs {
        options.handoffs = n;
    }
    if let Some(n) = args.known_customers {
        options.known_customers = n;
    }
    if let Some(d) = args.linger {
        options.linger = Some(*d);
    }
    if let Some(mode) = args.synchronous {
        options.synchronous = mode;
    }
    if let Some(url) = args.store {
        options.store_url = Some(url);
    }
    if let Some(n) = args.instances {
        options.instances = n;
    }
    if let Some(d) = args.kill_after {
        options.kill_after = *d;
    }
    if let Some(n) = args.kills {
        options.kills = n;
    }
    if let Some(d) = args.drain_timeout {
        options.drain_timeout = *d;
    }
    if let Some(s) = args.seed {
        options.seed = s;
    }
    options.answer_delay = args.answer_delay;
    options.crm = args.crm;
    anyhow::ensure!(args.pipedrive_seats >= 1, "--pipedrive-seats must be at least 1");
    options.pipedrive_seats = args.pipedrive_seats;
    options.release = args.release;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(handoffd_bench::run(&options))?;
    print!("{report}");
    Ok(if report.is_exact() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
