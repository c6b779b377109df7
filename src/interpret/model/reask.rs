//! The re-ask head: whether the owner, after the handoff, asked the customer again for a fact the
//! customer had already given ("what is your budget?" after "around 1.4 cr").
//!
//! The vocabulary's `ask` patterns find the common phrasings and stayed at 0.65-0.75 F1 on every
//! new batch of first contacts: an agent asks in more ways than patterns list, and a question
//! about something new often uses the same words. This head learns from the re-ask corpus
//! (`eval/corpus/reask/train`) what a re-ask looks like, with the patterns' hits as features.
//!
//! An instance is one agent sentence and one given fact. A case says which facts were re-asked,
//! not by which sentence, so a fact is re-asked when its most likely sentence is
//! (multiple-instance learning): training takes, in a re-asked fact's bag, the sentence a pattern
//! marks (else the first question) and later the sentence the current weights score highest as
//! the positive instance, and every sentence of a fact not re-asked as a negative one.
//!
//! What the head sees of a pair, each feature alone and with the fact: the sentence's words and
//! word pairs; the patterns' verdicts; whether the sentence repeats the customer's value (a
//! confirmation) or the words of the turn that gave the fact and of the AI's question before it;
//! whether the customer's reply says the value again; and what the sentence is about, read by
//! the brief model's do_not_ask head as if a customer had written it ("which area?" scores for
//! `location`), which knows each fact's words from thousands of conversations where the re-ask
//! corpus has hundreds: under cross-validation it alone took the head from the patterns' level
//! to above it (docs/EVAL.md, ninth session).

use anyhow::Context;
use base64::Engine as _;
use handoffd_contract::brief::{FactValue, Reask};
use handoffd_contract::conversation::{Speaker, Turn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Head;
use super::features::{self, folded_words, hash_bits};
use super::train::{INNER_FOLDS, THRESHOLDS, adagrad_step};
use crate::interpret::Vocabulary;
use crate::interpret::engine::{self, AskSignals};
use crate::interpret::text::{Folded, fold, shorten};

/// log2 of the head's own hashed feature space: a few thousand labelled pairs need far fewer
/// buckets than the brief's heads. (Character n-grams of the sentence's words, and the words of
/// the customer's reply, were tried as features too and left out: under cross-validation each
/// cost about 0.01.)
pub const BITS: u32 = 15;
const DIMS: usize = 1 << BITS;
/// Words shorter than this carry no topic ("what", "your" and their kin are four letters).
const TOPIC_CHARS: usize = 5;
/// Passes over the training pairs. Under 5-fold cross-validation on the 720 first contacts of
/// `reask/train`, 6 to 20 passes, an L2 of 1e-4 to 3e-3 and a re-ask weighing twice a
/// non-re-ask moved F1 by about 0.01 either way; a learning rate of 0.5 cost 0.01-0.03.
const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 0.2;
const L2: f32 = 1e-3;
/// The head as stored in the model file: i8 weights with one scale (base64).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaskFile {
    /// Whether the head decides re-asks (cross-validation said it beats the patterns).
    pub enabled: bool,
    /// Whether the patterns' verdicts are features (`both`) or the head stands alone.
    pub rule_hits: bool,
    pub bits: u32,
    /// The probability a fact's likeliest sentence needs to count as a re-ask.
    pub threshold: f32,
    pub scale: f32,
    pub weights: String,
}

#[derive(Debug, Clone)]
pub struct ReaskHead {
    pub enabled: bool,
    pub rule_hits: bool,
    pub threshold: f32,
    weights: Vec<f32>,
}

/// One sentence an agent wrote or said after the handoff.
#[derive(Debug)]
pub struct Sentence {
    /// The turn's index in the conversation.
    pub turn: usize,
    /// As the agent wrote it (the evidence).
    pub text: String,
    /// Folded (what the patterns and the features read).
    pub folded: String,
    /// The customer's next turn after the agent's, folded ("" when none).
    pub reply: String,
}

/// A fact the customer gave, with every agent sentence as an instance of "asks for it again".
#[derive(Debug)]
pub struct Bag {
    pub fact: String,
    /// Per sentence (same order as the sentences): its features and the patterns' verdict.
    pub instances: Vec<(Vec<(u32, f32)>, bool)>,
}

/// The agent's sentences after the handoff (`after`: conversation index and turn).
pub fn sentences(after: &[(usize, &Turn)]) -> Vec<Sentence> {
    let mut out = Vec::new();
    for (k, &(index, turn)) in after.iter().enumerate() {
        if turn.from != Speaker::Agent {
            continue;
        }
        let reply = after[k + 1..]
            .iter()
            .find(|(_, t)| t.from == Speaker::Customer)
            .map(|(_, t)| fold(&t.text))
            .unwrap_or_default();
        let folded = Folded::new(&turn.text);
        for (start, part) in engine::split_sentences(&folded.text) {
            if !part.chars().any(char::is_alphanumeric) {
                continue;
            }
            let text = folded.original_span(start, start + part.len()).trim().to_owned();
            out.push(Sentence { turn: index, text, folded: part.to_owned(), reply: reply.clone() });
        }
    }
    out
}

/// The bags of the facts `given` (each with the brief's value where it has one), over `sentences`.
/// `facts`: the brief model's do_not_ask head, if it has one: how much each sentence reads like
/// a customer giving each fact says what the sentence is about ("which area?" is about a
/// location), learnt from thousands of conversations where the re-ask corpus has hundreds.
pub fn bags(
    vocabulary: &Vocabulary,
    rule_hits: bool,
    given: &[(String, Option<FactValue>)],
    before: &[Turn],
    sentences: &[Sentence],
    facts: Option<&Head>,
) -> Vec<Bag> {
    let about: Vec<Vec<f32>> = sentences.iter().map(|s| about(facts, s)).collect();
    let tags: Vec<bool> = sentences.iter().map(|s| engine::confirm_tag(vocabulary, &s.folded)).collect();
    given
        .iter()
        .map(|(fact, value)| {
            let topic = Topic::of(value.as_ref(), before);
            let label = facts.and_then(|head| head.labels.iter().position(|l| l == fact));
            let instances = sentences
                .iter()
                .zip(about.iter().zip(&tags))
                .map(|(s, (about, tag))| {
                    let signals = engine::ask_signals(vocabulary, &s.folded, *tag, fact, value.as_ref());
                    let rule = signals.ask.is_some() && !signals.confirms();
                    let mut x = Vec::new();
                    instance(s, fact, &topic, rule_hits.then_some(&signals), &mut x);
                    topic_features(fact, label, about, given, facts, &mut x);
                    (x, rule)
                })
                .collect();
            Bag { fact: fact.clone(), instances }
        })
        .collect()
}

/// The do_not_ask head's raw score of each of its labels for a sentence read as a customer's turn.
fn about(facts: Option<&Head>, sentence: &Sentence) -> Vec<f32> {
    let Some(head) = facts else { return Vec::new() };
    let mut x = Vec::new();
    features::customer_turn(&sentence.text, |i, v, _| x.push((i, v)));
    let mut scores = Vec::new();
    head.scores(&x, &mut scores);
    scores
}

/// How much the sentence is about `fact` (the label `label` of the do_not_ask head), and whether
/// it is more about it than about any other fact given.
fn topic_features(
    fact: &str,
    label: Option<usize>,
    about: &[f32],
    given: &[(String, Option<FactValue>)],
    facts: Option<&Head>,
    out: &mut Vec<(u32, f32)>,
) {
    let (Some(label), Some(head)) = (label, facts) else {
        push_both(out, fact, 10, &["no topic"], 1.0);
        return;
    };
    let z = about[label];
    let bucket = match z {
        z if z < -1.0 => "<-1",
        z if z < 0.0 => "<0",
        z if z < 1.0 => "<1",
        z if z < 2.0 => "<2",
        _ => ">=2",
    };
    push_both(out, fact, 10, &["topic", bucket], 1.0);
    push_both(out, fact, 10, &["topic score"], (z / 4.0).clamp(-1.5, 1.5));
    let best = given
        .iter()
        .filter(|(other, _)| other != fact)
        .filter_map(|(other, _)| head.labels.iter().position(|l| l == other))
        .all(|other| about[other] < z);
    if best {
        push_both(out, fact, 10, &["topic best of the facts given"], 1.0);
    }
}

/// A feature alone (what asking looks like) and with the fact (what asking for it looks like).
fn push_both(out: &mut Vec<(u32, f32)>, fact: &str, tag: u8, parts: &[&str], v: f32) {
    out.push((hash_bits(tag, parts, BITS), v));
    let mut with_fact = Vec::with_capacity(parts.len() + 1);
    with_fact.push(fact);
    with_fact.extend_from_slice(parts);
    out.push((hash_bits(tag | 0x80, &with_fact, BITS), v));
}

/// What the customer gave for a fact: its value's words, the words of the turn that gave it and
/// of the AI's last turn before that one (the question it answered).
struct Topic {
    value: Vec<String>,
    customer: Vec<String>,
    ai: Vec<String>,
}

impl Topic {
    fn of(value: Option<&FactValue>, before: &[Turn]) -> Self {
        let content = |text: &str| -> Vec<String> {
            let (folded, spans) = folded_words(text);
            let mut out: Vec<String> = spans
                .iter()
                .map(|(s, e)| folded[*s..*e].to_owned())
                .filter(|w| w.chars().count() >= TOPIC_CHARS || w.chars().any(|c| c.is_ascii_digit()))
                .collect();
            out.sort();
            out.dedup();
            out
        };
        let Some(value) = value else { return Topic { value: Vec::new(), customer: Vec::new(), ai: Vec::new() } };
        let turn = value.turn.and_then(|t| before.get(t).map(|turn| (t, turn)));
        let ai = turn
            .and_then(|(t, _)| before[..t].iter().rev().find(|p| p.from == Speaker::Ai))
            .map(|p| content(&p.text))
            .unwrap_or_default();
        Topic { value: content(&value.value), customer: turn.map(|(_, t)| content(&t.text)).unwrap_or_default(), ai }
    }
}

/// How many of `words` are words of `sentence` (0, 1, 2, 3 or more), as a bucket name.
fn overlap(words: &[String], sentence: &[&str]) -> &'static str {
    match words.iter().filter(|w| sentence.contains(&w.as_str())).count() {
        0 => "0",
        1 => "1",
        2 => "2",
        _ => "3+",
    }
}

/// The features of "sentence `s` asks again for `fact`", into `out`.
fn instance(s: &Sentence, fact: &str, topic: &Topic, signals: Option<&AskSignals>, out: &mut Vec<(u32, f32)>) {
    let emit = |tag: u8, parts: &[&str], v: f32, out: &mut Vec<(u32, f32)>| push_both(out, fact, tag, parts, v);
    emit(1, &["bias"], 1.0, out);
    let (folded, spans) = folded_words(&s.folded);
    let tokens: Vec<&str> = spans.iter().map(|(a, b)| &folded[*a..*b]).collect();
    for (k, w) in tokens.iter().enumerate() {
        emit(2, &[w], 1.0, out);
        if let Some(next) = tokens.get(k + 1) {
            emit(3, &[w, next], 1.0, out);
        }
    }
    if s.folded.contains('?') {
        emit(5, &["question"], 1.0, out);
    }
    if s.folded.bytes().any(|b| b.is_ascii_digit()) {
        emit(5, &["digits"], 1.0, out);
    }
    if let Some(signals) = signals {
        if signals.ask.is_some() {
            emit(6, &["pattern asks"], 1.0, out);
        }
        if signals.confirm_tag {
            emit(6, &["confirmation tag"], 1.0, out);
        }
        if signals.states_value {
            emit(6, &["states the value"], 1.0, out);
        }
        if signals.ask.is_some() && !signals.confirms() {
            emit(6, &["pattern re-ask"], 1.0, out);
        }
    }
    emit(7, &["value words", overlap(&topic.value, &tokens)], 1.0, out);
    emit(7, &["customer's words", overlap(&topic.customer, &tokens)], 1.0, out);
    emit(7, &["ai's words", overlap(&topic.ai, &tokens)], 1.0, out);
    if topic.value.is_empty() {
        emit(7, &["no value"], 1.0, out);
    }
    // A customer who answers with the value they had given was asked for it again.
    if !s.reply.is_empty() {
        let (reply, spans) = folded_words(&s.reply);
        let reply_words: Vec<&str> = spans.iter().map(|(a, b)| &reply[*a..*b]).collect();
        emit(8, &["reply repeats value", overlap(&topic.value, &reply_words)], 1.0, out);
    }
}

impl ReaskHead {
    fn score(&self, x: &[(u32, f32)]) -> f32 {
        x.iter().map(|(i, v)| self.weights[*i as usize] * v).sum()
    }

    /// The probability the bag's fact was re-asked, and the sentence most likely to be the re-ask.
    pub fn bag_probability(&self, bag: &Bag) -> Option<(f32, usize)> {
        bag.instances
            .iter()
            .enumerate()
            .map(|(k, (x, _))| (super::sigmoid(self.score(x)), k))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// The facts of `do_not_ask` an agent asked again after the handoff, each with its sentence.
    /// `facts`: the brief model's do_not_ask head, as in training.
    pub fn reasked(
        &self,
        facts: Option<&Head>,
        vocabulary: &Vocabulary,
        do_not_ask: &[FactValue],
        before: &[Turn],
        after: &[(usize, &Turn)],
    ) -> Vec<Reask> {
        let sentences = sentences(after);
        let mut given: Vec<(String, Option<FactValue>)> = Vec::new();
        for f in do_not_ask {
            if !given.iter().any(|(fact, _)| *fact == f.fact) {
                given.push((f.fact.clone(), Some(f.clone())));
            }
        }
        bags(vocabulary, self.rule_hits, &given, before, &sentences, facts)
            .into_iter()
            .filter_map(|bag| {
                let (p, k) = self.bag_probability(&bag)?;
                (p >= self.threshold).then(|| Reask {
                    fact: bag.fact,
                    evidence: shorten(&sentences[k].text, 120),
                    turn: Some(sentences[k].turn),
                })
            })
            .collect()
    }

    pub fn to_file(&self) -> ReaskFile {
        let (scale, bytes) = super::quantise(self.weights.iter().copied());
        let bytes: Vec<u8> = bytes.collect();
        ReaskFile {
            enabled: self.enabled,
            rule_hits: self.rule_hits,
            bits: BITS,
            threshold: self.threshold,
            scale,
            weights: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    pub fn from_file(file: &ReaskFile) -> anyhow::Result<Self> {
        anyhow::ensure!(file.bits == BITS, "re-ask head: {} feature bits, this build reads {BITS}", file.bits);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&file.weights)
            .context("re-ask head: `weights` is not base64")?;
        anyhow::ensure!(bytes.len() == DIMS, "re-ask head: {} weights for {DIMS} features", bytes.len());
        Ok(ReaskHead {
            enabled: file.enabled,
            rule_hits: file.rule_hits,
            threshold: file.threshold,
            weights: bytes.iter().map(|b| super::dequantise(*b, file.scale)).collect(),
        })
    }
}

/// A labelled re-ask case, ready for training: its bags (one per fact it says was given) and
/// which of them were re-asked.
pub struct Example {
    pub slice: String,
    pub name: String,
    /// With the patterns' verdicts as features (`both`).
    pub bags: Vec<Bag>,
    /// The same bags without them (the head alone).
    pub alone: Vec<Bag>,
    pub reasked: Vec<bool>,
    /// The agent's sentences (for the misses' report).
    pub sentences: Vec<String>,
    /// Per sentence, whether it holds a question mark (the first witness where no pattern asks).
    pub questions: Vec<bool>,
    /// The patterns' answer (per bag), for the comparison.
    pub rules: Vec<bool>,
}

impl Example {
    fn bags(&self, rule_hits: bool) -> &[Bag] {
        if rule_hits { &self.bags } else { &self.alone }
    }
}

/// Fit the weights on `examples` (indexes `train`).
fn fit(examples: &[Example], train: &[usize], rule_hits: bool, seed: u64) -> Vec<f32> {
    let mut weights = vec![0.0f32; DIMS];
    let mut squares = vec![1e-6f32; DIMS];
    let mut order: Vec<(usize, usize)> =
        train.iter().flat_map(|e| (0..examples[*e].bags.len()).map(move |b| (*e, b))).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let score = |w: &[f32], x: &[(u32, f32)]| -> f32 { x.iter().map(|(i, v)| w[*i as usize] * v).sum() };
    for epoch in 0..EPOCHS {
        order.shuffle(&mut rng);
        for &(e, b) in &order {
            let bag = &examples[e].bags(rule_hits)[b];
            if bag.instances.is_empty() {
                continue;
            }
            let step = |x: &[(u32, f32)], y: f32, weights: &mut Vec<f32>, squares: &mut Vec<f32>| {
                let g = super::sigmoid(score(weights, x)) - y;
                adagrad_step(weights, squares, x, g, (L2, None), LEARNING_RATE);
            };
            if examples[e].reasked[b] {
                // The witness: on the first pass the sentence a pattern says re-asks (else the
                // first question), then the sentence the weights score highest.
                let witness = if epoch == 0 {
                    bag.instances
                        .iter()
                        .position(|(_, rule)| *rule)
                        .or_else(|| examples[e].questions.iter().position(|q| *q))
                        .unwrap_or(0)
                } else {
                    (0..bag.instances.len())
                        .max_by(|a, c| {
                            score(&weights, &bag.instances[*a].0).total_cmp(&score(&weights, &bag.instances[*c].0))
                        })
                        .unwrap_or(0)
                };
                step(&bag.instances[witness].0, 1.0, &mut weights, &mut squares);
            } else {
                for (x, _) in &bag.instances {
                    step(x, 0.0, &mut weights, &mut squares);
                }
            }
        }
    }
    weights
}

/// Mean per-case F1 of the re-asks chosen at `threshold` (an empty answer to none scores 1).
fn mean_f1(examples: &[Example], cases: &[usize], probabilities: &[Vec<f32>], threshold: f32) -> f64 {
    let total: f64 = cases
        .iter()
        .zip(probabilities)
        .map(|(e, p)| {
            let chosen: Vec<bool> = p.iter().map(|p| *p >= threshold).collect();
            f1(&chosen, &examples[*e].reasked)
        })
        .sum();
    total / cases.len().max(1) as f64
}

/// F1 of a chosen set against the wanted one (both empty: 1).
pub fn f1(chosen: &[bool], wanted: &[bool]) -> f64 {
    let hits = chosen.iter().zip(wanted).filter(|(c, w)| **c && **w).count();
    let found = chosen.iter().filter(|c| **c).count();
    let want = wanted.iter().filter(|w| **w).count();
    if found + want == 0 { 1.0 } else { 2.0 * hits as f64 / (found + want) as f64 }
}

fn probabilities(head: &ReaskHead, example: &Example) -> Vec<f32> {
    example.bags(head.rule_hits).iter().map(|bag| head.bag_probability(bag).map_or(0.0, |(p, _)| p)).collect()
}

/// Fit a head on `train` with its threshold tuned by an inner cross-validation on those cases only.
pub fn fit_head(examples: &[Example], train: &[usize], rule_hits: bool) -> ReaskHead {
    let mut held_out = Vec::new();
    let mut scored = Vec::new();
    for fold in 0..INNER_FOLDS {
        let inner: Vec<usize> =
            train.iter().enumerate().filter(|(k, _)| k % INNER_FOLDS != fold).map(|(_, e)| *e).collect();
        let head = ReaskHead {
            enabled: true,
            rule_hits,
            threshold: 0.5,
            weights: fit(examples, &inner, rule_hits, fold as u64),
        };
        for (_, e) in train.iter().enumerate().filter(|(k, _)| k % INNER_FOLDS == fold) {
            held_out.push(*e);
            scored.push(probabilities(&head, &examples[*e]));
        }
    }
    let threshold = THRESHOLDS
        .into_iter()
        .max_by(|a, b| mean_f1(examples, &held_out, &scored, *a).total_cmp(&mean_f1(examples, &held_out, &scored, *b)))
        .unwrap_or(0.5);
    ReaskHead { enabled: true, rule_hits, threshold, weights: fit(examples, train, rule_hits, 7) }
}

/// One example's out-of-fold reading: per bag, each sentence's probability, and the threshold
/// of the head that read it.
#[derive(Debug, Clone, Default)]
pub struct OutOfFold {
    pub sentences: Vec<Vec<f32>>,
    pub threshold: f32,
}

impl OutOfFold {
    /// Per bag, whether the head calls it a re-ask.
    pub fn answers(&self) -> Vec<bool> {
        self.sentences.iter().map(|p| p.iter().any(|p| *p >= self.threshold)).collect()
    }
}

/// Out-of-fold readings of the head under k-fold cross-validation (`fold` per example).
pub fn cross_validate(examples: &[Example], fold: &[usize], k: usize, rule_hits: bool) -> Vec<OutOfFold> {
    let mut out = vec![OutOfFold::default(); examples.len()];
    for f in 0..k {
        let train: Vec<usize> = (0..examples.len()).filter(|e| fold[*e] != f).collect();
        let head = fit_head(examples, &train, rule_hits);
        for e in (0..examples.len()).filter(|e| fold[*e] == f) {
            let sentences = examples[e]
                .bags(rule_hits)
                .iter()
                .map(|bag| bag.instances.iter().map(|(x, _)| super::sigmoid(head.score(x))).collect())
                .collect();
            out[e] = OutOfFold { sentences, threshold: head.threshold };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::interpret::model::Model;

    fn turn(from: &str, text: &str) -> Turn {
        serde_json::from_value(serde_json::json!({"at": "2026-06-09T18:00:00+05:30", "from": from, "text": text}))
            .unwrap()
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary")).unwrap()
    }

    /// A first contact where the customer gave the move's date, and the agent says `agent`.
    fn example(vocabulary: &Vocabulary, k: usize, agent: &str, reasked: bool) -> Example {
        let before = [turn("ai", "When are you moving?"), turn("customer", "on the 12th of September")];
        let agent = turn("agent", agent);
        let after = [(2, &agent)];
        let value = FactValue { fact: "timeline".into(), value: "12th of September".into(), turn: Some(1) };
        let given = [("timeline".to_owned(), Some(value))];
        let sentences = sentences(&after);
        let read = || super::bags(vocabulary, false, &given, &before, &sentences, None);
        Example {
            slice: "en".into(),
            name: format!("{k:03}"),
            bags: read(),
            alone: read(),
            reasked: vec![reasked],
            questions: sentences.iter().map(|s| s.folded.contains('?')).collect(),
            sentences: sentences.into_iter().map(|s| s.text).collect(),
            rules: vec![false],
        }
    }

    /// Asking the date again against confirming it or asking something new, in several phrasings.
    fn training(vocabulary: &Vocabulary) -> Vec<Example> {
        let asks = ["What date is the move?", "Which date are you moving on?", "Remind me of the moving date?"];
        let others = [
            "The 12th of September works for us.",
            "Any piano or fragile items?",
            "How many bedrooms is the house?",
            "Great, 12th of September is free.",
        ];
        let mut out = Vec::new();
        for round in 0..6 {
            for text in asks {
                out.push(example(vocabulary, out.len() + round, text, true));
            }
            for text in others {
                out.push(example(vocabulary, out.len() + round, text, false));
            }
        }
        out
    }

    #[test]
    fn the_head_learns_a_re_ask_from_cases_that_label_the_fact_not_the_sentence() {
        let vocabulary = vocabulary();
        let examples = training(&vocabulary);
        let all: Vec<usize> = (0..examples.len()).collect();
        let head = fit_head(&examples, &all, false);
        let read = |text: &str| {
            let e = example(&vocabulary, 0, text, false);
            head.bag_probability(&e.bags[0]).unwrap().0
        };
        let (ask, confirm) = (read("Sorry, what is the date of your move?"), read("So the 12th of September, fine."));
        assert!(ask >= head.threshold, "a new phrasing of the question: p={ask} < {}", head.threshold);
        assert!(confirm < head.threshold, "a confirmation with the value: p={confirm} >= {}", head.threshold);
    }

    #[test]
    fn the_file_form_reads_as_the_head_it_was_made_from() {
        let vocabulary = vocabulary();
        let examples = training(&vocabulary);
        let all: Vec<usize> = (0..examples.len()).collect();
        let head = fit_head(&examples, &all, false);
        let back =
            ReaskHead::from_file(&serde_json::from_str(&serde_json::to_string(&head.to_file()).unwrap()).unwrap())
                .unwrap();
        assert_eq!(back.threshold, head.threshold);
        for e in &examples {
            let (p, q) = (head.bag_probability(&e.bags[0]).unwrap().0, back.bag_probability(&e.bags[0]).unwrap().0);
            assert!((p - q).abs() < 0.02, "{}: {p} against {q}", e.sentences[0]);
        }
        let mut wrong = head.to_file();
        wrong.bits = BITS + 1;
        assert!(ReaskHead::from_file(&wrong).is_err());
    }

    #[test]
    fn a_model_file_without_a_re_ask_head_leaves_re_asks_to_the_patterns() {
        let vocabulary = vocabulary();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("config/model/brief-model.json")).unwrap();
        let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(file.as_object_mut().unwrap().remove("reask").is_some(), "the shipped model has a re-ask head");
        let model = Model::from_file(&serde_json::from_value(file).unwrap()).unwrap();
        let agent = turn("agent", "What is your budget?");
        assert!(model.reasked(&vocabulary, &[], &[], &[(0, &agent)]).is_none());
    }

    #[test]
    fn the_shipped_head_tells_a_question_from_a_confirmation_with_the_value() {
        let vocabulary = vocabulary();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = Model::load(&root.join("config/model/brief-model.json"), &vocabulary).unwrap();
        let before = [
            turn("ai", "What budget range are you considering?"),
            turn("customer", "around 1.2 cr max, and only Baner please"),
        ];
        let given = [
            FactValue { fact: "budget".into(), value: "1.2 cr".into(), turn: Some(1) },
            FactValue { fact: "location".into(), value: "Baner".into(), turn: Some(1) },
        ];
        let facts = |agent: &str| -> Vec<String> {
            let agent = turn("agent", agent);
            let found = model.reasked(&vocabulary, &given, &before, &[(2, &agent)]).expect("the shipped head is on");
            found.into_iter().map(|r| r.fact).collect()
        };
        assert_eq!(facts("Hi, could you tell me what budget you have in mind?"), ["budget"]);
        assert!(facts("So 1.2 cr in Baner, right? Sending the floor plans now.").is_empty());
    }
}
