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

use super::features::{self, DIMS, FeatureSet, Features};
use super::{Field, Head, Model, softmax};
use crate::interpret::Vocabulary;
use crate::interpret::score::{self, Case, Report};

/// Passes over the training cases.
const EPOCHS: usize = 8;
const LEARNING_RATE: f32 = 0.3;
const L2: f32 = 1e-4;
/// Folds of the inner cross-validation that tunes thresholds.
const INNER_FOLDS: usize = 3;
/// Thresholds tried for each label.
const THRESHOLDS: [f32; 17] =
    [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];

/// A labelled case with what training needs of it, computed once.
pub struct Prepared {
    pub slice: String,
    pub case: Case,
    /// The turns before the handoff (what the brief is made from).
    pub turns: Vec<Turn>,
    /// The rules' brief.
    pub rules: Brief,
    pub alone: Features,
    pub with_rules: Features,
}

impl Prepared {
    pub fn new(slice: String, case: Case, turns: Vec<Turn>, rules: Brief) -> Self {
        let mut alone = Vec::new();
        features::extract(&turns, &rules, FeatureSet { rule_hits: false }, &mut alone);
        let mut with_rules = Vec::new();
        features::extract(&turns, &rules, FeatureSet { rule_hits: true }, &mut with_rules);
        Prepared { slice, case, turns, rules, alone: merged(alone), with_rules: merged(with_rules) }
    }

    fn features(&self, set: FeatureSet) -> &Features {
        if set.rule_hits { &self.with_rules } else { &self.alone }
    }

    /// The case's targets for `field` over `labels`, or None when the case does not label it.
    fn targets(&self, field: Field, labels: &[String]) -> Option<Vec<f32>> {
        let expected = self.case.expect.get(field.name())?;
        let has = |label: &str| match expected {
            serde_json::Value::Array(items) => items.iter().any(|v| v.as_str() == Some(label)),
            serde_json::Value::String(s) => s == label,
            _ => false,
        };
        let y: Vec<f32> = labels.iter().map(|l| if has(l) { 1.0 } else { 0.0 }).collect();
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

/// Fit one field's classifiers; label-major weights.
fn fit(field: Field, n_labels: usize, examples: &[(&Features, Vec<f32>)], seed: u64) -> Vec<Vec<f32>> {
    let mut weights = vec![vec![0.0f32; DIMS]; n_labels];
    let mut squares = vec![vec![1e-6f32; DIMS]; n_labels];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut z = vec![0.0f32; n_labels];
    for _ in 0..EPOCHS {
        order.shuffle(&mut rng);
        for &e in &order {
            let (x, y) = &examples[e];
            for (l, zl) in z.iter_mut().enumerate() {
                *zl = x.iter().map(|(i, v)| weights[l][*i as usize] * v).sum();
            }
            if field.is_set() {
                z.iter_mut().for_each(|v| *v = super::sigmoid(*v));
            } else {
                softmax(&mut z);
            }
            for l in 0..n_labels {
                let g = z[l] - y[l];
                let (w, s) = (&mut weights[l], &mut squares[l]);
                for (i, v) in x.iter() {
                    let i = *i as usize;
                    let grad = g * v + L2 * w[i];
                    s[i] += grad * grad;
                    w[i] -= LEARNING_RATE * grad / s[i].sqrt();
                }
            }
        }
    }
    weights
}

/// Probabilities of `x` under label-major weights.
fn predict(field: Field, weights: &[Vec<f32>], x: &Features) -> Vec<f32> {
    let mut z: Vec<f32> = weights.iter().map(|w| x.iter().map(|(i, v)| w[*i as usize] * v).sum()).collect();
    if field.is_set() {
        z.iter_mut().for_each(|v| *v = super::sigmoid(*v));
    } else {
        softmax(&mut z);
    }
    z
}

/// Per-label thresholds that maximise the mean per-case F1 of the field (the metric the
/// evaluation uses: an empty answer to an empty label set scores 1), by coordinate ascent.
fn tune_thresholds(probabilities: &[Vec<f32>], targets: &[Vec<f32>], n_labels: usize) -> Vec<f32> {
    let mut thresholds = vec![0.5f32; n_labels];
    let mean_f1 = |thresholds: &[f32]| -> f64 {
        let total: f64 = probabilities
            .iter()
            .zip(targets)
            .map(|(p, y)| {
                let (mut hits, mut found, mut want) = (0.0, 0.0, 0.0);
                for l in 0..n_labels {
                    let chosen = p[l] >= thresholds[l];
                    let wanted = y[l] > 0.5;
                    found += f64::from(u8::from(chosen));
                    want += f64::from(u8::from(wanted));
                    hits += f64::from(u8::from(chosen && wanted));
                }
                if found == 0.0 && want == 0.0 { 1.0 } else { 2.0 * hits / (found + want) }
            })
            .sum();
        total / probabilities.len().max(1) as f64
    };
    for _ in 0..2 {
        for l in 0..n_labels {
            let mut best = (mean_f1(&thresholds), thresholds[l]);
            for t in THRESHOLDS {
                thresholds[l] = t;
                let score = mean_f1(&thresholds);
                if score > best.0 + 1e-9 {
                    best = (score, t);
                }
            }
            thresholds[l] = best.1;
        }
    }
    thresholds
}

/// The fold of each case: by slice, in name order, round robin, so every fold holds every
/// language in proportion.
pub fn folds(data: &[Prepared], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by(|a, b| (&data[*a].slice, &data[*a].case.name).cmp(&(&data[*b].slice, &data[*b].case.name)));
    let mut fold = vec![0; data.len()];
    let mut per_slice: BTreeMap<&str, usize> = BTreeMap::new();
    for i in order {
        let n = per_slice.entry(data[i].slice.as_str()).or_default();
        fold[i] = *n % k;
        *n += 1;
    }
    fold
}

/// Fit a model on the cases `train` (indexes into `data`), thresholds tuned by an inner
/// cross-validation on those cases only.
pub fn fit_model(
    vocabulary: &Vocabulary,
    data: &[Prepared],
    train: &[usize],
    set: FeatureSet,
    trained_on: String,
) -> Model {
    let mut heads = Vec::new();
    for field in Field::ALL {
        let labels = field.labels(vocabulary);
        let examples: Vec<(usize, Vec<f32>)> =
            train.iter().filter_map(|i| data[*i].targets(field, &labels).map(|y| (*i, y))).collect();
        let thresholds = if field.is_set() {
            let mut probabilities = Vec::with_capacity(examples.len());
            let mut targets = Vec::with_capacity(examples.len());
            for f in 0..INNER_FOLDS {
                let fit_on: Vec<(&Features, Vec<f32>)> = examples
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| n % INNER_FOLDS != f)
                    .map(|(_, (i, y))| (data[*i].features(set), y.clone()))
                    .collect();
                let weights = fit(field, labels.len(), &fit_on, f as u64);
                for (_, (i, y)) in examples.iter().enumerate().filter(|(n, _)| n % INNER_FOLDS == f) {
                    probabilities.push(predict(field, &weights, data[*i].features(set)));
                    targets.push(y.clone());
                }
            }
            tune_thresholds(&probabilities, &targets, labels.len())
        } else {
            Vec::new()
        };
        let all: Vec<(&Features, Vec<f32>)> =
            examples.iter().map(|(i, y)| (data[*i].features(set), y.clone())).collect();
        let weights = fit(field, labels.len(), &all, 99);
        heads.push(Head::from_label_major(field, labels, thresholds, &weights));
    }
    Model { features: set, trained_on, heads }
}

/// The brief a model makes of a prepared case.
pub fn brief_with(model: &Model, case: &Prepared) -> Brief {
    let mut brief = case.rules.clone();
    model.apply(&case.turns, &mut brief);
    brief
}

/// Reports of the three layerings under k-fold cross-validation: `rules`, `model` (alone),
/// `both` (the model with the rules' findings as features).
pub fn cross_validate(
    vocabulary: &Vocabulary,
    data: &[Prepared],
    k: usize,
) -> anyhow::Result<BTreeMap<&'static str, Report>> {
    let fold = folds(data, k);
    let mut reports: BTreeMap<&'static str, Report> = BTreeMap::new();
    for f in 0..k {
        let train: Vec<usize> = (0..data.len()).filter(|i| fold[*i] != f).collect();
        let alone = fit_model(vocabulary, data, &train, FeatureSet { rule_hits: false }, String::new());
        let both = fit_model(vocabulary, data, &train, FeatureSet { rule_hits: true }, String::new());
        for case in (0..data.len()).filter(|i| fold[*i] == f).map(|i| &data[i]) {
            score::score_case(&case.case, &case.rules, reports.entry("rules").or_default())?;
            score::score_case(&case.case, &brief_with(&alone, case), reports.entry("model").or_default())?;
            score::score_case(&case.case, &brief_with(&both, case), reports.entry("both").or_default())?;
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_metric() {
        // Label 0 is right whenever its probability passes 0.6; label 1 never occurs.
        let probabilities = vec![vec![0.7, 0.3], vec![0.65, 0.2], vec![0.4, 0.45], vec![0.55, 0.1]];
        let targets = vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 0.0]];
        let t = tune_thresholds(&probabilities, &targets, 2);
        assert!(t[0] > 0.55 && t[0] <= 0.65, "{t:?}");
        assert!(t[1] > 0.45, "{t:?}");
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
            examples.push((x, vec![if n < 2 { 1.0 } else { 0.0 }]));
        }
        let weights = fit(Field::Objections, 1, &examples, 1);
        assert!(predict(Field::Objections, &weights, &feats[0])[0] > 0.5);
        assert!(predict(Field::Objections, &weights, &feats[2])[0] < 0.5);
    }
}
