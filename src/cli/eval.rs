//! `handoffd eval`: score the interpreter on labelled cases.
//!
//! Two modes. On a folder of cases (or a folder of language slices, one sub-folder each) it
//! prints per-field scores per slice and, with `--show-misses`, every case a field got wrong.
//! On the locked test split (`--locked LOCKFILE`) it first checks every file's hash against the
//! lock, then prints only aggregates per field and per slice with 95% confidence intervals:
//! no case name, no miss, no brief.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::interpret::Interpreter;
use crate::interpret::score::{self, FIELDS, Report, interval};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The directory of cases (`NNN-name.json` with `input` and `expect`), or a directory of
    /// such directories (one per language slice).
    #[arg(required_unless_present = "locked", conflicts_with = "locked")]
    pub dir: Option<PathBuf>,
    /// Print every field a case got wrong, with what was expected and found.
    #[arg(long, conflicts_with = "locked")]
    pub show_misses: bool,
    /// Score the locked test split this `sha256sum` file vouches for, aggregates only. Refused
    /// when a file differs from the lock.
    #[arg(long, value_name = "LOCKFILE")]
    pub locked: Option<PathBuf>,
    /// The folder the lock file's paths are relative to (where `sha256sum -c` would run).
    #[arg(long, default_value = ".", requires = "locked")]
    pub lock_base: PathBuf,
}

/// Exits non-zero only on errors (unreadable cases, bad config, a broken lock), never on low scores.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The lock is checked before anything is loaded, so a changed split is refused outright.
    let locked = args.locked.as_ref().map(|lock| score::lock::verify(lock, &args.lock_base)).transpose()?;
    let loaded = crate::config::load(&args.config.config)?;
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
    // Figures of the rules alone must not pass for the model's (a file missing, or trained with
    // other feature bits or labels): say so where the figures are read.
    if let Some(problem) = interpreter.model_problem() {
        eprintln!("warning: {problem}");
    }
    let dir = match (&locked, &args.dir) {
        (Some(split), _) => split.dir.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => unreachable!("clap requires a folder or --locked"),
    };
    let mut slices = Vec::new();
    for (name, path) in score::slices(&dir)? {
        slices.push((name, score::score_dir(&interpreter, &path)?));
    }
    if let Some(split) = &locked {
        println!("locked split `{}`: {} files match the lock", split.dir.display(), split.files);
        print!("{}", aggregate_table(&slices));
        return Ok(ExitCode::SUCCESS);
    }
    for (name, report) in &slices {
        if args.show_misses && !report.misses.is_empty() {
            println!("\nmisses in `{name}`:");
            for miss in &report.misses {
                println!(
                    "  {} {} ({:.2}): expected {} found {}",
                    miss.case, miss.field, miss.score, miss.expected, miss.found
                );
            }
        }
    }
    print!("{}", aggregate_table(&slices));
    if !interpreter.resolves_windows() {
        println!("note: no time resolver is wired, so requested_window is always null");
    }
    Ok(ExitCode::SUCCESS)
}

/// Field rows, a column per slice and one for all of them: mean [95% interval] (cases).
fn aggregate_table(slices: &[(String, Report)]) -> String {
    let mut all = Report::default();
    for (_, report) in slices {
        for (field, values) in &report.fields {
            all.fields.entry(field).or_default().extend(values.iter().copied());
        }
        all.cases += report.cases;
    }
    let mut columns: Vec<(&str, &Report)> = slices.iter().map(|(n, r)| (n.as_str(), r)).collect();
    if slices.len() > 1 {
        columns.push(("all", &all));
    }
    let mut out = format!("{:<18}", "field");
    for (name, report) in &columns {
        out.push_str(&format!("{:<28}", format!("{name} ({} cases)", report.cases)));
    }
    out.push('\n');
    for field in FIELDS {
        if columns.iter().all(|(_, r)| !r.fields.contains_key(field)) {
            continue;
        }
        out.push_str(&format!("{field:<18}"));
        for (_, report) in &columns {
            let cell = match report.fields.get(field).and_then(|v| interval::estimate(v)) {
                Some(e) => format!("{:.3} [{:.3}, {:.3}] n={}", e.mean, e.low, e.high, e.cases),
                None => "-".into(),
            };
            out.push_str(&format!("{cell:<28}"));
        }
        out.push('\n');
    }
    out.push_str("95% intervals: Wilson for exact fields, percentile bootstrap (4000 resamples) for set F1\n");
    out
}
