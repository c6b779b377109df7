//! The re-ask head's part of `handoffd train`: the first contacts of `eval/corpus/reask/train`
//! read by the brief as it will run (the rules and the brief's model make `do_not_ask`), the
//! patterns against the head alone and the head with the patterns' verdicts under k-fold
//! cross-validation, and the head fitted on every case.

use std::path::Path;

use anyhow::Context;
use handoffd_contract::brief::FactValue;

use crate::interpret::model::reask::{self, Example, ReaskHead};
use crate::interpret::model::{Field, train};
use crate::interpret::score::{self, interval};
use crate::interpret::{Interpreter, turns_before_handoff};

/// Read the re-ask cases of `dir` (a folder of cases or of per-language folders).
/// `interpreter` makes each case's brief (its `do_not_ask` values are what the head reads).
pub fn examples(interpreter: &Interpreter, dir: &Path) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::new();
    for (slice, dir) in score::slices(dir)? {
        for path in score::case_paths(&dir)? {
            let case = score::load_case(&path)?;
            let labels = |key: &str| -> Vec<String> {
                case.expect
                    .get(key)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                    .unwrap_or_default()
            };
            let (given, wanted) = (labels("do_not_ask"), labels("reasked"));
            if !case.expect.contains_key("reasked") {
                continue;
            }
            let brief = interpreter.interpret(&case.input).with_context(|| format!("case `{}`", case.name))?;
            let before = turns_before_handoff(&case.input);
            let after: Vec<(usize, &handoffd_contract::conversation::Turn)> =
                case.input.turns.iter().enumerate().skip(before.len()).collect();
            let given: Vec<(String, Option<FactValue>)> = given
                .into_iter()
                .map(|fact| {
                    let value = brief.do_not_ask.iter().find(|f| f.fact == fact).cloned();
                    (fact, value)
                })
                .collect();
            let sentences = reask::sentences(&after);
            let facts = interpreter.model().and_then(|m| m.heads.iter().find(|h| h.field == Field::DoNotAsk));
            let bags = reask::bags(interpreter.vocabulary(), true, &given, before, &sentences, facts);
            let reasked = bags.iter().map(|b| wanted.contains(&b.fact)).collect();
            let rules = bags.iter().map(|b| b.instances.iter().any(|(_, rule)| *rule)).collect();
            let alone = reask::bags(interpreter.vocabulary(), false, &given, before, &sentences, facts);
            let questions = sentences.iter().map(|s| s.folded.contains('?')).collect();
            let sentences = sentences.into_iter().map(|s| s.text).collect();
            out.push(Example {
                slice: slice.clone(),
                name: case.name,
                bags,
                alone,
                reasked,
                sentences,
                questions,
                rules,
            });
        }
    }
    Ok(out)
}

/// Cross-validate, print the comparison, and fit the head on every case; the head is enabled
/// only where `both` beat the patterns.
pub fn train(examples: &[Example], folds: usize, misses: Option<&Path>) -> anyhow::Result<ReaskHead> {
    anyhow::ensure!(examples.len() >= folds * 2, "{} re-ask cases are too few for {folds} folds", examples.len());
    let keys: Vec<(&str, &str)> = examples.iter().map(|e| (e.slice.as_str(), e.name.as_str())).collect();
    let fold = train::folds_of(&keys, folds, train::Folding::ByCase);
    let model = reask::cross_validate(examples, &fold, folds, false);
    let both = reask::cross_validate(examples, &fold, folds, true);
    let f1s = |answers: &dyn Fn(usize) -> Vec<bool>| -> Vec<f64> {
        (0..examples.len()).map(|e| reask::f1(&answers(e), &examples[e].reasked)).collect()
    };
    let rules_f1 = f1s(&|e| examples[e].rules.clone());
    let model_f1 = f1s(&|e| model[e].answers());
    let both_f1 = f1s(&|e| both[e].answers());
    let show = |scores: &[f64]| {
        interval::estimate(scores)
            .map_or_else(|| "-".to_owned(), |e| format!("{:.3} [{:.3}, {:.3}]", e.mean, e.low, e.high))
    };
    println!(
        "\n{} re-ask cases; reasked F1 under {folds}-fold cross-validation, given the labelled do_not_ask",
        examples.len()
    );
    println!("{:<18}{:<26}{:<26}{:<26}", "slice", "patterns", "model", "both");
    let mut slices: Vec<&str> = examples.iter().map(|e| e.slice.as_str()).collect();
    slices.dedup();
    for slice in slices.iter().copied().map(Some).chain([None]) {
        let pick = |scores: &[f64]| -> Vec<f64> {
            scores.iter().zip(examples).filter(|(_, e)| slice.is_none_or(|s| s == e.slice)).map(|(s, _)| *s).collect()
        };
        println!(
            "{:<18}{:<26}{:<26}{:<26}",
            slice.unwrap_or("all"),
            show(&pick(&rules_f1)),
            show(&pick(&model_f1)),
            show(&pick(&both_f1))
        );
    }
    if let Some(path) = misses {
        std::fs::write(path, misses_text(examples, &both))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    let all: Vec<usize> = (0..examples.len()).collect();
    let mut head = reask::fit_head(examples, &all, true);
    head.enabled = mean(&both_f1) > mean(&rules_f1);
    println!(
        "re-ask head: threshold {:.2}; {}",
        head.threshold,
        if head.enabled { "it decides re-asks" } else { "the patterns won: written disabled" }
    );
    Ok(head)
}

/// Each out-of-fold case `both` got wrong: the facts wanted, the patterns' and the head's, and
/// each agent sentence with the head's probability for every fact given.
fn misses_text(examples: &[Example], both: &[reask::OutOfFold]) -> String {
    let mut out = String::new();
    for (e, read) in examples.iter().zip(both) {
        let answer = read.answers();
        if answer == e.reasked {
            continue;
        }
        let facts = |flags: &[bool]| -> Vec<&str> {
            e.bags.iter().zip(flags).filter(|(_, f)| **f).map(|(b, _)| b.fact.as_str()).collect()
        };
        out.push_str(&format!(
            "== {}/{}: want {:?} patterns {:?} both {:?} (threshold {:.2})\n",
            e.slice,
            e.name,
            facts(&e.reasked),
            facts(&e.rules),
            facts(&answer),
            read.threshold
        ));
        for (k, sentence) in e.sentences.iter().enumerate() {
            let p: Vec<String> =
                e.bags.iter().zip(&read.sentences).map(|(b, p)| format!("{} {:.2}", b.fact, p[k])).collect();
            out.push_str(&format!("    {sentence}  [{}]\n", p.join(", ")));
        }
    }
    out
}
