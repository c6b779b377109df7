//! The trained model beside the rules: one linear classifier per label over hashed n-grams of
//! the conversation (see [`features`]), with what the rules found as features of their own.
//!
//! The rules stay the first layer (sales ops extend them in YAML); the model reads their brief
//! and decides the fields its file enables, each one enabled only where cross-validation on the
//! training split showed it beat the rules (`handoffd train`). Every label keeps its evidence:
//! where the rules found the same label their phrase stays; a label only the model found names
//! the customer turn and the words that weighed most for it.
//!
//! Layout: [`features`] (what the model sees), [`train`] (fitting, thresholds, cross-validation),
//! this file (the model file, its checks against the vocabulary, and applying it to a brief).

use std::cell::RefCell;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;
use base64::Engine as _;
use handoffd_contract::brief::{Brief, Disposition, FactValue, Finding, UrgencyLevel};
use handoffd_contract::conversation::Turn;
use serde::{Deserialize, Serialize};

use super::Vocabulary;
use super::text::shorten;
use super::window::FoundWindow;

pub mod features;
pub mod reask;
pub mod train;

use features::{DIMS, FeatureSet, Features, TurnFeatures, TurnPooling};

/// The model file's format tag; a file with another is refused.
pub const FORMAT: &str = "handoffd-brief-model/1";

/// Facts the model leaves to the rules: `preferred_time` is listed exactly when the time
/// resolver found a window (eval/README.md), so it follows the window, not the words.
pub const RULE_ONLY_FACTS: &[&str] = &["preferred_time"];

/// The brief fields a model may decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Intents,
    Objections,
    DoNotAsk,
    Urgency,
    Disposition,
    /// Whether the customer named a time for the next contact (`named`) or not (`none`). The time
    /// resolver's rules find the window and its bounds; this head may only take a window away, where
    /// it is sure the time the rules read was not a request (a delivery date, working hours, a fix
    /// wanted "today"): a model cannot give bounds.
    #[serde(rename = "requested_window")]
    Window,
}

impl Field {
    pub const ALL: [Field; 6] =
        [Field::Intents, Field::Objections, Field::DoNotAsk, Field::Urgency, Field::Disposition, Field::Window];

    pub fn name(self) -> &'static str {
        match self {
            Field::Intents => "intents",
            Field::Objections => "objections",
            Field::DoNotAsk => "do_not_ask",
            Field::Urgency => "urgency",
            Field::Disposition => "disposition",
            Field::Window => "requested_window",
        }
    }

    /// A set of labels (one binary classifier each) or exactly one of them (softmax).
    pub fn is_set(self) -> bool {
        matches!(self, Field::Intents | Field::Objections | Field::DoNotAsk)
    }

    /// The labels the vocabulary (or the brief's fixed enums) defines for this field.
    pub fn labels(self, vocabulary: &Vocabulary) -> Vec<String> {
        let codes = |entries: &[super::vocabulary::Entry]| {
            let mut codes: Vec<String> = entries.iter().map(|e| e.code.clone()).collect();
            codes.sort();
            codes.dedup();
            codes
        };
        match self {
            Field::Intents => codes(&vocabulary.intents.entries),
            Field::Objections => codes(&vocabulary.objections.entries),
            Field::DoNotAsk => codes(&vocabulary.facts.entries)
                .into_iter()
                .filter(|c| !RULE_ONLY_FACTS.contains(&c.as_str()))
                .collect(),
            Field::Urgency => ["low", "medium", "high"].map(String::from).to_vec(),
            Field::Disposition => {
                ["callback", "escalation", "nurture", "closed_lost", "booked"].map(String::from).to_vec()
            }
            Field::Window => [WINDOW_NAMED, WINDOW_NONE].map(String::from).to_vec(),
        }
    }

    /// The one label the model may choose over the rules' (`None`: any): a window's bounds come from
    /// the rules only, so the window head may only say `none`.
    pub fn only_label(self) -> Option<&'static str> {
        (self == Field::Window).then_some(WINDOW_NONE)
    }

    /// A labelled case's answer for this field as labels: a set, a one-of label, or for the window
    /// `named` or `none`. `None` when the value is not of the field's kind.
    pub fn expected_labels(self, expected: &serde_json::Value) -> Option<Vec<String>> {
        match (self, expected) {
            (Field::Window, serde_json::Value::Null) => Some(vec![WINDOW_NONE.into()]),
            (Field::Window, serde_json::Value::Object(_)) => Some(vec![WINDOW_NAMED.into()]),
            (Field::Window, _) => None,
            (_, serde_json::Value::Array(items)) => {
                Some(items.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            }
            (_, serde_json::Value::String(s)) => Some(vec![s.clone()]),
            _ => None,
        }
    }
}

/// The window head's labels (see [`Field::Window`]).
pub const WINDOW_NAMED: &str = "named";
pub const WINDOW_NONE: &str = "none";

/// One field's classifiers as stored: weights quantised to i8 per label (label-major, base64),
/// a scale per label, and for set fields a decision threshold per label.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadFile {
    pub field: Field,
    /// Whether the model decides this field (cross-validation said it beats the rules).
    pub enabled: bool,
    pub labels: Vec<String>,
    #[serde(default)]
    pub thresholds: Vec<f32>,
    /// Set fields: per label, the probability a label the rules found needs to stay (at or
    /// below its threshold: the rules' finding counts as evidence). One-of fields: one value,
    /// the probability the model's choice needs to replace the rules'. Absent in older files:
    /// the thresholds, and 0 (the model always decides). The window head may hold a second
    /// value: the probability of `named` it needs to take a time the customer told in passing
    /// for the requested window where the rules found none (absent: it never does).
    #[serde(default)]
    pub keep: Vec<f32>,
    /// The objections head where the model reads its turns apart
    /// ([`FeatureSet::objections_by_turn`]): the labels scored by the one customer turn that
    /// weighs most for them; the others sum every turn. Absent in older files: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_turn: Vec<String>,
    pub scales: Vec<f32>,
    pub weights: String,
}

/// The model file (`interpret.model`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format: String,
    pub bits: u32,
    pub features: FeatureSet,
    /// How it was made (corpus, cases, date), for whoever reads the file.
    pub trained_on: String,
    pub heads: Vec<HeadFile>,
    /// The re-ask head (absent in older files and where none was trained: the patterns decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reask: Option<reask::ReaskFile>,
}

/// One field's classifiers, ready to score: weights feature-major, so a feature touches one
/// contiguous row of labels.
#[derive(Debug, Clone)]
pub struct Head {
    pub field: Field,
    pub enabled: bool,
    pub labels: Vec<String>,
    pub thresholds: Vec<f32>,
    /// See [`HeadFile::keep`].
    pub keep: Vec<f32>,
    /// Per label, how a head that reads the customer's turns apart pools them (see
    /// [`HeadFile::by_turn`]); empty: every label sums them.
    pub pooling: Vec<TurnPooling>,
    weights: Vec<f32>,
}

impl Head {
    /// A head from label-major float weights (`train`).
    pub fn from_label_major(
        field: Field,
        labels: Vec<String>,
        thresholds: Vec<f32>,
        keep: Vec<f32>,
        label_major: &[Vec<f32>],
    ) -> Self {
        let n = labels.len();
        let mut weights = vec![0.0; DIMS * n];
        for (l, row) in label_major.iter().enumerate() {
            for (i, w) in row.iter().enumerate() {
                weights[i * n + l] = *w;
            }
        }
        Head { field, enabled: true, labels, thresholds, keep, pooling: Vec::new(), weights }
    }

    /// How label `l` pools the customer's turns where they are read apart.
    fn pooling_of(&self, l: usize) -> TurnPooling {
        TurnPooling::of(&self.pooling, l)
    }

    fn weight(&self, feature: u32, label: usize) -> f32 {
        self.weights[feature as usize * self.labels.len() + label]
    }

    /// Raw scores, one per label.
    pub fn scores(&self, features: &Features, out: &mut Vec<f32>) {
        let n = self.labels.len();
        out.clear();
        out.resize(n, 0.0);
        for (i, v) in features {
            let row = &self.weights[*i as usize * n..(*i as usize + 1) * n];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }

    /// This head's weights of one feature, a row of labels.
    fn row(&self, feature: u32) -> &[f32] {
        let n = self.labels.len();
        &self.weights[feature as usize * n..(feature as usize + 1) * n]
    }

    /// Raw scores of a head that reads the customer's turns apart ([`FeatureSet::objection_turns`]):
    /// the features of no customer turn, plus per label every customer turn or the one that weighs
    /// most for it ([`Self::pooling`]), read unscaled (`scale`: what the extraction multiplied them by).
    fn scores_by_turn(&self, features: &Features, customer: &[TurnFeatures], scale: f32, out: &mut Vec<f32>) {
        fn add(head: &Head, features: &[(u32, f32)], by: f32, acc: &mut [f32]) {
            for (i, v) in features {
                for (o, w) in acc.iter_mut().zip(head.row(*i)) {
                    *o += w * v * by;
                }
            }
        }
        let n = self.labels.len();
        out.clear();
        out.resize(n, 0.0);
        let mut from = 0;
        for turn in customer {
            add(self, &features[from..turn.range.start], 1.0, out);
            from = turn.range.end;
        }
        add(self, &features[from..], 1.0, out);
        if customer.is_empty() {
            return;
        }
        if !self.pooling.contains(&TurnPooling::Max) {
            for turn in customer {
                add(self, &features[turn.range.clone()], 1.0 / scale, out);
            }
            return;
        }
        // Each turn scored on its own: a summed label adds them all, a pooled one its best.
        let (mut summed, mut best, mut turn_scores) = (vec![0.0; n], vec![f32::NEG_INFINITY; n], vec![0.0; n]);
        for turn in customer {
            turn_scores.fill(0.0);
            add(self, &features[turn.range.clone()], 1.0 / scale, &mut turn_scores);
            for (l, z) in turn_scores.iter().enumerate() {
                summed[l] += z;
                best[l] = best[l].max(*z);
            }
        }
        for (l, o) in out.iter_mut().enumerate() {
            *o += match self.pooling_of(l) {
                TurnPooling::Sum => summed[l],
                TurnPooling::Max => best[l],
            };
        }
    }

    /// Probabilities: a sigmoid per label for set fields, a softmax for one-of fields.
    pub fn probabilities(&self, features: &Features, out: &mut Vec<f32>) {
        self.scores(features, out);
        self.to_probabilities(out);
    }

    /// Raw scores (this head's labels) made probabilities, in place.
    fn to_probabilities(&self, scores: &mut [f32]) {
        if self.field.is_set() {
            scores.iter_mut().for_each(|z| *z = sigmoid(*z));
        } else {
            softmax(scores);
        }
    }

    fn to_file(&self) -> HeadFile {
        let n = self.labels.len();
        let mut scales = Vec::with_capacity(n);
        let mut bytes = Vec::with_capacity(n * DIMS);
        for l in 0..n {
            let (scale, label) = quantise((0..DIMS).map(|i| self.weight(i as u32, l)));
            scales.push(scale);
            bytes.extend(label);
        }
        HeadFile {
            field: self.field,
            enabled: self.enabled,
            labels: self.labels.clone(),
            thresholds: self.thresholds.clone(),
            keep: self.keep.clone(),
            by_turn: (0..n)
                .filter(|l| self.pooling_of(*l) == TurnPooling::Max)
                .map(|l| self.labels[l].clone())
                .collect(),
            scales,
            weights: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    fn from_file(file: &HeadFile) -> anyhow::Result<Self> {
        let n = file.labels.len();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&file.weights)
            .with_context(|| format!("head `{}`: `weights` is not base64", file.field.name()))?;
        anyhow::ensure!(
            bytes.len() == n * DIMS && file.scales.len() == n,
            "head `{}`: {} weights and {} scales for {n} labels of {DIMS} features",
            file.field.name(),
            bytes.len(),
            file.scales.len()
        );
        anyhow::ensure!(
            !file.field.is_set() || file.thresholds.len() == n,
            "head `{}`: {} thresholds for {n} labels",
            file.field.name(),
            file.thresholds.len()
        );
        let keep = match (file.keep.is_empty(), file.field.is_set()) {
            (true, true) => file.thresholds.clone(),
            (true, false) => vec![0.0],
            (false, _) => file.keep.clone(),
        };
        let allowed = match file.field {
            f if f.is_set() => n..=n,
            Field::Window => 1..=2,
            _ => 1..=1,
        };
        anyhow::ensure!(allowed.contains(&keep.len()), "head `{}`: {} `keep` values", file.field.name(), keep.len());
        if let Some(unknown) = file.by_turn.iter().find(|l| !file.labels.contains(l)) {
            anyhow::bail!("head `{}`: `by_turn` names `{unknown}`, not one of its labels", file.field.name());
        }
        let pooling = match file.by_turn.is_empty() {
            true => Vec::new(),
            false => file
                .labels
                .iter()
                .map(|l| if file.by_turn.contains(l) { TurnPooling::Max } else { TurnPooling::Sum })
                .collect(),
        };
        let mut weights = vec![0.0; DIMS * n];
        for l in 0..n {
            for i in 0..DIMS {
                weights[i * n + l] = dequantise(bytes[l * DIMS + i], file.scales[l]);
            }
        }
        Ok(Head {
            field: file.field,
            enabled: file.enabled,
            labels: file.labels.clone(),
            thresholds: file.thresholds.clone(),
            keep,
            pooling,
            weights,
        })
    }
}

/// Weights in the file's form: i8 (as bytes) with one scale, the largest magnitude at 127.
fn quantise(weights: impl Iterator<Item = f32> + Clone) -> (f32, impl Iterator<Item = u8>) {
    let max = weights.clone().map(f32::abs).fold(0.0f32, f32::max);
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    (scale, weights.map(move |w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8))
}

/// A weight read back from [`quantise`]'s form.
fn dequantise(byte: u8, scale: f32) -> f32 {
    f32::from(byte as i8) * scale
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct Model {
    pub features: FeatureSet,
    pub trained_on: String,
    pub heads: Vec<Head>,
    /// Whether an agent asked again for a given fact (see [`reask`]).
    pub reask: Option<reask::ReaskHead>,
    /// The enabled heads' weights side by side, made on the first brief (see [`Fused`]).
    fused: OnceLock<Fused>,
}

/// Every enabled head's weights in one table, feature-major: a feature's weights for all the
/// labels of all the heads are one contiguous row, so one pass over a brief's features scores
/// every head (the heads' own tables took a pass each). Each label's score is still summed over
/// the features in the same order from the same `f32` weights, so the scores are bit for bit
/// the heads' own.
#[derive(Debug, Clone)]
struct Fused {
    /// (field, number of labels) of the enabled heads, in order: the table is used only while
    /// the model's enabled heads still have this shape (`heads` is public, and `train` drops
    /// heads from a model it made).
    shape: Vec<(Field, usize)>,
    /// Labels in a row: the sum of `shape`'s.
    width: usize,
    weights: Vec<f32>,
}

impl Fused {
    fn new<'a>(heads: impl Iterator<Item = &'a Head> + Clone) -> Self {
        let shape: Vec<(Field, usize)> = heads.clone().map(|h| (h.field, h.labels.len())).collect();
        let width = shape.iter().map(|(_, n)| n).sum();
        let mut weights = Vec::with_capacity(DIMS * width);
        for i in 0..DIMS {
            for head in heads.clone() {
                let n = head.labels.len();
                weights.extend_from_slice(&head.weights[i * n..(i + 1) * n]);
            }
        }
        Fused { shape, width, weights }
    }

    fn fits<'a>(&self, mut heads: impl Iterator<Item = &'a Head>) -> bool {
        self.shape.iter().all(|(field, n)| heads.next().is_some_and(|h| h.field == *field && h.labels.len() == *n))
            && heads.next().is_none()
    }

    /// Raw scores of every enabled head's labels, in head order: [`Head::scores`] side by side.
    fn scores(&self, features: &Features, out: &mut Vec<f32>) {
        let n = self.width;
        out.clear();
        out.resize(n, 0.0);
        for (i, v) in features {
            let row = &self.weights[*i as usize * n..(*i as usize + 1) * n];
            // Each label adds `w * v` feature by feature, as `Head::scores` does. (Eight labels
            // at a time through `as_chunks` doubled this loop's instructions: measured, undone.)
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }
}

/// A brief's working buffers, kept per thread between briefs.
#[derive(Default)]
struct Scratch {
    features: Features,
    scores: Vec<f32>,
    buffers: features::Buffers,
    customer: Vec<TurnFeatures>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

impl Model {
    /// Read a model file and check it against the vocabulary: its labels must be exactly the
    /// vocabulary's, or its weights would answer for codes the rules no longer know (or miss
    /// new ones).
    pub fn load(path: &Path, vocabulary: &Vocabulary) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let file: ModelFile =
            serde_json::from_str(&text).with_context(|| format!("`{}` is not a model file", path.display()))?;
        let model = Self::from_file(&file).with_context(|| format!("`{}`", path.display()))?;
        model.check_labels(vocabulary).with_context(|| format!("`{}`", path.display()))?;
        Ok(model)
    }

    pub fn from_file(file: &ModelFile) -> anyhow::Result<Self> {
        anyhow::ensure!(file.format == FORMAT, "format `{}`, expected `{FORMAT}`", file.format);
        anyhow::ensure!(file.bits == features::BITS, "{} feature bits, this build reads {}", file.bits, features::BITS);
        let heads = file.heads.iter().map(Head::from_file).collect::<anyhow::Result<Vec<_>>>()?;
        let mut model = Model::new(file.features, file.trained_on.clone(), heads);
        model.reask = file.reask.as_ref().map(reask::ReaskHead::from_file).transpose()?;
        Ok(model)
    }

    pub fn new(features: FeatureSet, trained_on: String, heads: Vec<Head>) -> Self {
        Model { features, trained_on, heads, reask: None, fused: OnceLock::new() }
    }

    /// The re-ask head, where the model file enables one.
    pub fn reask_head(&self) -> Option<&reask::ReaskHead> {
        self.reask.as_ref().filter(|head| head.enabled)
    }

    /// The do_not_ask head (the re-ask head reads what a sentence is about with it).
    pub fn facts_head(&self) -> Option<&Head> {
        self.heads.iter().find(|h| h.field == Field::DoNotAsk)
    }

    /// The facts of `do_not_ask` an agent asked again after the handoff, by the re-ask head;
    /// `None` when the model has none enabled (the patterns decide).
    pub fn reasked(
        &self,
        vocabulary: &Vocabulary,
        do_not_ask: &[FactValue],
        before: &[Turn],
        after: &[(usize, &Turn)],
    ) -> Option<Vec<handoffd_contract::brief::Reask>> {
        let head = self.reask_head()?;
        Some(head.reasked(self.facts_head(), vocabulary, do_not_ask, before, after))
    }

    /// Whether `head` is scored from the customer's turns apart ([`Head::scores_by_turn`]), not
    /// from the fused table.
    fn reads_turns_apart(&self, head: &Head) -> bool {
        head.field == Field::Objections && self.features.objection_turns()
    }

    /// The heads the fused table scores: the enabled ones but a head read by turn.
    fn fused_heads(&self) -> impl Iterator<Item = &Head> + Clone {
        self.heads.iter().filter(|h| h.enabled && !self.reads_turns_apart(h))
    }

    /// The fused table of [`Self::fused_heads`], unless the heads changed since it was made.
    fn fused(&self) -> Option<&Fused> {
        Some(self.fused.get_or_init(|| Fused::new(self.fused_heads()))).filter(|fused| fused.fits(self.fused_heads()))
    }

    pub fn to_file(&self) -> ModelFile {
        ModelFile {
            format: FORMAT.into(),
            bits: features::BITS,
            features: self.features,
            trained_on: self.trained_on.clone(),
            heads: self.heads.iter().map(Head::to_file).collect(),
            reask: self.reask.as_ref().map(reask::ReaskHead::to_file),
        }
    }

    /// Every head's labels must be the vocabulary's for its field.
    pub fn check_labels(&self, vocabulary: &Vocabulary) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for head in &self.heads {
            let mut want = head.field.labels(vocabulary);
            want.sort();
            let mut have = head.labels.clone();
            have.sort();
            if have != want {
                let extra: Vec<&String> = have.iter().filter(|l| !want.contains(l)).collect();
                let missing: Vec<&String> = want.iter().filter(|l| !have.contains(l)).collect();
                problems.push(format!(
                    "`{}` labels do not match the vocabulary (unknown to it: {extra:?}; not in the model: {missing:?})",
                    head.field.name()
                ));
            }
        }
        anyhow::ensure!(problems.is_empty(), "{}; retrain with `handoffd train`", problems.join("; "));
        Ok(())
    }

    /// The fields this model decides.
    pub fn enabled_fields(&self) -> Vec<&'static str> {
        let mut fields: Vec<&'static str> = self.heads.iter().filter(|h| h.enabled).map(|h| h.field.name()).collect();
        if self.reask_head().is_some() {
            fields.push("reasked_facts");
        }
        fields
    }

    /// Decide the enabled fields of `brief` (made by the rules from `turns`).
    pub fn apply(&self, turns: &[Turn], brief: &mut Brief) {
        let folded: Vec<String> = turns.iter().map(|t| super::text::fold(&t.text)).collect();
        self.apply_folded(turns, &folded, brief);
    }

    /// [`Self::apply`] to turns already folded (`folded[i]` is `turns[i]`'s text, folded).
    pub fn apply_folded(&self, turns: &[Turn], folded: &[impl AsRef<str>], brief: &mut Brief) {
        self.apply_folded_told(turns, folded, brief, None);
    }

    /// [`Self::apply`], with the time the customer told in passing where the rules found no
    /// window (`told`), which the window head may take for the requested window.
    pub fn apply_told(&self, turns: &[Turn], brief: &mut Brief, told: Option<&FoundWindow>) {
        let folded: Vec<String> = turns.iter().map(|t| super::text::fold(&t.text)).collect();
        self.apply_folded_told(turns, &folded, brief, told);
    }

    /// [`Self::apply_told`] to turns already folded.
    pub fn apply_folded_told(
        &self,
        turns: &[Turn],
        folded: &[impl AsRef<str>],
        brief: &mut Brief,
        told: Option<&FoundWindow>,
    ) {
        let told = told.filter(|_| brief.requested_window.is_none());
        SCRATCH.with(|scratch| {
            // Taken out for the call: a nested call on this thread (none today) would get fresh buffers.
            let mut taken = scratch.borrow_mut().take().unwrap_or_default();
            let Scratch { features, scores, buffers, customer } = &mut taken;
            let read = features::RulesRead { brief, told: told.map(|t| &t.window) };
            features::extract_keeping(turns, folded, read, self.features, features, buffers, customer);
            let fused = self.fused();
            if let Some(fused) = fused {
                fused.scores(features, scores);
            }
            let scale = features::length_scale(self.features, customer);
            let seen = Seen { turns, features, customer };
            let mut offset = 0;
            let mut own = Vec::new();
            for head in self.heads.iter().filter(|h| h.enabled) {
                let probabilities = if self.reads_turns_apart(head) {
                    head.scores_by_turn(features, customer, scale, &mut own);
                    &mut own[..]
                } else if fused.is_some() {
                    offset += head.labels.len();
                    &mut scores[offset - head.labels.len()..offset]
                } else {
                    head.scores(features, &mut own);
                    &mut own[..]
                };
                head.to_probabilities(probabilities);
                decide(head, probabilities, &seen, brief, told);
            }
            *scratch.borrow_mut() = Some(taken);
        });
    }
}

/// What the model saw of a brief's turns, for the evidence of the labels it chose.
struct Seen<'a> {
    turns: &'a [Turn],
    features: &'a Features,
    /// Each customer turn's share of `features`, in turn order.
    customer: &'a [TurnFeatures],
}

/// Write the head's decision into the brief, keeping the rules' evidence where they agree.
/// `told`: the time told in passing the window head may take for the requested window (given only
/// where the rules found none: [`Model::apply_folded_told`]).
fn decide(head: &Head, probabilities: &[f32], turns: &Seen<'_>, brief: &mut Brief, told: Option<&FoundWindow>) {
    if head.field.is_set() {
        let by_rules = |label: &str| match head.field {
            Field::Intents => brief.intents.iter().any(|f| f.code == label),
            Field::Objections => brief.objections.iter().any(|f| f.code == label),
            Field::DoNotAsk => brief.do_not_ask.iter().any(|f| f.fact == label),
            Field::Urgency | Field::Disposition | Field::Window => false,
        };
        let chosen: Vec<usize> = (0..head.labels.len())
            .filter(|l| {
                let p = probabilities[*l];
                let ruled = by_rules(&head.labels[*l]);
                (p >= head.thresholds[*l] && (ruled || said_for(head, *l, turns))) || (p >= head.keep[*l] && ruled)
            })
            .collect();
        match head.field {
            Field::Intents => brief.intents = set_findings(head, &chosen, turns, &brief.intents),
            Field::Objections => brief.objections = set_findings(head, &chosen, turns, &brief.objections),
            Field::DoNotAsk => {
                let mut kept: Vec<FactValue> = brief
                    .do_not_ask
                    .iter()
                    .filter(|f| {
                        RULE_ONLY_FACTS.contains(&f.fact.as_str()) || chosen.iter().any(|l| head.labels[*l] == f.fact)
                    })
                    .cloned()
                    .collect();
                for l in &chosen {
                    if !kept.iter().any(|f| f.fact == head.labels[*l]) {
                        let why = explain(head, *l, turns);
                        kept.push(FactValue { fact: head.labels[*l].clone(), value: why.value, turn: why.turn });
                    }
                }
                brief.do_not_ask = kept;
            }
            Field::Urgency | Field::Disposition | Field::Window => unreachable!("one-of fields are not sets"),
        }
        return;
    }
    if head.field == Field::Window
        && let (Some(told), Some(&at)) = (told, head.keep.get(1))
        && let Some(named) = head.labels.iter().position(|l| l == WINDOW_NAMED)
        && probabilities[named] >= at
    {
        brief.requested_window = Some(told.window.clone());
        brief.do_not_ask.retain(|f| f.fact != "preferred_time");
        brief.do_not_ask.push(FactValue {
            fact: "preferred_time".into(),
            value: told.evidence.clone(),
            turn: Some(told.turn),
        });
        brief.notes.push(format!(
            "requested window from turn {} by rule `{}`, a time told in passing the model read as asked for (p={:.2})",
            told.turn, told.rule, probabilities[named]
        ));
        return;
    }
    let best = (0..head.labels.len()).max_by(|a, b| probabilities[*a].total_cmp(&probabilities[*b])).unwrap_or(0);
    if probabilities[best] < head.keep[0] || head.field.only_label().is_some_and(|only| head.labels[best] != only) {
        // Not sure enough to overrule the rules.
        return;
    }
    let label = head.labels[best].as_str();
    match head.field {
        Field::Urgency => {
            let level = match label {
                "high" => UrgencyLevel::High,
                "low" => UrgencyLevel::Low,
                _ => UrgencyLevel::Medium,
            };
            if level != brief.urgency.level {
                let why = explain(head, best, turns);
                brief
                    .notes
                    .push(format!("urgency {label} by the model (the rules said {})", brief.urgency.level.as_str()));
                brief.urgency.level = level;
                brief.urgency.reasons = vec![Finding { code: "model".into(), evidence: why.evidence, turn: why.turn }];
            }
        }
        Field::Disposition => {
            let disposition = match label {
                "escalation" => Disposition::Escalation,
                "nurture" => Disposition::Nurture,
                "closed_lost" => Disposition::ClosedLost,
                "booked" => Disposition::Booked,
                _ => Disposition::Callback,
            };
            if disposition != brief.disposition {
                let why = explain(head, best, turns);
                brief.notes.push(format!(
                    "disposition {label} by the model (the rules said {}): {}",
                    brief.disposition.as_str(),
                    why.evidence
                ));
                brief.disposition = disposition;
            }
        }
        Field::Window => {
            if let Some(window) = brief.requested_window.take() {
                let why = explain(head, best, turns);
                brief.do_not_ask.retain(|f| f.fact != "preferred_time");
                brief.notes.push(format!(
                    "no requested window by the model (the rules read {} .. {}, p={:.2}): {}",
                    window.not_before.to_rfc3339(),
                    window.not_after.to_rfc3339(),
                    probabilities[best],
                    why.evidence
                ));
            }
        }
        _ => unreachable!("set fields are decided above"),
    }
}

/// Whether a word the customer said weighs for `label`. A label the model alone would add with no
/// such word (only the base rate, the AI's words, the rules' other findings behind it) gives the
/// rep no reason to read: "hello" got `not_interested` and "ok" after the AI's opening got facts.
fn said_for(head: &Head, label: usize, seen: &Seen<'_>) -> bool {
    seen.customer.iter().any(|turn| {
        seen.features[turn.range.clone()]
            .iter()
            .enumerate()
            .any(|(k, (i, v))| head.weight(*i, label) * v > 0.0 && !turn.name(k).is_empty())
    })
}

fn set_findings(head: &Head, chosen: &[usize], turns: &Seen<'_>, rules: &[Finding]) -> Vec<Finding> {
    chosen
        .iter()
        .map(|l| match rules.iter().find(|f| f.code == head.labels[*l]) {
            Some(rule) => rule.clone(),
            None => {
                let why = explain(head, *l, turns);
                Finding { code: head.labels[*l].clone(), evidence: why.evidence, turn: why.turn }
            }
        })
        .collect()
}

/// Why the model chose a label: the customer turn whose features weigh most for it, the
/// words that weigh most in that turn, and the sentence around the heaviest word.
struct Why {
    turn: Option<usize>,
    evidence: String,
    value: String,
}

fn explain(head: &Head, label: usize, seen: &Seen<'_>) -> Why {
    // (weight of the turn, its index, its words that weigh for the label)
    // Each customer turn's features as extraction emitted them, in the same order: the sums are
    // the ones reading the turn again would make. The first turn of the highest sum wins.
    let mut best: Option<(f32, &TurnFeatures)> = None;
    for turn in seen.customer {
        let mut total = 0.0;
        for (i, v) in &seen.features[turn.range.clone()] {
            total += head.weight(*i, label) * v;
        }
        if best.is_none_or(|(b, _)| total > b) {
            best = Some((total, turn));
        }
    }
    let Some((_, turn)) = best else {
        return Why { turn: None, evidence: "model".into(), value: String::new() };
    };
    let t = turn.turn;
    // The words of that turn that weigh for the label, each once, in order.
    let mut words: Vec<(f32, &str)> = Vec::new();
    for (k, (i, v)) in seen.features[turn.range.clone()].iter().enumerate() {
        let w = head.weight(*i, label) * v;
        let name = turn.name(k);
        if !name.is_empty() && w > 0.0 && !words.iter().any(|(_, n)| *n == name) {
            words.push((w, name));
        }
    }
    words.sort_by(|a, b| b.0.total_cmp(&a.0));
    words.truncate(3);
    let names: Vec<&str> = words.iter().map(|(_, n)| *n).collect();
    let text = &seen.turns[t].text;
    let value = words.first().map_or_else(|| shorten(text, 60), |(_, top)| sentence_with(text, top));
    Why { turn: Some(t), evidence: format!("\"{}\" (model: {})", shorten(text, 80), names.join(", ")), value }
}

/// The sentence of `text` holding the folded word `word`, shortened.
fn sentence_with(text: &str, word: &str) -> String {
    text.split(super::text::is_sentence_break)
        .find(|s| features::folded_words(s).0.contains(word))
        .map_or_else(|| shorten(text, 60), |s| shorten(s.trim(), 60))
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

pub fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    z.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use handoffd_contract::brief::{TimeWindow, Urgency};

    /// No feature beyond the customer's and the AI's words.
    pub(super) const BARE: FeatureSet = FeatureSet {
        rule_hits: false,
        context: false,
        shapes: false,
        window_day: false,
        told: false,
        scopes: false,
        length_scaled: false,
        objections_by_turn: false,
    };

    fn turns(texts: &[(&str, &str)]) -> Vec<Turn> {
        texts
            .iter()
            .map(|(from, text)| {
                serde_json::from_value(
                    serde_json::json!({"at": "2026-06-09T18:00:00+05:30", "from": from, "text": text}),
                )
                .unwrap()
            })
            .collect()
    }

    pub(super) fn empty_brief() -> Brief {
        serde_json::from_value(serde_json::json!({
            "customer": {"id": "c", "name": null, "phones": [], "emails": []},
            "source": null, "channel_history": [], "stated_need": null, "intents": [],
            "urgency": {"level": "medium", "reasons": []}, "disposition": "callback", "objections": [],
            "requested_window": null, "promised_next_step": null, "do_not_ask": [], "recommended_owner": null,
            "recommended_action": "", "due": null, "reasked_facts": [], "actionable": true, "notes": []
        }))
        .unwrap()
    }

    /// The row of the bias feature, which every conversation has.
    fn bias_row() -> usize {
        features::bias_index() as usize
    }

    /// An objection head that weighs the word "expensive" and nothing else.
    fn price_head() -> Head {
        let mut weights = vec![0.0f32; DIMS];
        features::customer_turn("expensive", |i, _, name| {
            if name == "expensive" {
                weights[i as usize] = 4.0;
            }
        });
        weights[bias_row()] = -2.0;
        Head::from_label_major(Field::Objections, vec!["price".into()], vec![0.5], vec![0.5], &[weights])
    }

    /// A window head whose bias says `none` with probability `p_none`, trusted above 0.8.
    fn window_head(p_none: f32) -> Head {
        let named = vec![0.0f32; DIMS];
        let mut none = vec![0.0f32; DIMS];
        // A softmax of two: the score of `none` over `named` is the log-odds.
        none[bias_row()] = (p_none / (1.0 - p_none)).ln();
        Head::from_label_major(
            Field::Window,
            [WINDOW_NAMED, WINDOW_NONE].map(String::from).to_vec(),
            Vec::new(),
            vec![0.8],
            &[named, none],
        )
    }

    #[test]
    fn the_window_head_only_takes_a_window_away_and_preferred_time_with_it() {
        let model = |p_none| Model::new(BARE, String::new(), vec![window_head(p_none)]);
        let with_window = || {
            let mut brief = empty_brief();
            brief.requested_window = Some(
                serde_json::from_value(serde_json::json!({
                    "not_before": "2026-06-13T09:00:00+05:30", "not_after": "2026-06-13T12:00:00+05:30"
                }))
                .unwrap(),
            );
            brief.do_not_ask.push(FactValue {
                fact: "preferred_time".into(),
                value: "Saturday morning".into(),
                turn: Some(0),
            });
            brief
        };
        let turns = turns(&[("customer", "delivery was on Saturday morning")]);

        let mut sure = with_window();
        model(0.95).apply(&turns, &mut sure);
        assert!(sure.requested_window.is_none(), "sure it was no request: taken away");
        assert!(sure.do_not_ask.is_empty(), "preferred_time goes with it: {:?}", sure.do_not_ask);
        assert!(sure.notes.iter().any(|n| n.contains("no requested window by the model")), "{:?}", sure.notes);

        let mut unsure = with_window();
        model(0.7).apply(&turns, &mut unsure);
        assert!(unsure.requested_window.is_some(), "below the threshold the rules' window stays");

        let mut named = empty_brief();
        model(0.05).apply(&turns, &mut named);
        assert!(named.requested_window.is_none(), "sure of `named`, it still gives no window: it has no bounds");
        assert!(named.do_not_ask.is_empty());
    }

    #[test]
    fn the_window_head_takes_a_time_told_in_passing_for_the_window_only_when_sure_it_was_asked_for() {
        let told = FoundWindow {
            window: serde_json::from_value(serde_json::json!({
                "not_before": "2026-06-16T09:00:00+05:30", "not_after": "2026-06-16T12:00:00+05:30"
            }))
            .unwrap(),
            evidence: "terça de manhã".into(),
            turn: 0,
            rule: "weekday+part_of_day".into(),
        };
        // `keep`: take a window away above 0.8 sure of none; take the told time above 0.7 sure of named.
        let model = |p_none: f32, keep: Vec<f32>| {
            let mut head = window_head(p_none);
            head.keep = keep;
            Model::new(BARE, String::new(), vec![head])
        };
        let turns = turns(&[("customer", "terça de manhã eu levo o carro aí")]);

        let mut sure = empty_brief();
        model(0.1, vec![0.8, 0.7]).apply_told(&turns, &mut sure, Some(&told));
        assert_eq!(sure.requested_window.as_ref(), Some(&told.window), "sure of named: the told time is the window");
        assert_eq!(
            sure.do_not_ask.iter().map(|f| (f.fact.as_str(), f.value.as_str())).collect::<Vec<_>>(),
            vec![("preferred_time", "terça de manhã")],
            "preferred_time comes with it"
        );
        assert!(sure.notes.iter().any(|n| n.contains("a time told in passing")), "{:?}", sure.notes);

        let mut unsure = empty_brief();
        model(0.4, vec![0.8, 0.7]).apply_told(&turns, &mut unsure, Some(&told));
        assert!(unsure.requested_window.is_none(), "below its threshold the told time stays told");
        assert!(unsure.do_not_ask.is_empty());

        let mut older = empty_brief();
        model(0.1, vec![0.8]).apply_told(&turns, &mut older, Some(&told));
        assert!(older.requested_window.is_none(), "a head tuned without told times never takes one");

        let mut nothing_told = empty_brief();
        model(0.1, vec![0.8, 0.7]).apply_told(&turns, &mut nothing_told, None);
        assert!(nothing_told.requested_window.is_none());

        // Where the rules found a window, a told time is not read: the rules' window stays.
        let mut ruled = empty_brief();
        let rules_window: TimeWindow = serde_json::from_value(serde_json::json!({
            "not_before": "2026-06-13T09:00:00+05:30", "not_after": "2026-06-13T12:00:00+05:30"
        }))
        .unwrap();
        ruled.requested_window = Some(rules_window.clone());
        model(0.1, vec![0.8, 0.7]).apply_told(&turns, &mut ruled, Some(&told));
        assert_eq!(ruled.requested_window, Some(rules_window));
    }

    #[test]
    fn a_label_only_the_model_found_names_its_turn_and_words() {
        let model = Model::new(BARE, String::new(), vec![price_head()]);
        let turns = turns(&[("ai", "The plan is 900 a month."), ("customer", "Hmm, that is expensive for us.")]);
        let mut brief = empty_brief();
        model.apply(&turns, &mut brief);
        assert_eq!(brief.objections.len(), 1, "{:?}", brief.objections);
        assert_eq!(brief.objections[0].code, "price");
        assert_eq!(brief.objections[0].turn, Some(1));
        assert!(brief.objections[0].evidence.contains("model: expensive"), "{}", brief.objections[0].evidence);

        let mut calm = empty_brief();
        model.apply(&turns[..1], &mut calm);
        assert!(calm.objections.is_empty());
    }

    #[test]
    fn objections_read_by_turn_take_the_turn_that_weighs_most_for_the_labels_pooled_so() {
        // "expensive" weighs for price and trust alike, "fine" against them: summed, three calm
        // turns outweigh the objection; read by turn, the objection's turn stands on its own for
        // price, pooled by its best turn, and not for trust, which sums them.
        let mut weights = vec![0.0f32; DIMS];
        features::customer_turn("expensive fine", |i, _, name| match name {
            "expensive" => weights[i as usize] = 4.0,
            "fine" => weights[i as usize] = -3.0,
            _ => {}
        });
        weights[bias_row()] = -1.0;
        let labels = vec!["price".to_owned(), "trust".to_owned()];
        let summing =
            Head::from_label_major(Field::Objections, labels, vec![0.5; 2], vec![0.5; 2], &[weights.clone(), weights]);
        let head = Head { pooling: vec![TurnPooling::Max, TurnPooling::Sum], ..summing.clone() };
        // A long last turn of words that weigh nothing: enough features for length scaling to
        // bring the conversation's down.
        let long = "we are looking at a few options around town this month and next. ".repeat(4);
        let turns = turns(&[
            ("customer", "fine"),
            ("ai", "It is 900 a month."),
            ("customer", "that is expensive"),
            ("customer", "fine"),
            ("customer", "fine"),
            ("customer", &long),
        ]);
        let found = |set: FeatureSet, head: &Head| {
            let mut brief = empty_brief();
            Model::new(set, String::new(), vec![head.clone()]).apply(&turns, &mut brief);
            brief.objections.iter().map(|f| (f.code.clone(), f.turn)).collect::<Vec<_>>()
        };
        assert_eq!(found(BARE, &head), vec![], "not read apart, every label sums: -1 + 4 - 9");
        let by_turn = FeatureSet { objections_by_turn: true, ..BARE };
        assert_eq!(found(by_turn, &head), vec![("price".to_owned(), Some(2))], "price by turn: -1 + 4");
        // The file keeps which labels are read by turn.
        let file = head.to_file();
        assert_eq!(file.by_turn, vec!["price".to_owned()]);
        assert_eq!(Head::from_file(&file).expect("read back").pooling, head.pooling);
        // Scaled for the other heads, the turns are still read as they were trained: unscaled.
        let mut scores = Vec::new();
        let mut features = Vec::new();
        let mut customer = Vec::new();
        let folded: Vec<String> = turns.iter().map(|t| crate::interpret::text::fold(&t.text)).collect();
        let rules = empty_brief();
        let read = features::RulesRead { brief: &rules, told: None };
        let scaled = FeatureSet { length_scaled: true, ..by_turn };
        let mut buffers = features::Buffers::default();
        features::extract_keeping(&turns, &folded, read, scaled, &mut features, &mut buffers, &mut customer);
        let scale = features::length_scale(scaled, &customer);
        assert!(scale < 1.0, "a long conversation's features are scaled down");
        head.scores_by_turn(&features, &customer, scale, &mut scores);
        assert!((scores[0] - 3.0).abs() < 1e-4, "price: -1 + 4, {scores:?}");
        assert!((scores[1] + 6.0).abs() < 1e-4, "trust: -1 + 4 - 9, {scores:?}");
        // Scaled for the other heads, a head that sums every label still reads the turns unscaled.
        let scaled_only = FeatureSet { length_scaled: true, ..BARE };
        assert_eq!(found(scaled_only, &summing), vec![], "-1 + 4 - 9: the turns summed as they were trained");
        summing.scores_by_turn(&features, &customer, scale, &mut scores);
        assert!(scores.iter().all(|z| (z + 6.0).abs() < 1e-4), "{scores:?}");
    }

    #[test]
    fn a_rule_finding_the_model_agrees_with_keeps_the_rules_phrase() {
        let model = Model::new(BARE, String::new(), vec![price_head()]);
        let mut brief = empty_brief();
        brief.objections.push(Finding { code: "price".into(), evidence: "too expensive".into(), turn: Some(0) });
        brief.urgency = Urgency { level: UrgencyLevel::High, reasons: vec![] };
        model.apply(&turns(&[("customer", "too expensive")]), &mut brief);
        assert_eq!(brief.objections[0].evidence, "too expensive");
    }

    #[test]
    fn a_model_on_the_vocabularys_labels_passes_and_a_renamed_label_is_named() {
        let vocabulary = Vocabulary::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary")).unwrap();
        let heads: Vec<Head> = Field::ALL
            .iter()
            .map(|f| {
                let labels = f.labels(&vocabulary);
                let thresholds = vec![0.5; labels.len()];
                let keep = if f.is_set() { thresholds.clone() } else { vec![0.0] };
                let zeros = vec![vec![0.0; DIMS]; labels.len()];
                Head::from_label_major(*f, labels, thresholds, keep, &zeros)
            })
            .collect();
        let mut model = Model::new(FeatureSet { rule_hits: true, ..BARE }, String::new(), heads);
        model.check_labels(&vocabulary).unwrap();
        model.heads[0].labels[0] = "house_tour".into();
        let err = model.check_labels(&vocabulary).unwrap_err().to_string();
        assert!(err.contains("`intents` labels do not match") && err.contains("house_tour"), "{err}");
    }

    #[test]
    fn the_file_form_round_trips_within_quantisation() {
        let model = Model::new(FeatureSet { rule_hits: true, ..BARE }, "t".into(), vec![price_head()]);
        let back = Model::from_file(&serde_json::from_str(&serde_json::to_string(&model.to_file()).unwrap()).unwrap())
            .unwrap();
        let mut a = Vec::new();
        features::customer_turn("so expensive", |i, v, _| a.push((i, v)));
        let (mut p, mut q) = (Vec::new(), Vec::new());
        model.heads[0].probabilities(&a, &mut p);
        back.heads[0].probabilities(&a, &mut q);
        assert!((p[0] - q[0]).abs() < 0.02, "{p:?} {q:?}");
        let mut wrong = model.to_file();
        wrong.format = "other/1".into();
        assert!(Model::from_file(&wrong).is_err());
    }

    /// The shipped model and a conversation in four languages, with the rules' brief.
    fn shipped() -> (Model, Vec<Turn>, Brief) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let vocabulary = Vocabulary::load(&root.join("config/vocabulary")).unwrap();
        let model = Model::load(&root.join("config/model/brief-model.json"), &vocabulary).unwrap();
        let turns = turns(&[
            ("ai", "Would you like to book a site visit this weekend?"),
            ("customer", "Yes please, but the price is too high for us. No calls, WhatsApp only."),
            ("ai", "Our sales manager will share the payment plan."),
            ("customer", "Mujhe husband se poochna padega. Llámenme mañana, não precisa mandar nada."),
        ]);
        (model, turns, empty_brief())
    }

    #[test]
    fn one_pass_over_the_features_scores_every_head_as_its_own_pass_does_bit_for_bit() {
        let (model, turns, brief) = shipped();
        let mut features = Vec::new();
        features::extract(&turns, &brief, None, model.features, &mut features);
        let fused = model.fused().expect("a loaded model's heads fit its fused table");
        let mut all = Vec::new();
        fused.scores(&features, &mut all);
        let mut offset = 0;
        for head in model.fused_heads() {
            let mut own = Vec::new();
            head.scores(&features, &mut own);
            let side_by_side = &all[offset..offset + own.len()];
            assert_eq!(
                side_by_side.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
                own.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
                "head `{}`",
                head.field.name()
            );
            offset += own.len();
        }
        assert_eq!(offset, all.len());
    }

    #[test]
    fn a_model_whose_heads_changed_scores_each_head_on_its_own() {
        let (mut model, turns, brief) = shipped();
        let mut before = brief.clone();
        model.apply(&turns, &mut before);
        // As `handoffd train` does to the model it writes: the fused table no longer fits.
        let dropped = model.heads.remove(0);
        assert!(model.fused().is_none());
        let mut after = brief.clone();
        model.apply(&turns, &mut after);
        model.heads.insert(0, dropped);
        let mut again = brief;
        model.apply(&turns, &mut again);
        assert_eq!(serde_json::to_string(&before).unwrap(), serde_json::to_string(&again).unwrap());
        assert_eq!(
            serde_json::to_string(&before.objections).unwrap(),
            serde_json::to_string(&after.objections).unwrap(),
            "the other heads decide as before"
        );
    }

    #[test]
    fn evidence_from_the_kept_features_is_the_evidence_of_reading_the_turn_again() {
        let (model, turns, brief) = shipped();
        let mut features = Vec::new();
        let mut customer = Vec::new();
        let folded: Vec<String> = turns.iter().map(|t| super::super::text::fold(&t.text)).collect();
        features::extract_keeping(
            &turns,
            &folded,
            features::RulesRead { brief: &brief, told: None },
            model.features,
            &mut features,
            &mut features::Buffers::default(),
            &mut customer,
        );
        assert_eq!(customer.iter().map(|c| c.turn).collect::<Vec<_>>(), vec![1, 3]);
        // The shipped model scales a conversation's customer features by its length, each turn's alike.
        let scale = features::length_scale(model.features, &customer);
        for kept in &customer {
            let mut again = Vec::new();
            features::customer_turn_in(&turns[kept.turn].text, model.features, |i, v, name| {
                again.push((i, v * scale, name.to_owned()))
            });
            let replayed: Vec<(u32, f32, String)> = features[kept.range.clone()]
                .iter()
                .enumerate()
                .map(|(k, (i, v))| (*i, *v, kept.name(k).to_owned()))
                .collect();
            assert_eq!(replayed, again, "turn {}", kept.turn);
        }
    }
}
