//! `handoffd check`: validate a configuration and report every problem as `file:line:col: key:
//! message`. Exit 0 when clean, 2 when not (1 stays for failures of handoffd itself), so the
//! systemd unit can run it in `ExecStartPre`.
//!
//! Two passes: the pure validation every verb runs, then the files the configuration names,
//! loaded as `run` loads them (relative paths from the configuration's folder), so a
//! configuration `check` accepts does not fail `run` on a missing vocabulary.

use std::process::ExitCode;

use crate::config::{self, ConfigReport, Loaded, Problem};
use crate::interpret::Interpreter;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let report = match config::load_with_env(path, &config::process_env) {
        Ok(loaded) => {
            let problems = named_files(&loaded);
            if problems.is_empty() {
                let ids: Vec<&str> = loaded.config.connectors.iter().map(|c| c.id()).collect();
                println!("ok: {} ({} connectors: {})", path.display(), ids.len(), ids.join(", "));
                return Ok(ExitCode::SUCCESS);
            }
            ConfigReport::new(path, problems)
        }
        Err(report) => report,
    };
    println!("{report}");
    Ok(ExitCode::from(2))
}

/// Problems with the files the configuration names, each at the key that names it.
fn named_files(loaded: &Loaded) -> Vec<Problem> {
    // The file was read a moment ago; interpolation keeps every key on its line, so the
    // written text names the same lines.
    let map = std::fs::read_to_string(&loaded.path).ok().and_then(|text| config::locate::SourceMap::scan(&text).ok());
    let at = |key: &str| map.as_ref().and_then(|map| map.nearest(key));
    let mut problems = Vec::new();
    match Interpreter::load(&loaded.config.interpret, loaded.base_dir()) {
        Ok(interpreter) => {
            if let Some(problem) = interpreter.model_problem() {
                problems.push(Problem::new(at("interpret.model"), "interpret.model", problem.to_owned()));
            }
        }
        Err(error) => {
            let dir = Interpreter::vocabulary_dir(&loaded.config.interpret, loaded.base_dir());
            problems.push(Problem::new(
            at("interpret.vocabulary"),
            "interpret.vocabulary",
            format!(
                "the vocabulary in `{}` cannot be loaded (relative paths resolve from the configuration's folder): {error:#}",
                dir.display()
            ),
        ));
        }
    }
    problems
}
