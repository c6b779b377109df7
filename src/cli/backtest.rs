//! `handoffd backtest --rules NEW.yaml --since 7d`: the routing decisions of a past period replayed
//! through candidate rules, and the difference against what happened (see `route::backtest`). Reads
//! the store, never writes it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::store_from_config;
use crate::route::backtest::{self, Backtest, Progress};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The candidate rules: a YAML file with a `routing:` section, or a whole configuration (its
    /// `routing` and `business` sections are taken).
    #[arg(long)]
    pub rules: PathBuf,
    /// The period's start: a duration back from now (`7d`, `36h`) or an RFC 3339 time.
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// The period's end (an RFC 3339 time or a duration back from now); default now.
    #[arg(long)]
    pub until: Option<String>,
    /// `text` (default) or `json` (the shape is documented in the README, "Trying a rule change").
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let since = super::replay::instant(&args.since, now).context("--since")?;
    let until = args.until.as_deref().map(|t| super::replay::instant(t, now)).transpose().context("--until")?;
    let until = until.unwrap_or(now);
    anyhow::ensure!(since < until, "--since must be before --until");
    let running = crate::config::load(&args.config.config)?;
    let candidate = match backtest::candidate::load(&args.rules, &args.config.config, &crate::config::process_env) {
        Ok(candidate) => candidate,
        Err(report) => {
            // As `handoffd check` reports a configuration: every problem at file:line:key, exit 2.
            println!("{report}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let store = store_from_config(&args.config).await?;
        let run = Backtest {
            store,
            running: &running,
            candidate: &candidate.loaded.config,
            rules: args.rules.display().to_string(),
            since,
            until,
        };
        let mut progress = Shown::new();
        let report = backtest::run(&run, &mut progress).await?;
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            Format::Text => {
                let timezone = running.config.business.timezone.parse().unwrap_or(chrono_tz::UTC);
                print!("{}", report.to_text(timezone));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A bar on a terminal; otherwise a plain line every few seconds and one at the end, on standard error
/// (standard output holds the report).
struct Shown {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: u64,
    last_line: Instant,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Shown {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} decisions replayed ({per_sec}, {eta} left)",
                )
                .expect("a valid template"),
            );
            bar
        });
        Self { bar, total: 0, done: 0, last_line: Instant::now() }
    }
}

impl Progress for Shown {
    fn total(&mut self, steps: u64) {
        self.total = steps;
        if let Some(bar) = &self.bar {
            bar.set_length(steps);
        }
    }

    fn done(&mut self, steps: u64) {
        self.done = steps;
        match &self.bar {
            Some(bar) => bar.set_position(steps),
            None if self.last_line.elapsed() >= LINE_EVERY => {
                eprintln!("backtest: {steps}/{} replayed", self.total);
                self.last_line = Instant::now();
            }
            None => {}
        }
    }

    fn finish(&mut self) {
        match self.bar.take() {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("backtest: {}/{} replayed", self.done, self.total),
        }
    }
}
