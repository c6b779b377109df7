//! Fitting the model on labelled cases, tuning each label's threshold by cross-validation on
//! the training cases only, and the comparison of rules alone, model alone and both.
//!
//! Logistic regression per label (softmax for one-of fields) by AdaGrad with L2, on hashed
//! features: small, fast to fit on a few hundred cases, and its weights say why it chose a label.

use std::collections::BTreeMap;

use handoffd_contract::brief::Brief;
use handoffd_contract::conversation::Turn;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::features::{self, DIMS, FeatureSet, Features, TurnPooling};
use super::{Field, Head, Model, softmax};
use crate::interpret::score::{self, Case, Report};
use crate::interpret::{FoundWindow, Vocabulary};

/// Passes over the training cases.
const EPOCHS: usize = 8;
const LEARNING_RATE: f32 = 0.3;
/// L2 penalty of a field's weights. The model memorises its training cases (in-sample F1 near
/// 1), so it gains from more than the 1e-4 it had: under 5-fold cross-validation on the 3,139
/// training cases, 1e-3 raised every field but do_not_ask (-0.001), and 3e-3 raised the set
/// fields further (intents 0.734, objections 0.774) but cost urgency 0.013 and disposition 0.006
/// against 1e-3. Heads are fitted apart, so each field takes its best (PERFORMANCE.md,
/// 2026-12-06).
fn l2_of(field: Field) -> f32 {
    if field.is_set() { 3e-3 } else { 1e-3 }
}
/// Folds of the inner cross-validation that tunes thresholds.
pub(super) const INNER_FOLDS: usize = 3;
/// Thresholds tried for each label.
pub(super) const THRESHOLDS: [f32; 17] =
    [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];

/// A labelled case with what training needs of it, computed once.
pub struct Prepared {
    pub slice: String,
    pub case: Case,
    /// The turns before the handoff (what the brief is made from).
    pub turns: Vec<Turn>,
    /// The rules' brief.
    pub rules: Brief,
    /// The time the customer told in passing; only where the rules found no window
    /// ([`crate::interpret::Interpreter::interpret_telling`]).
    pub told: Option<FoundWindow>,
    pub alone: Features,
    pub with_rules: Features,
    /// With [`FeatureSet::objection_turns`]: the parts the objections head reads.
    pub by_turn: Option<ByTurn>,
}

/// A case's features in the parts a head that reads the customer's turns one at a time scores
/// apart ([`features::extract_by_turn`]), each merged.
pub struct ByTurn {
    /// The features of no customer turn, without and with the rules' findings.
    pub alone: Features,
    pub with_rules: Features,
    /// Each customer turn's, unscaled.
    pub turns: Vec<Features>,
}

/// A case as one head's fit reads it: `sum`, and for a head that reads the customer's turns
/// apart the turns (empty otherwise), which each label pools its own way.
#[derive(Clone, Copy)]
pub(super) struct Example<'a> {
    pub sum: &'a Features,
    pub turns: &'a [Features],
}

impl<'a> Example<'a> {
    /// A case whose features are all summed.
    pub fn summed(sum: &'a Features) -> Self {
        Example { sum, turns: &[] }
    }

    /// The score of the label whose weights are `w` and whose turns pool as `pooling`, and with
    /// [`TurnPooling::Max`] the turn that weighed most in it.
    fn score(&self, w: &[f32], pooling: TurnPooling) -> (f32, Option<usize>) {
        let dot = |x: &Features| x.iter().map(|(i, v)| w[*i as usize] * v).sum::<f32>();
        let base = dot(self.sum);
        match pooling {
            TurnPooling::Sum => (base + self.turns.iter().map(dot).sum::<f32>(), None),
            TurnPooling::Max => match self.turns.iter().map(dot).enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) {
                Some((t, z)) => (base + z, Some(t)),
                None => (base, None),
            },
        }
    }

    /// The turns that had a part in a score [`Self::score`] gave with `pooling` and `best`.
    fn scored_turns(&self, pooling: TurnPooling, best: Option<usize>) -> &'a [Features] {
        match (pooling, best) {
            (TurnPooling::Sum, _) => self.turns,
            (TurnPooling::Max, Some(t)) => &self.turns[t..=t],
            (TurnPooling::Max, None) => &[],
        }
    }
}

impl Prepared {
    /// `set`: the features of `both` (the model alone has the same without the rules' findings).
    /// `told`: as [`crate::interpret::Interpreter::interpret_telling`] gives it.
    pub fn new(
        slice: String,
        case: Case,
        turns: Vec<Turn>,
        rules: Brief,
        told: Option<FoundWindow>,
        set: FeatureSet,
    ) -> Self {
        let told_window = told.as_ref().map(|t| &t.window);
        let mut alone = Vec::new();
        features::extract(&turns, &rules, told_window, FeatureSet { rule_hits: false, ..set }, &mut alone);
        let mut with_rules = Vec::new();
        features::extract(&turns, &rules, told_window, FeatureSet { rule_hits: true, ..set }, &mut with_rules);
        let by_turn = set.objection_turns().then(|| {
            let (alone, _) =
                features::extract_by_turn(&turns, &rules, told_window, FeatureSet { rule_hits: false, ..set });
            let (with_rules, by_turn) =
                features::extract_by_turn(&turns, &rules, told_window, FeatureSet { rule_hits: true, ..set });
            ByTurn {
                alone: merged(alone),
                with_rules: merged(with_rules),
                turns: by_turn.into_iter().map(merged).collect(),
            }
        });
        Prepared { slice, case, turns, rules, told, alone: merged(alone), with_rules: merged(with_rules), by_turn }
    }

    /// For a case that labels its window, where the rules found none and the customer told a time
    /// in passing: whether that time is the labelled window.
    fn told_is_window(&self) -> Option<bool> {
        let expected = self.case.expect.get(Field::Window.name())?;
        Some(score::window_is(expected, &self.told.as_ref()?.window))
    }

    fn features(&self, set: FeatureSet) -> &Features {
        if set.rule_hits { &self.with_rules } else { &self.alone }
    }

    /// The case as `field`'s head reads it.
    fn example(&self, field: Field, set: FeatureSet) -> Example<'_> {
        match (&self.by_turn, set.objection_turns()) {
            (Some(parts), true) if field == Field::Objections => {
                Example { sum: if set.rule_hits { &parts.with_rules } else { &parts.alone }, turns: &parts.turns }
            }
            _ => Example::summed(self.features(set)),
        }
    }

    /// The case's targets for `field` over `labels`, or None when the case does not label it.
    fn targets(&self, field: Field, labels: &[String]) -> Option<Vec<f32>> {
        let expected = field.expected_labels(self.case.expect.get(field.name())?)?;
        let y: Vec<f32> = labels.iter().map(|l| if expected.contains(l) { 1.0 } else { 0.0 }).collect();
        // A one-of label outside the list (a typo in a case) teaches nothing.
        (field.is_set() || y.contains(&1.0)).then_some(y)
    }
}

/// Repeated indexes summed: fewer updates per case.
fn merged(mut features: Features) -> Features {
    features.sort_by_key(|(i, _)| *i);
    let mut out: Features = Vec::with_capacity(features.len());
    for (i, v) in features {
        match out.last_mut() {
            Some((j, w)) if *j == i => *w += v,
            _ => out.push((i, v)),
        }
    }
    out
}

/// Fit one field's classifiers, each label's turns pooled as `pooling` says (empty: summed);
/// label-major weights.
fn fit(
    field: Field,
    n_labels: usize,
    examples: &[(Example<'_>, Vec<f32>)],
    pooling: &[TurnPooling],
    seed: u64,
) -> Vec<Vec<f32>> {
    let pooling_of = |l: usize| TurnPooling::of(pooling, l);
    let mut weights = vec![vec![0.0f32; DIMS]; n_labels];
    let mut squares = vec![vec![1e-6f32; DIMS]; n_labels];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut z = vec![0.0f32; n_labels];
    let mut best_turn = vec![None; n_labels];
    let l2 = l2_of(field);
    // The bias is not penalised: held near 0 (a probability of 0.5 with no evidence), it left
    // the base rate to the words every conversation has, so a short message ("hello") with few
    // of them scored every rare label near 0.5, above its threshold.
    let bias = Some(features::bias_index());
    for _ in 0..EPOCHS {
        order.shuffle(&mut rng);
        for &e in &order {
            let (x, y) = &examples[e];
            for (l, zl) in z.iter_mut().enumerate() {
                (*zl, best_turn[l]) = x.score(&weights[l], pooling_of(l));
            }
            if field.is_set() {
                z.iter_mut().for_each(|v| *v = super::sigmoid(*v));
            } else {
                softmax(&mut z);
            }
            for l in 0..n_labels {
                let g = z[l] - y[l];
                adagrad_step(&mut weights[l], &mut squares[l], x.sum, g, (l2, bias), LEARNING_RATE);
                for turn in x.scored_turns(pooling_of(l), best_turn[l]) {
                    adagrad_step(&mut weights[l], &mut squares[l], turn, g, (l2, bias), LEARNING_RATE);
                }
            }
        }
    }
    weights
}

/// One AdaGrad step with L2 on the weights `x` touches, for a loss gradient `g` of the score;
/// `penalty` is the L2 and the one index it spares, if any (the bias).
pub(super) fn adagrad_step(
    weights: &mut [f32],
    squares: &mut [f32],
    x: &[(u32, f32)],
    g: f32,
    penalty: (f32, Option<u32>),
    rate: f32,
) {
    let (l2, spared) = penalty;
    for (i, v) in x {
        let l2 = if spared == Some(*i) { 0.0 } else { l2 };
        let i = *i as usize;
        let grad = g * v + l2 * weights[i];
        squares[i] += grad * grad;
        weights[i] -= rate * grad / squares[i].sqrt();
    }
}

/// Probabilities of `x` under label-major weights, each label's turns pooled as `pooling` says
/// (empty: summed).
fn predict(field: Field, weights: &[Vec<f32>], pooling: &[TurnPooling], x: Example<'_>) -> Vec<f32> {
    let pooling_of = |l: usize| TurnPooling::of(pooling, l);
    let mut z: Vec<f32> = weights.iter().enumerate().map(|(l, w)| x.score(w, pooling_of(l)).0).collect();
    if field.is_set() {
        z.iter_mut().for_each(|v| *v = super::sigmoid(*v));
    } else {
        softmax(&mut z);
    }
    z
}

/// One out-of-fold prediction of the inner cross-validation: the model's probabilities, the
/// case's targets, and which labels the rules found.
struct Scored {
    probabilities: Vec<f32>,
    targets: Vec<f32>,
    by_rules: Vec<bool>,
    /// The window head's: [`Prepared::told_is_window`].
    told_is_window: Option<bool>,
}

/// Per-label thresholds (`thresholds`: to add a label; `keep`: for a label the rules found to
/// stay) that maximise the mean per-case F1 of the field (the metric the evaluation uses: an
/// empty answer to an empty label set scores 1), by coordinate ascent from the rules' answer.
fn tune_thresholds(scored: &[Scored], n_labels: usize) -> (Vec<f32>, Vec<f32>) {
    // Start where the model adds nothing and keeps what the rules found: the rules' own score.
    let mut thresholds = vec![1.01f32; n_labels];
    let mut keep = vec![0.0f32; n_labels];
    let mean_f1 = |thresholds: &[f32], keep: &[f32]| mean_f1(scored, thresholds, keep);
    for _ in 0..2 {
        for l in 0..n_labels {
            let mut best = (mean_f1(&thresholds, &keep), thresholds[l]);
            for t in THRESHOLDS.into_iter().chain([1.01]) {
                thresholds[l] = t;
                let score = mean_f1(&thresholds, &keep);
                if score > best.0 + 1e-9 {
                    best = (score, t);
                }
            }
            thresholds[l] = best.1;
            let mut best = (mean_f1(&thresholds, &keep), keep[l]);
            for t in [0.0].into_iter().chain(THRESHOLDS) {
                keep[l] = t;
                let score = mean_f1(&thresholds, &keep);
                if score > best.0 + 1e-9 {
                    best = (score, t);
                }
            }
            keep[l] = best.1;
        }
    }
    (thresholds, keep)
}

/// The mean per-case F1 of a set field's out-of-fold predictions under `thresholds` and `keep`
/// ([`tune_thresholds`]).
fn mean_f1(scored: &[Scored], thresholds: &[f32], keep: &[f32]) -> f64 {
    let total: f64 = scored
        .iter()
        .map(|s| {
            let (mut hits, mut found, mut want) = (0.0, 0.0, 0.0);
            for (l, p) in s.probabilities.iter().enumerate() {
                let chosen = *p >= thresholds[l] || (s.by_rules[l] && *p >= keep[l]);
                let wanted = s.targets[l] > 0.5;
                found += f64::from(u8::from(chosen));
                want += f64::from(u8::from(wanted));
                hits += f64::from(u8::from(chosen && wanted));
            }
            if found == 0.0 && want == 0.0 { 1.0 } else { 2.0 * hits / (found + want) }
        })
        .sum();
    total / scored.len().max(1) as f64
}

/// Per label, whether its turns read by the one that weighs most (`by_max`, the same cases in
/// the same order as `scored`) beat them summed (`scored`): label by label, the column is taken
/// where the field's tuned mean F1 rises. `scored` is left with the columns chosen.
fn choose_pooling(scored: &mut [Scored], mut by_max: Vec<Scored>, n_labels: usize) -> Vec<TurnPooling> {
    let tuned = |scored: &[Scored]| {
        let (thresholds, keep) = tune_thresholds(scored, n_labels);
        mean_f1(scored, &thresholds, &keep)
    };
    let swap = |scored: &mut [Scored], by_max: &mut [Scored], l: usize| {
        for (s, m) in scored.iter_mut().zip(by_max.iter_mut()) {
            std::mem::swap(&mut s.probabilities[l], &mut m.probabilities[l]);
        }
    };
    let mut pooling = vec![TurnPooling::Sum; n_labels];
    let mut best = tuned(scored);
    for (l, chosen) in pooling.iter_mut().enumerate() {
        swap(scored, &mut by_max, l);
        let score = tuned(scored);
        if score > best + 1e-9 {
            (best, *chosen) = (score, TurnPooling::Max);
        } else {
            swap(scored, &mut by_max, l);
        }
    }
    pooling
}

/// For a one-of field: the probability the model's choice needs to replace the rules' label,
/// the one that maximises accuracy (0: the model always decides; above 1: never). `only`: the one
/// label the model may choose, if it may not choose any ([`Field::only_label`]).
fn tune_override(scored: &[Scored], only: Option<usize>) -> f32 {
    let accuracy = |at: f32| -> usize {
        scored
            .iter()
            .filter(|s| {
                let best = (0..s.probabilities.len())
                    .max_by(|a, b| s.probabilities[*a].total_cmp(&s.probabilities[*b]))
                    .unwrap_or(0);
                let may = only.is_none_or(|only| only == best);
                let chosen = if may && s.probabilities[best] >= at {
                    best
                } else {
                    s.by_rules.iter().position(|r| *r).unwrap_or(best)
                };
                s.targets[chosen] > 0.5
            })
            .count()
    };
    let mut best = (accuracy(1.01), 1.01);
    for at in [0.0].into_iter().chain(THRESHOLDS).chain([0.95]) {
        let n = accuracy(at);
        if n > best.0 {
            best = (n, at);
        }
    }
    best.1
}

/// For the window head: the probability of `named` (the label at index `named`) it needs to take a time told
/// in passing for the requested window, the one that makes the most windows right over the cases
/// where the rules found none and the customer told a time (above 1: never).
fn tune_told(scored: &[Scored], named: usize) -> f32 {
    let right = |at: f32| -> usize {
        scored
            .iter()
            .filter_map(|s| s.told_is_window.map(|is| (s, is)))
            .filter(|(s, is)| if s.probabilities[named] >= at { *is } else { s.targets[named] < 0.5 })
            .count()
    };
    let mut best = (right(1.01), 1.01);
    for at in THRESHOLDS.into_iter().chain([0.95]) {
        let n = right(at);
        if n > best.0 {
            best = (n, at);
        }
    }
    best.1
}

/// How cases are dealt into cross-validation folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folding {
    /// A writer's cases of one language go to one fold together, so a held-out fold holds writers
    /// the fitted model never read, as new conversations are: the thresholds tuned on it are
    /// those of new writing, not of a writer's style seen in training.
    ByWriter,
    /// Case by case, in name order round robin: neighbours (one writer's) land in every fold.
    ByCase,
}

/// The fold of each case: by slice, round robin in name order (of cases or of writers' blocks),
/// so every fold holds every language in proportion.
pub fn folds(data: &[Prepared], k: usize, folding: Folding) -> Vec<usize> {
    let keys: Vec<(&str, &str)> = data.iter().map(|d| (d.slice.as_str(), d.case.name.as_str())).collect();
    folds_of(&keys, k, folding)
}

/// [`folds`] of cases given as (slice, name).
pub fn folds_of(keys: &[(&str, &str)], k: usize, folding: Folding) -> Vec<usize> {
    let group = |i: usize| match folding {
        Folding::ByWriter => writer_block(keys[i].1),
        Folding::ByCase => keys[i].1.to_owned(),
    };
    let mut order: Vec<(&str, String, usize)> = (0..keys.len()).map(|i| (keys[i].0, group(i), i)).collect();
    order.sort();
    let mut fold = vec![0; keys.len()];
    // Per slice: the rank of the group being dealt, and its key.
    let mut per_slice: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (slice, group, i) in &order {
        let (rank, current) = per_slice.entry(slice).or_insert((0, group.as_str()));
        if *current != group.as_str() {
            *rank += 1;
            *current = group.as_str();
        }
        fold[*i] = *rank % k;
    }
    fold
}

/// The block of cases one writer wrote in one language: a corpus writer numbers a language's
/// cases consecutively, 60 at a time (`eval/corpus/writers/mkprompt.sh`), and a re-ask writer
/// names its cases with a prefix of its own (`zi-001-...`). Blocks of 60 from case 1 follow
/// the writers' ranges; where an early writer wrote fewer, a block holds two writers, which
/// only makes the folds coarser.
fn writer_block(name: &str) -> String {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    match name[..digits].parse::<u64>() {
        Ok(number) => format!("{:06}", number.saturating_sub(1) / 60),
        Err(_) => name.split('-').next().unwrap_or(name).to_owned(),
    }
}

/// Fit a model on the cases `train` (indexes into `data`), thresholds tuned by an inner
/// cross-validation on those cases only.
pub fn fit_model(
    vocabulary: &Vocabulary,
    data: &[Prepared],
    train: &[usize],
    set: FeatureSet,
    folding: Folding,
    trained_on: String,
) -> Model {
    let mut heads = Vec::new();
    for field in Field::ALL {
        let labels = field.labels(vocabulary);
        let examples: Vec<(usize, Vec<f32>)> =
            train.iter().filter_map(|i| data[*i].targets(field, &labels).map(|y| (*i, y))).collect();
        let by_rules = |i: usize| {
            let found = brief_labels(&data[i].rules, field);
            labels.iter().map(|l| found.contains(l)).collect::<Vec<bool>>()
        };
        let inner_fold: Vec<usize> = match folding {
            Folding::ByCase => (0..examples.len()).map(|n| n % INNER_FOLDS).collect(),
            Folding::ByWriter => {
                let keys: Vec<(&str, &str)> =
                    examples.iter().map(|(i, _)| (data[*i].slice.as_str(), data[*i].case.name.as_str())).collect();
                folds_of(&keys, INNER_FOLDS, folding)
            }
        };
        let out_of_fold = |pooling: &[TurnPooling]| {
            let mut scored = Vec::with_capacity(examples.len());
            for f in 0..INNER_FOLDS {
                let fit_on: Vec<(Example<'_>, Vec<f32>)> = examples
                    .iter()
                    .zip(&inner_fold)
                    .filter(|(_, fold)| **fold != f)
                    .map(|((i, y), _)| (data[*i].example(field, set), y.clone()))
                    .collect();
                let weights = fit(field, labels.len(), &fit_on, pooling, f as u64);
                for ((i, y), _) in examples.iter().zip(&inner_fold).filter(|(_, fold)| **fold == f) {
                    scored.push(Scored {
                        probabilities: predict(field, &weights, pooling, data[*i].example(field, set)),
                        targets: y.clone(),
                        by_rules: by_rules(*i),
                        told_is_window: data[*i].told_is_window(),
                    });
                }
            }
            scored
        };
        let mut scored = out_of_fold(&[]);
        // Objections read by turn: each label fit both ways, kept the way that scores higher.
        let pooling = match field == Field::Objections && set.objections_by_turn {
            true => choose_pooling(&mut scored, out_of_fold(&vec![TurnPooling::Max; labels.len()]), labels.len()),
            false => Vec::new(),
        };
        let (thresholds, keep) = if field.is_set() {
            tune_thresholds(&scored, labels.len())
        } else {
            let only = field.only_label().and_then(|only| labels.iter().position(|l| l == only));
            let mut keep = vec![tune_override(&scored, only)];
            if field == Field::Window
                && set.told
                && let Some(named) = labels.iter().position(|l| l == super::WINDOW_NAMED)
            {
                keep.push(tune_told(&scored, named));
            }
            (Vec::new(), keep)
        };
        let all: Vec<(Example<'_>, Vec<f32>)> =
            examples.iter().map(|(i, y)| (data[*i].example(field, set), y.clone())).collect();
        let weights = fit(field, labels.len(), &all, &pooling, 99);
        let head = Head::from_label_major(field, labels, thresholds, keep, &weights);
        heads.push(Head { pooling, ..head });
    }
    Model::new(set, trained_on, heads)
}

/// The brief a model makes of a prepared case.
pub fn brief_with(model: &Model, case: &Prepared) -> Brief {
    let mut brief = case.rules.clone();
    model.apply_told(&case.turns, &mut brief, case.told.as_ref());
    // As `Interpreter::interpret` does after the model: the parts made to agree.
    crate::interpret::engine::reconcile(&mut brief);
    brief
}

/// What k-fold cross-validation found: a report per layering (`rules`, `model` alone, `both`
/// the model with the rules' findings as features), and each case's out-of-fold briefs (for
/// the per-label figures).
pub struct CrossValidation {
    pub reports: BTreeMap<&'static str, Report>,
    /// Per case of `data`: the rules' brief is `data[i].rules`; this is `both`'s.
    pub both: Vec<Brief>,
}

/// Reports of the three layerings under k-fold cross-validation: `rules`, `model` (alone; left
/// out when `both_only`), `both` (the model with the rules' findings as features).
pub fn cross_validate(
    vocabulary: &Vocabulary,
    data: &[Prepared],
    k: usize,
    set: FeatureSet,
    folding: Folding,
    both_only: bool,
) -> anyhow::Result<CrossValidation> {
    let fold = folds(data, k, folding);
    let mut reports: BTreeMap<&'static str, Report> = BTreeMap::new();
    let mut both_briefs: Vec<Option<Brief>> = vec![None; data.len()];
    for f in 0..k {
        let train: Vec<usize> = (0..data.len()).filter(|i| fold[*i] != f).collect();
        // `both_only`: screening a change, the model alone is half the time and not needed.
        let alone = (!both_only).then(|| {
            fit_model(vocabulary, data, &train, FeatureSet { rule_hits: false, ..set }, folding, String::new())
        });
        let both = fit_model(vocabulary, data, &train, FeatureSet { rule_hits: true, ..set }, folding, String::new());
        for i in (0..data.len()).filter(|i| fold[*i] == f) {
            let case = &data[i];
            score::score_case(&case.case, &case.rules, reports.entry("rules").or_default())?;
            if let Some(alone) = &alone {
                score::score_case(&case.case, &brief_with(alone, case), reports.entry("model").or_default())?;
            }
            let brief = brief_with(&both, case);
            score::score_case(&case.case, &brief, reports.entry("both").or_default())?;
            both_briefs[i] = Some(brief);
        }
    }
    let both = both_briefs.into_iter().map(|b| b.expect("every case is in one fold")).collect();
    Ok(CrossValidation { reports, both })
}

/// Counts of one label: found and expected, found but not expected, expected but not found.
#[derive(Debug, Default, Clone, Copy)]
pub struct LabelCounts {
    pub hits: u32,
    pub extra: u32,
    pub missed: u32,
}

impl LabelCounts {
    pub fn f1(&self) -> f64 {
        let denominator = 2 * self.hits + self.extra + self.missed;
        if denominator == 0 { 1.0 } else { 2.0 * f64::from(self.hits) / f64::from(denominator) }
    }
}

/// The labels a brief gives for a field (one label for one-of fields).
pub fn brief_labels(brief: &Brief, field: Field) -> Vec<String> {
    match field {
        Field::Intents => brief.intents.iter().map(|f| f.code.clone()).collect(),
        Field::Objections => brief.objections.iter().map(|f| f.code.clone()).collect(),
        Field::DoNotAsk => brief.do_not_ask.iter().map(|f| f.fact.clone()).collect(),
        Field::Urgency => vec![brief.urgency.level.as_str().to_owned()],
        Field::Disposition => vec![brief.disposition.as_str().to_owned()],
        Field::Window => {
            vec![if brief.requested_window.is_some() { super::WINDOW_NAMED } else { super::WINDOW_NONE }.to_owned()]
        }
    }
}

/// Per (field, label, slice) counts of `briefs` against the cases' labels. A one-of field
/// counts its one label like a set of one, so a confusion shows as one miss and one extra.
pub fn label_counts<'a>(
    data: &[Prepared],
    briefs: impl Iterator<Item = &'a Brief>,
) -> BTreeMap<(&'static str, String, String), LabelCounts> {
    let mut out: BTreeMap<(&'static str, String, String), LabelCounts> = BTreeMap::new();
    for (case, brief) in data.iter().zip(briefs) {
        for field in Field::ALL {
            let Some(want) = case.case.expect.get(field.name()).and_then(|e| field.expected_labels(e)) else {
                continue;
            };
            let got = brief_labels(brief, field);
            let key = |label: &String| (field.name(), label.clone(), case.slice.clone());
            for label in &want {
                let counts = out.entry(key(label)).or_default();
                if got.contains(label) { counts.hits += 1 } else { counts.missed += 1 }
            }
            for label in got.iter().filter(|l| !want.contains(l)) {
                out.entry(key(label)).or_default().extra += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writers_block_stays_in_one_fold_and_every_language_is_spread() {
        // Two languages; writers of 60 numbered cases (1-60, 61-120, ...) and re-ask writers by prefix.
        let names: Vec<String> = (1..=300).map(|n| format!("{n:03}-case")).collect();
        let mut keys: Vec<(&str, &str)> = names.iter().map(|n| ("en", n.as_str())).collect();
        keys.extend(names.iter().map(|n| ("hi", n.as_str())));
        keys.extend(["zi-001-a", "zi-002-b", "zj-001-a", "zj-002-b"].map(|n| ("reask-en", n)));
        let by_writer = folds_of(&keys, 3, Folding::ByWriter);
        let fold_of = |slice: &str, name: &str| by_writer[keys.iter().position(|k| *k == (slice, name)).unwrap()];
        for slice in ["en", "hi"] {
            assert_eq!(fold_of(slice, "001-case"), fold_of(slice, "060-case"));
            assert_ne!(fold_of(slice, "060-case"), fold_of(slice, "061-case"));
            let mut seen: Vec<usize> = (0..300).map(|n| fold_of(slice, &names[n])).collect();
            seen.dedup();
            assert_eq!(seen, vec![0, 1, 2, 0, 1], "{slice}: five writers dealt round robin");
        }
        assert_eq!(fold_of("reask-en", "zi-001-a"), fold_of("reask-en", "zi-002-b"));
        assert_ne!(fold_of("reask-en", "zi-001-a"), fold_of("reask-en", "zj-001-a"));
        // Case by case, neighbours go to different folds.
        let by_case = folds_of(&keys, 3, Folding::ByCase);
        assert_eq!(&by_case[..4], &[0, 1, 2, 0]);
    }

    #[test]
    fn each_label_keeps_the_pooling_its_out_of_fold_predictions_score_higher() {
        let case = |p: [f32; 2], y: [f32; 2]| Scored {
            probabilities: p.to_vec(),
            targets: y.to_vec(),
            by_rules: vec![false; 2],
            told_is_window: None,
        };
        let targets = [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        // Summed, label 0 cannot tell its positives (0.2, 0.3) from its negatives (0.3, 0.25)
        // and label 1 can; read by turn, the other way round.
        let summed = [[0.2, 0.9], [0.3, 0.1], [0.3, 0.8], [0.25, 0.1]];
        let by_turn = [[0.9, 0.3], [0.1, 0.4], [0.8, 0.2], [0.1, 0.3]];
        let mut scored: Vec<Scored> = summed.iter().zip(&targets).map(|(p, y)| case(*p, *y)).collect();
        let by_max: Vec<Scored> = by_turn.iter().zip(&targets).map(|(p, y)| case(*p, *y)).collect();
        let pooling = choose_pooling(&mut scored, by_max, 2);
        assert_eq!(pooling, vec![TurnPooling::Max, TurnPooling::Sum]);
        let columns: Vec<Vec<f32>> = scored.iter().map(|s| s.probabilities.clone()).collect();
        assert_eq!(columns, vec![vec![0.9, 0.9], vec![0.1, 0.1], vec![0.8, 0.8], vec![0.1, 0.1]]);
    }

    #[test]
    fn thresholds_follow_the_metric() {
        // Label 0 is right whenever its probability passes 0.6; label 1 never occurs.
        let probabilities = [vec![0.7, 0.3], vec![0.65, 0.2], vec![0.4, 0.45], vec![0.55, 0.1]];
        let targets = [vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 0.0]];
        let scored: Vec<Scored> = probabilities
            .iter()
            .zip(&targets)
            .map(|(p, y)| Scored {
                probabilities: p.clone(),
                targets: y.clone(),
                by_rules: vec![false, false],
                told_is_window: None,
            })
            .collect();
        let (t, _) = tune_thresholds(&scored, 2);
        assert!(t[0] > 0.55 && t[0] <= 0.65, "{t:?}");
        assert!(t[1] > 0.45, "{t:?}");
    }

    #[test]
    fn a_rule_finding_stays_unless_the_model_is_sure_it_is_wrong() {
        // The rules found label 0 in every case; it is right where the model gives it 0.2 or
        // more, wrong where the model gives it 0.05.
        let cases = [(0.3, 1.0), (0.25, 1.0), (0.2, 1.0), (0.05, 0.0), (0.04, 0.0)];
        let scored: Vec<Scored> = cases
            .iter()
            .map(|(p, y)| Scored {
                probabilities: vec![*p],
                targets: vec![*y],
                by_rules: vec![true],
                told_is_window: None,
            })
            .collect();
        let (t, keep) = tune_thresholds(&scored, 1);
        assert!(keep[0] > 0.05 && keep[0] <= 0.2, "{keep:?}");
        assert!(t[0] > 0.3, "the model alone never adds it: {t:?}");
    }

    #[test]
    fn the_model_overrules_a_one_of_label_only_when_sure() {
        // Labels (low, high); the rules said low each time. The model is right when sure (0.9),
        // wrong when hesitant (0.55).
        let case = |p_high: f32, high: bool| Scored {
            probabilities: vec![1.0 - p_high, p_high],
            targets: if high { vec![0.0, 1.0] } else { vec![1.0, 0.0] },
            by_rules: vec![true, false],
            told_is_window: None,
        };
        let scored = [case(0.9, true), case(0.92, true), case(0.55, false), case(0.6, false)];
        let at = tune_override(&scored, None);
        assert!(at > 0.6 && at <= 0.9, "{at}");
    }

    #[test]
    fn a_head_that_may_choose_only_one_label_is_tuned_on_that_label_alone() {
        // Labels (named, none); only `none` may replace the rules' answer. The rules said none
        // where the model is sure of named (it may not act there), and named where the model is
        // sure of none and right.
        let case = |p_none: f32, rules_named: bool, none: bool| Scored {
            probabilities: vec![1.0 - p_none, p_none],
            targets: if none { vec![0.0, 1.0] } else { vec![1.0, 0.0] },
            by_rules: vec![rules_named, !rules_named],
            told_is_window: None,
        };
        let scored = [
            case(0.05, false, false),
            case(0.1, false, false),
            case(0.9, true, true),
            case(0.3, true, false),
            case(0.6, true, false),
        ];
        // Free to choose, the model would also take `named` for the first two: every case won at 0.65.
        assert!(tune_override(&scored, None) > 0.6);
        // Only `none`: the first two stay the rules' (wrong either way); the third is won at its 0.9, the
        // last lost below 0.6.
        let at = tune_override(&scored, Some(1));
        assert!(at > 0.6 && at <= 0.9, "{at}");
    }

    #[test]
    fn a_case_teaches_only_the_fields_it_labels() {
        // A first contact of the re-ask corpus labels do_not_ask (and reasked) only.
        let conversation = serde_json::json!({
            "now": "2026-06-09T18:05:00+05:30", "timezone": "Asia/Kolkata", "channel": "whatsapp",
            "customer": {"name": "Asha"},
            "turns": [{"at": "2026-06-09T18:00:00+05:30", "from": "customer", "text": "3BHK in Baner, budget 1.2 cr"}],
        });
        let expect = serde_json::json!({"do_not_ask": ["unit_type", "location", "budget"], "reasked": []});
        let case = Case {
            name: "a-001".into(),
            input: serde_json::from_value(conversation).unwrap(),
            expect: expect.as_object().unwrap().clone(),
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config =
            crate::interpret::InterpretConfig { vocabulary: Some("config/vocabulary".into()), ..Default::default() };
        let rules = crate::interpret::Interpreter::load(&config, root).unwrap().interpret(&case.input).unwrap();
        let turns = case.input.turns.clone();
        let set = FeatureSet {
            rule_hits: true,
            context: true,
            shapes: true,
            window_day: true,
            told: true,
            scopes: true,
            length_scaled: false,
            objections_by_turn: false,
        };
        let prepared = Prepared::new("reask-en".into(), case, turns, rules, None, set);
        let facts: Vec<String> = ["budget", "location", "timeline"].map(String::from).to_vec();
        assert_eq!(prepared.targets(Field::DoNotAsk, &facts), Some(vec![1.0, 1.0, 0.0]));
        for field in [Field::Intents, Field::Objections, Field::Urgency, Field::Disposition, Field::Window] {
            assert_eq!(prepared.targets(field, &["x".to_owned()]), None, "{field:?}");
        }
    }

    #[test]
    fn a_head_that_reads_turns_apart_learns_the_one_turn_that_objects() {
        let turn = |t: &str| {
            let mut v = Vec::new();
            features::customer_turn(t, |i, x, _| v.push((i, x)));
            merged(v)
        };
        let calm = ["ok thanks", "what time do you open", "send me the address", "my wife will come too"].map(turn);
        let objecting = ["hmm that is too expensive for me", "the price is too high honestly"].map(turn);
        let bias: Features = vec![(features::bias_index(), 1.0)];
        let mut cases: Vec<(Vec<Features>, f32)> = Vec::new();
        for (n, o) in objecting.iter().enumerate() {
            let mut turns = calm.to_vec();
            turns.insert(n + 1, o.clone());
            cases.push((turns, 1.0));
            cases.push((calm[n..].to_vec(), 0.0));
            cases.push((calm[..n + 2].to_vec(), 0.0));
        }
        let examples: Vec<(Example<'_>, Vec<f32>)> =
            cases.iter().map(|(turns, y)| (Example { sum: &bias, turns }, vec![*y])).collect();
        let by_max = [TurnPooling::Max];
        let weights = fit(Field::Objections, 1, &examples, &by_max, 1);
        // The score is the rest plus the turn that weighs most, and that turn is named.
        let (z, best) = examples[0].0.score(&weights[0], TurnPooling::Max);
        assert_eq!(best, Some(1));
        let rest: f32 = bias.iter().map(|(i, v)| weights[0][*i as usize] * v).sum();
        let own: f32 = objecting[0].iter().map(|(i, v)| weights[0][*i as usize] * v).sum();
        assert!((z - rest - own).abs() < 1e-4);
        // A new long conversation with one objecting turn among calm ones, and one without.
        let mut long = calm.to_vec();
        long.extend(calm.iter().cloned());
        let calm_only = long.clone();
        long.push(turn("too expensive"));
        let read = |turns| Example { sum: &bias, turns };
        assert!(predict(Field::Objections, &weights, &by_max, read(&long))[0] > 0.5);
        assert!(predict(Field::Objections, &weights, &by_max, read(&calm_only))[0] < 0.5);
    }

    #[test]
    fn a_separable_label_is_learnt() {
        let mut examples = Vec::new();
        let texts = ["too expensive for me", "the price is too high", "when can you come", "send the brochure"];
        let feats: Vec<Features> = texts
            .iter()
            .map(|t| {
                let mut v = Vec::new();
                features::customer_turn(t, |i, x, _| v.push((i, x)));
                merged(v)
            })
            .collect();
        for (n, x) in feats.iter().enumerate() {
            examples.push((Example::summed(x), vec![if n < 2 { 1.0 } else { 0.0 }]));
        }
        let weights = fit(Field::Objections, 1, &examples, &[], 1);
        assert!(predict(Field::Objections, &weights, &[], Example::summed(&feats[0]))[0] > 0.5);
        assert!(predict(Field::Objections, &weights, &[], Example::summed(&feats[2]))[0] < 0.5);
    }
}
