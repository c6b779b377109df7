//! `handoffd eval`: score the interpreter on a directory of labelled cases.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::interpret::{Interpreter, score};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The directory of cases (`NNN-name.json` with `input` and `expect`).
    pub dir: PathBuf,
    /// Print every field a case got wrong, with what was expected and found.
    #[arg(long)]
    pub show_misses: bool,
}

/// Exits non-zero only on errors (unreadable cases, bad config), never on low scores.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
    let report = score::score_dir(&interpreter, &args.dir)?;
    print!("{}", report.table());
    if !interpreter.resolves_windows() {
        println!("note: no time resolver is wired, so requested_window is always null");
    }
    if args.show_misses && !report.misses.is_empty() {
        println!("\nmisses:");
        for miss in &report.misses {
            println!(
                "  {} {} ({:.2}): expected {} found {}",
                miss.case, miss.field, miss.score, miss.expected, miss.found
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
