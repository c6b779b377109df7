//! `handoffd train`: fit the brief's model on the training cases, compare rules alone, model
//! alone and both under k-fold cross-validation, and write the model file the configuration's
//! `interpret.model` names.
//!
//! Each field is enabled in the written model only where cross-validation showed the model
//! (with the rules' findings as features) beating the rules alone; elsewhere the rules decide.

mod reask;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::interpret::model::features::FeatureSet;
use crate::interpret::model::{Field, Model, train};
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
    /// Also print, per label and per slice, what the rules and `both` found under
    /// cross-validation (hits, extras, misses, F1): where the systematic errors are.
    #[arg(long)]
    pub per_label: bool,
    /// Leave out the features of the turns around the customer's (the offer a reply accepts,
    /// the last turns) and of word shapes (capitals, digits): to measure what they add.
    #[arg(long)]
    pub without_context: bool,
    /// Leave out how far off the rules' window starts (today, tomorrow, the weekend, ...): to measure what it adds.
    #[arg(long)]
    pub without_window_day: bool,
    /// Leave out the times told in passing (the window head neither reads them nor may take one
    /// for the requested window where the rules found none): to measure what they add.
    #[arg(long)]
    pub without_told: bool,
    /// Leave out where a customer's word stands in its sentence (before a contrast, after a verb
    /// that reports someone else, inside a condition): to measure what it adds.
    #[arg(long)]
    pub without_scopes: bool,
    /// Leave the customer's word and character features unscaled by the conversation's length
    /// (`FeatureSet::length_scaled`, on in the shipped model for every head but objections): to
    /// measure what the scaling adds.
    #[arg(long)]
    pub without_length_scaling: bool,
    /// Sum every customer turn for every objection label. By default (`FeatureSet::objections_by_turn`,
    /// on in the shipped model) each label is scored by the turn that weighs most for it where the
    /// inner cross-validation finds that beats the sum; the model file's `by_turn` names those
    /// labels.
    #[arg(long)]
    pub without_objections_by_turn: bool,
    /// Deal cases into folds one by one, not by writer (a writer's block of cases in one language
    /// kept in one fold): the cross-validation and the tuned thresholds as they were before the
    /// fourteenth session, to measure what dealing by writer changes.
    #[arg(long)]
    pub folds_by_case: bool,
    /// Cross-validate `both` only (not the model alone): half the time, for screening changes.
    #[arg(long)]
    pub both_only: bool,
    /// Write every out-of-fold case `both` got wrong (per field: expected, rules, both) to this file.
    #[arg(long)]
    pub misses: Option<PathBuf>,
    /// The re-ask cases (first contacts after a handoff) the re-ask head learns from; skipped
    /// when the folder does not exist.
    #[arg(long, default_value = "eval/corpus/reask/train")]
    pub reask: PathBuf,
    /// Train the re-ask head alone, into the model file as it is (its other heads kept).
    #[arg(long)]
    pub reask_only: bool,
    /// Write every out-of-fold re-ask case the head got wrong to this file.
    #[arg(long)]
    pub reask_misses: Option<PathBuf>,
    /// Leave the re-ask cases out of the brief's training. By default their `do_not_ask` labels
    /// (the only brief field they carry) teach the do_not_ask head too, as slices `reask-<lang>`:
    /// first contacts are conversations like any other before the handoff.
    #[arg(long)]
    pub without_reask_facts: bool,
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
    let set = FeatureSet {
        rule_hits: true,
        context: !args.without_context,
        shapes: !args.without_context,
        window_day: !args.without_window_day,
        told: !args.without_told,
        scopes: !args.without_scopes,
        length_scaled: !args.without_length_scaling,
        objections_by_turn: !args.without_objections_by_turn,
    };
    if args.reask_only {
        return reask_only(&args, &loaded, &out);
    }
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?.without_model();
    let mut sources = vec![(String::new(), args.dir.clone())];
    if !args.without_reask_facts && args.reask.is_dir() {
        sources.push(("reask-".to_owned(), args.reask.clone()));
    }
    let mut data = Vec::new();
    for (prefix, dir) in &sources {
        prepare(&interpreter, prefix, dir, set, &mut data)?;
    }
    anyhow::ensure!(data.len() >= args.folds * 2, "{} cases are too few for {} folds", data.len(), args.folds);
    let first_contacts = data.iter().filter(|d| d.slice.starts_with("reask-")).count();
    println!(
        "{} training cases from `{}` and {first_contacts} first contacts (do_not_ask only) from `{}`; {}-fold \
         cross-validation",
        data.len() - first_contacts,
        args.dir.display(),
        args.reask.display(),
        args.folds
    );

    let folding = if args.folds_by_case { train::Folding::ByCase } else { train::Folding::ByWriter };
    let cv = train::cross_validate(interpreter.vocabulary(), &data, args.folds, set, folding, args.both_only)?;
    let reports = &cv.reports;
    println!("\n{:<18}{:<26}{:<26}{:<26}", "field", "rules", "model", "both");
    let mut enabled = Vec::new();
    // Re-asks have a cross-validation of their own (the re-ask head's, below); the first
    // contacts' rows here would only repeat the patterns' score.
    for field in FIELDS.iter().filter(|f| **f != "reasked") {
        let cell =
            |variant: &str| reports.get(variant).and_then(|r| r.fields.get(field)).and_then(|v| interval::estimate(v));
        let (Some(rules), Some(both)) = (cell("rules"), cell("both")) else { continue };
        let show = |e: interval::Estimate| format!("{:.3} [{:.3}, {:.3}]", e.mean, e.low, e.high);
        let model = cell("model").map_or_else(|| "-".to_owned(), show);
        println!("{field:<18}{:<26}{:<26}{:<26}", show(rules), model, show(both));
        if both.mean > rules.mean {
            enabled.push(*field);
        }
    }
    println!(
        "(95% intervals over the out-of-fold cases; requested_window: the rules' bounds in every column, the model \
         may only take a window away, or take a time the rules read as told in passing for the window)"
    );
    if args.per_label {
        print!("{}", per_label_table(&data, &cv));
    }
    if let Some(path) = &args.misses {
        std::fs::write(path, misses(&data, &cv)).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if args.cv_only {
        if args.reask.is_dir() {
            // The re-ask cases read by the configured model, the one in use.
            let configured = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
            reask::train(&reask::examples(&configured, &args.reask)?, args.folds, args.reask_misses.as_deref())?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let all: Vec<usize> = (0..data.len()).collect();
    let trained_on = format!(
        "{} cases of `{}` and {first_contacts} of `{}` (do_not_ask), {}; fields enabled where {}-fold \
         cross-validation beat the rules",
        data.len() - first_contacts,
        args.dir.display(),
        args.reask.display(),
        chrono::Utc::now().format("%Y-%m-%d"),
        args.folds
    );
    let mut model = train::fit_model(interpreter.vocabulary(), &data, &all, set, folding, trained_on);
    // Only the fields the model decides are written: the others' weights would only weigh.
    model.heads.retain(|head| enabled.contains(&head.field.name()));
    if args.reask.is_dir() {
        // The re-ask cases read by the brief as it will run: the new model's do_not_ask, with the
        // weights as the file stores them (quantised), which the head's topic features read too.
        let as_stored = Model::from_file(&model.to_file())?;
        let with_model = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?.with_model(as_stored);
        let examples = reask::examples(&with_model, &args.reask)?;
        model.reask = Some(reask::train(&examples, args.folds, args.reask_misses.as_deref())?);
    }
    write_model(&model, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// The cases of `dir` (a folder of cases or of per-language folders), each read by the rules,
/// as slices named `prefix` + the folder's slice. A case trains the fields it labels only.
fn prepare(
    interpreter: &Interpreter,
    prefix: &str,
    dir: &Path,
    set: FeatureSet,
    data: &mut Vec<train::Prepared>,
) -> anyhow::Result<()> {
    for (slice, dir) in score::slices(dir)? {
        for path in score::case_paths(&dir)? {
            let case = score::load_case(&path)?;
            let (rules, told) =
                interpreter.interpret_telling(&case.input).with_context(|| format!("case `{}`", case.name))?;
            let turns = turns_before_handoff(&case.input).to_vec();
            data.push(train::Prepared::new(format!("{prefix}{slice}"), case, turns, rules, told, set));
        }
    }
    Ok(())
}

/// Write `model` to `out` and say what it decides.
fn write_model(model: &Model, out: &Path) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let json = serde_json::to_string(&model.to_file())?;
    std::fs::write(out, &json).with_context(|| format!("cannot write `{}`", out.display()))?;
    let enabled_fields = model.enabled_fields();
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
    Ok(())
}

/// `--reask-only`: the model file `out` with a re-ask head trained anew (its brief heads as they are).
fn reask_only(args: &Args, loaded: &crate::config::Loaded, out: &Path) -> anyhow::Result<ExitCode> {
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
    let mut model = Model::load(out, interpreter.vocabulary())?;
    let interpreter = interpreter.with_model(model.clone());
    let examples = reask::examples(&interpreter, &args.reask)?;
    let head = reask::train(&examples, args.folds, args.reask_misses.as_deref())?;
    if args.cv_only {
        return Ok(ExitCode::SUCCESS);
    }
    model.reask = Some(head);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    model.trained_on = with_reask_retrained(&model.trained_on, examples.len(), &args.reask, &today);
    write_model(&model, out)?;
    Ok(ExitCode::SUCCESS)
}

/// A model file's `trained_on` after `--reask-only`: its brief heads keep their own training set,
/// and the re-ask head's replaces any earlier retraining note.
fn with_reask_retrained(trained_on: &str, first_contacts: usize, dir: &Path, date: &str) -> String {
    let brief_heads = trained_on.split(REASK_RETRAINED).next().unwrap_or_default();
    format!("{brief_heads}{REASK_RETRAINED} on {first_contacts} first contacts of `{}`, {date}", dir.display())
}

const REASK_RETRAINED: &str = "; re-ask head retrained";

/// Every out-of-fold case and field `both` got wrong: the case, the field, what was expected,
/// what the rules and `both` gave, and the customer's turns (to read why).
fn misses(data: &[train::Prepared], cv: &train::CrossValidation) -> String {
    let mut out = String::new();
    for (case, brief) in data.iter().zip(&cv.both) {
        let mut wrong = String::new();
        for field in Field::ALL {
            let Some(mut want) = case.case.expect.get(field.name()).and_then(|e| field.expected_labels(e)) else {
                continue;
            };
            let mut got = train::brief_labels(brief, field);
            let mut rules = train::brief_labels(&case.rules, field);
            want.retain(|l| l != "preferred_time");
            got.retain(|l| l != "preferred_time");
            rules.retain(|l| l != "preferred_time");
            for v in [&mut want, &mut got, &mut rules] {
                v.sort();
            }
            if want != got {
                let missed: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
                let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
                wrong.push_str(&format!(
                    "  {}: missed {missed:?} extra {extra:?} (want {want:?}, rules {rules:?})\n",
                    field.name()
                ));
            }
        }
        if wrong.is_empty() {
            continue;
        }
        out.push_str(&format!("== {}/{}\n{wrong}", case.slice, case.case.name));
        for turn in &case.turns {
            let who = if turn.from == handoffd_contract::conversation::Speaker::Customer { "C" } else { "A" };
            out.push_str(&format!("    {who}: {}\n", turn.text.replace('\n', " ")));
        }
    }
    out
}

/// Per label: hits/extras/misses and F1 of the rules and of `both`, over all slices and per
/// slice (F1 only), worst rules F1 first within a field.
fn per_label_table(data: &[train::Prepared], cv: &train::CrossValidation) -> String {
    let rules = train::label_counts(data, data.iter().map(|d| &d.rules));
    let both = train::label_counts(data, cv.both.iter());
    let mut slices: Vec<&str> = data.iter().map(|d| d.slice.as_str()).collect();
    slices.sort();
    slices.dedup();
    let total = |counts: &std::collections::BTreeMap<(&'static str, String, String), train::LabelCounts>,
                 field: &str,
                 label: &str,
                 slice: Option<&str>| {
        let mut sum = train::LabelCounts::default();
        for ((f, l, s), c) in counts {
            if *f == field && l == label && slice.is_none_or(|want| want == s.as_str()) {
                sum.hits += c.hits;
                sum.extra += c.extra;
                sum.missed += c.missed;
            }
        }
        sum
    };
    let mut out = String::from("\nper slice under cross-validation: rules / both\n");
    let mut by_slice: std::collections::BTreeMap<(&str, &str), score::Report> = Default::default();
    for (case, brief) in data.iter().zip(&cv.both) {
        // The cases scored already once; a failure here cannot happen, and would only drop a row.
        let _ = score::score_case(&case.case, &case.rules, by_slice.entry((case.slice.as_str(), "rules")).or_default());
        let _ = score::score_case(&case.case, brief, by_slice.entry((case.slice.as_str(), "both")).or_default());
    }
    out.push_str(&format!("{:<18}", "field"));
    for slice in &slices {
        out.push_str(&format!("{:<16}", format!("{slice}")));
    }
    out.push('\n');
    for field in FIELDS.iter().filter(|f| **f != "reasked") {
        out.push_str(&format!("{field:<18}"));
        for slice in &slices {
            let get = |variant| by_slice.get(&(*slice, variant)).and_then(|r| r.score(field));
            match (get("rules"), get("both")) {
                (Some(r), Some(b)) => out.push_str(&format!("{:<16}", format!("{r:.3}/{b:.3}"))),
                _ => out.push_str(&format!("{:<16}", "-")),
            }
        }
        out.push('\n');
    }
    out.push_str("\nper label under cross-validation: hits/extras/misses F1, rules then both\n");
    for field in Field::ALL {
        let mut labels: Vec<&str> = rules
            .keys()
            .chain(both.keys())
            .filter(|(f, _, _)| *f == field.name())
            .map(|(_, l, _)| l.as_str())
            .collect();
        labels.sort();
        labels.dedup();
        labels.sort_by(|a, b| {
            total(&rules, field.name(), a, None).f1().total_cmp(&total(&rules, field.name(), b, None).f1())
        });
        out.push_str(&format!("\n{}\n", field.name()));
        for label in labels {
            let (r, b) = (total(&rules, field.name(), label, None), total(&both, field.name(), label, None));
            out.push_str(&format!(
                "  {label:<22} rules {:>3}/{:>3}/{:>3} {:.2}   both {:>3}/{:>3}/{:>3} {:.2}  ",
                r.hits,
                r.extra,
                r.missed,
                r.f1(),
                b.hits,
                b.extra,
                b.missed,
                b.f1()
            ));
            for slice in &slices {
                let (r, b) =
                    (total(&rules, field.name(), label, Some(slice)), total(&both, field.name(), label, Some(slice)));
                out.push_str(&format!(" {slice} {:.2}/{:.2}", r.f1(), b.f1()));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retraining_the_re_ask_head_notes_it_once_beside_the_brief_heads_training() {
        let shipped = "21859 cases of `eval/corpus/train` and 3520 of `eval/corpus/reask/train` (do_not_ask)";
        let once = with_reask_retrained(shipped, 3760, Path::new("eval/corpus/reask/train"), "2026-12-08");
        assert_eq!(
            once,
            format!("{shipped}; re-ask head retrained on 3760 first contacts of `eval/corpus/reask/train`, 2026-12-08")
        );
        let twice = with_reask_retrained(&once, 3840, Path::new("eval/corpus/reask/train"), "2026-12-09");
        assert!(
            twice.starts_with(shipped)
                && twice.ends_with("3840 first contacts of `eval/corpus/reask/train`, 2026-12-09")
        );
        assert_eq!(twice.matches("re-ask head retrained").count(), 1, "{twice}");
    }
}
