//! `handoffd train`: fit the brief's model on the training cases, compare rules alone, model
//! alone and both under k-fold cross-validation, and write the model file the configuration's
//! `interpret.model` names.
//!
//! Each field is enabled in the written model only where cross-validation showed the model
//! (with the rules' findings as features) beating the rules alone; elsewhere the rules decide.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::interpret::model::features::FeatureSet;
use crate::interpret::model::{Field, train};
use crate::interpret::score::{self, FIELDS, interval};
use crate::interpret::{Interpreter, turns_before_handoff};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The training cases: a folder of cases or of per-language folders. Never the locked split.
    #[arg(default_value = "eval/corpus/train")]
    pub dir: PathBuf,
    /// Where to write the model (default: the file `interpret.model` names).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Folds of the cross-validation.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Print the cross-validation only; write no model.
    #[arg(long)]
    pub cv_only: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.folds >= 2, "--folds must be at least 2");
    let loaded = crate::config::load(&args.config.config)?;
    let out = match (&args.out, &loaded.config.interpret.model) {
        (Some(out), _) => out.clone(),
        (None, Some(path)) => crate::config::paths::resolve(loaded.base_dir(), path),
        (None, None) if args.cv_only => PathBuf::new(),
        (None, None) => anyhow::bail!("no `interpret.model` in the configuration: name the model file with --out"),
    };
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?.without_model();
    let mut data = Vec::new();
    for (slice, dir) in score::slices(&args.dir)? {
        for path in score::case_paths(&dir)? {
            let case = score::load_case(&path)?;
            let rules = interpreter.interpret(&case.input).with_context(|| format!("case `{}`", case.name))?;
            let turns = turns_before_handoff(&case.input).to_vec();
            data.push(train::Prepared::new(slice.clone(), case, turns, rules));
        }
    }
    anyhow::ensure!(data.len() >= args.folds * 2, "{} cases are too few for {} folds", data.len(), args.folds);
    println!("{} training cases from `{}`; {}-fold cross-validation", data.len(), args.dir.display(), args.folds);

    let reports = train::cross_validate(interpreter.vocabulary(), &data, args.folds)?;
    println!("\n{:<18}{:<26}{:<26}{:<26}", "field", "rules", "model", "both");
    let mut enabled = Vec::new();
    for field in FIELDS {
        let cell =
            |variant: &str| reports.get(variant).and_then(|r| r.fields.get(field)).and_then(|v| interval::estimate(v));
        let (Some(rules), Some(model), Some(both)) = (cell("rules"), cell("model"), cell("both")) else { continue };
        let show = |e: interval::Estimate| format!("{:.3} [{:.3}, {:.3}]", e.mean, e.low, e.high);
        println!("{field:<18}{:<26}{:<26}{:<26}", show(rules), show(model), show(both));
        if both.mean > rules.mean {
            enabled.push(*field);
        }
    }
    println!("(95% intervals over the out-of-fold cases; requested_window is the rules' in every column)");
    if args.cv_only {
        return Ok(ExitCode::SUCCESS);
    }

    let all: Vec<usize> = (0..data.len()).collect();
    let trained_on = format!(
        "{} cases of `{}`, {}; fields enabled where {}-fold cross-validation beat the rules",
        data.len(),
        args.dir.display(),
        chrono::Utc::now().format("%Y-%m-%d"),
        args.folds
    );
    let mut model = train::fit_model(interpreter.vocabulary(), &data, &all, FeatureSet { rule_hits: true }, trained_on);
    for head in &mut model.heads {
        head.enabled = enabled.contains(&head.field.name());
    }
    let enabled_fields: Vec<&str> = Field::ALL.iter().map(|f| f.name()).filter(|f| enabled.contains(f)).collect();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let json = serde_json::to_string(&model.to_file())?;
    std::fs::write(&out, &json).with_context(|| format!("cannot write `{}`", out.display()))?;
    println!(
        "\nwrote `{}` ({} bytes); the model decides: {}",
        out.display(),
        json.len(),
        if enabled_fields.is_empty() {
            "nothing (the rules won every field)".into()
        } else {
            enabled_fields.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
