//! What the model sees of a conversation: hashed word and character n-grams of the customer's
//! turns (character n-grams carry Hinglish spellings and accents without language detection),
//! the AI's words in a namespace of their own, words in a negation's scope, and what the rules
//! found. Hashing keeps the weight table a fixed size whatever the vocabulary of the corpus.

use chrono::{DateTime, Datelike, FixedOffset, Weekday};
use handoffd_contract::brief::{Brief, TimeWindow};
use handoffd_contract::conversation::{Speaker, Turn};

use super::super::text::push_folded;

/// log2 of the hashed feature space. 2^13 buckets held the word, character, context and shape features of a few
/// thousand cases with many collisions; on the same 7,459 training cases 2^16 gave intents, objections,
/// do_not_ask, urgency and disposition 0.01-0.03 more under cross-validation (docs/EVAL.md, eighth session), for a
/// model file of about 4 MB (i8 weights) and about 25 MB in memory (each head's f32 table and the fused one, 47
/// labels). A model file records its bits; a build with other bits refuses it.
pub const BITS: u32 = 16;
pub const DIMS: usize = 1 << BITS;

/// Words after which the next few words are in a negation's scope, in the shipped languages.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "don't", "nahi", "nahin", "nai", "mat", "na", "nunca", "ni", "nao", "nem", "without",
];
/// How many words a negation reaches.
const NEGATION_REACH: usize = 3;
/// Character n-grams weigh less than words: a word yields many of them.
const CHAR_WEIGHT: f32 = 0.35;

/// A sparse feature vector: (index, value), indexes may repeat.
pub type Features = Vec<(u32, f32)>;

/// Words that concede what came before them in the sentence ("price was my worry but the EMI
/// works"): a word before one has a feature of its own, so an objection raised and answered in
/// one breath can weigh apart from one that stands.
const CONTRASTS: &[&str] = &[
    "but",
    "however",
    "though",
    "although",
    "pero",
    "aunque",
    "sino",
    "lekin",
    "magar",
    "mas",
    "porem",
    "entretanto",
    "todavia",
];
/// Words after which the rest of the sentence reports someone else's words or views ("my
/// husband says it's too far", "papa bol rahe hain", "minha mãe acha caro").
const REPORTERS: &[&str] = &[
    "says", "said", "thinks", "feels", "told", "dice", "dijo", "dicen", "piensa", "cree", "opina", "bolta", "bolti",
    "bolte", "bola", "boli", "kehta", "kehti", "kehte", "kaha", "diz", "disse", "dizem", "acha", "falou", "pensa",
];
/// Words that open a condition ("if it's over budget I'd pass"), whose next few words are
/// hypothetical.
const CONDITIONS: &[&str] = &["if", "unless", "agar", "caso"];
/// How many words a condition reaches.
const CONDITION_REACH: usize = 5;

/// First words of a customer's reply that accept what the AI just offered, in the shipped
/// languages ("Yeah please", "haan ji", "sí, claro", "sim, pode").
const ACCEPTS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "please",
    "pls",
    "perfect",
    "great",
    "fine",
    "definitely",
    "absolutely",
    "haan",
    "han",
    "ha",
    "haanji",
    "ji",
    "theek",
    "thik",
    "bilkul",
    "chalo",
    "si",
    "claro",
    "dale",
    "vale",
    "perfecto",
    "listo",
    "sim",
    "isso",
    "pode",
    "beleza",
    "fechado",
    "perfeito",
    "combinado",
    "otimo",
    "bora",
];
/// First words of a reply that turn the offer down.
const REFUSES: &[&str] = &["no", "nope", "nah", "nahi", "nahin", "nai", "na", "nao", "naa", "not"];

/// The index of the bias feature, which every conversation has.
pub fn bias_index() -> u32 {
    hash(b'0', &["bias"])
}

/// Which parts of the input a model uses (recorded in the model file); the default uses none of
/// them: the customer's words alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FeatureSet {
    /// The rules' findings as features (`both`); without them the model stands alone.
    pub rule_hits: bool,
    /// The turns around the customer's: what the AI offered before a reply that accepts or
    /// refuses it (an offer accepted is the customer's intent), and the last customer and AI
    /// turns (where the conversation ended decides urgency and disposition). Absent in older
    /// model files, which were trained without them.
    #[serde(default)]
    pub context: bool,
    /// The shape of the customer's words: a capitalised word inside a sentence (a place, a
    /// brand, a model: case is folded away elsewhere) and words with digits as their pattern of
    /// letters and digits ("FK-7734219" is `a-0`, "3BHK" `0a`), each alone and after the word
    /// before it ("in" + a capitalised word reads as a place in any language). Absent in older
    /// model files.
    #[serde(default)]
    pub shapes: bool,
    /// With `rule_hits`: how far off the rules' window starts (today, tomorrow, the coming weekend, later this
    /// week, later), counted from the last turn's day: the conventions tie urgency to it. Absent in older model
    /// files.
    #[serde(default)]
    pub window_day: bool,
    /// With `rule_hits`, where the rules found no window: that the customer told a time in a clause
    /// no cue read as a request, and how far off it starts (as `window_day`), so that the window
    /// head can tell such a time asked for from one told in passing. Absent in older model files.
    #[serde(default)]
    pub told: bool,
    /// Where a customer's word stands in its sentence: before a contrast ("but", "pero",
    /// "lekin"), after a verb that reports someone else ("says", "dice", "bol rahe"), inside a
    /// condition ("if", "agar"); each a feature of its own beside the word's. Absent in older
    /// model files.
    #[serde(default)]
    pub scopes: bool,
    /// The customer's word and character features scaled by `sqrt(LENGTH_REFERENCE / n)`, `n`
    /// their count in the conversation, never above 1, so that a long call weighs like a short
    /// chat, for every head but objections, which reads the turns unscaled
    /// ([`Self::objection_turns`]): under
    /// cross-validation scaling helped intents, urgency and disposition and cost objections 0.006
    /// (docs/EVAL.md, fifteenth and sixteenth sessions). On in the shipped model (`handoffd train
    /// --without-length-scaling` leaves it off); absent in older model files.
    #[serde(default)]
    pub length_scaled: bool,
    /// The objections head may read a label by the one customer turn that weighs most for it: the
    /// label's score is then the conversation's other features (the AI's words, the context, the
    /// rules' findings) plus that turn, where otherwise every turn is summed. An objection is
    /// often one sentence of a long call ("85 lakh feels steep"); in a sum, every calm turn
    /// around it pulls it under its threshold. Others are spread over turns (a worry raised,
    /// then pressed), which a sum reads better: `handoffd train` fits each label both ways and
    /// keeps, per label, the one its inner cross-validation scores higher ([`HeadFile::by_turn`]
    /// lists the labels read by turn). The turns are read unscaled even where
    /// [`Self::length_scaled`] scales them for the other heads. Absent in older model files.
    ///
    /// [`HeadFile::by_turn`]: super::HeadFile::by_turn
    #[serde(default)]
    pub objections_by_turn: bool,
}

impl FeatureSet {
    /// Whether the objections head reads the customer's turns apart from the other heads'
    /// features: to read some labels by one turn ([`Self::objections_by_turn`]), or to sum them
    /// unscaled where [`Self::length_scaled`] scales them for the others.
    pub fn objection_turns(self) -> bool {
        self.objections_by_turn || self.length_scaled
    }
}

/// How a head that reads the customer's turns apart combines them into a label's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TurnPooling {
    /// Every turn, unscaled.
    #[default]
    Sum,
    /// Per label, the turn that weighs most for it.
    Max,
}

impl TurnPooling {
    /// Label `l`'s pooling in a per-label list (empty or short: the rest sum).
    pub fn of(pooling: &[TurnPooling], l: usize) -> TurnPooling {
        pooling.get(l).copied().unwrap_or_default()
    }
}

/// The count of customer features at or below which [`FeatureSet::length_scaled`] leaves them
/// as they are (about a short chat of three or four customer turns).
const LENGTH_REFERENCE: f32 = 300.0;

/// FNV-1a over a namespace tag and the parts, reduced to the feature space.
fn hash(tag: u8, parts: &[&str]) -> u32 {
    hash_bits(tag, parts, BITS)
}

/// [`hash`] into a space of `2^bits` buckets (the re-ask head has its own).
pub fn hash_bits(tag: u8, parts: &[&str], bits: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h = (h ^ 0x1f).wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Fold the high bits in: FNV's low bits alone mix poorly.
    ((h ^ (h >> 29) ^ (h >> 47)) & ((1u64 << bits) - 1)) as u32
}

/// The folded words of a turn (lower case, no accents), with their byte spans in the folded text.
pub fn folded_words(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut folded = String::with_capacity(text.len());
    let mut spans = Vec::new();
    fold_into(text, &mut folded);
    word_spans(&folded, &mut spans);
    (folded, spans)
}

/// `text` folded into `out` (cleared first), as the rules fold it.
fn fold_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    for c in text.chars() {
        push_folded(c, out);
    }
}

/// The byte spans of the words (letters, digits, apostrophes) of folded text, into `spans`.
fn word_spans(folded: &str, spans: &mut Vec<(usize, usize)>) {
    spans.clear();
    let mut start = None;
    for (i, c) in folded.char_indices() {
        let in_word = c.is_alphanumeric() || c == '\'';
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, folded.len()));
    }
}

/// Buffers a brief's feature extraction reuses from turn to turn (and, kept by the caller, from
/// brief to brief): the features are made for every brief, and fresh buffers per turn were a
/// tenth of a brief's time in allocation.
#[derive(Debug, Default)]
pub struct Buffers {
    spans: Vec<(usize, usize)>,
    joined: String,
    bounds: Vec<usize>,
}

/// What one customer turn contributed to a conversation's features, kept so that the evidence
/// for a label (which turn, which words weigh most) replays them instead of reading the turn
/// again for every label.
#[derive(Debug, Default)]
pub struct TurnFeatures {
    /// The turn's index in the conversation.
    pub turn: usize,
    /// The turn's text, folded.
    pub folded: String,
    /// Where its features are in the conversation's [`Features`].
    pub range: std::ops::Range<usize>,
    /// Per feature of `range`, the span in `folded` of the word it names (empty: no name).
    pub names: Vec<(u32, u32)>,
}

impl TurnFeatures {
    /// The readable name of the feature at `range.start + k` ("" when it has none).
    pub fn name(&self, k: usize) -> &str {
        let (s, e) = self.names[k];
        &self.folded[s as usize..e as usize]
    }
}

/// One customer turn's features, passed to `emit` with a readable name when `named` is set
/// (evidence), else with an empty name.
pub fn customer_turn(text: &str, emit: impl FnMut(u32, f32, &str)) {
    turn_features(text, false, emit);
}

/// [`customer_turn`] and, when `set` has them, the turn's scope features: what a brief's
/// extraction keeps for one customer turn, in the same order.
pub fn customer_turn_in(text: &str, set: FeatureSet, emit: impl FnMut(u32, f32, &str)) {
    turn_features(text, set.scopes, emit);
}

fn turn_features(text: &str, scoped: bool, mut emit: impl FnMut(u32, f32, &str)) {
    let mut buffers = Buffers::default();
    let mut folded = String::new();
    fold_into(text, &mut folded);
    word_spans(&folded, &mut buffers.spans);
    customer_turn_folded(&folded, &mut buffers, scoped, |i, v, (s, e)| emit(i, v, &folded[s as usize..e as usize]));
}

/// [`customer_turn`] of a turn already folded, and its scope features when `scoped`; `emit` gets
/// the span of the name in `folded`. `buffers.spans` must hold the words of `folded` ([`word_spans`]).
fn customer_turn_folded(folded: &str, buffers: &mut Buffers, scoped: bool, mut emit: impl FnMut(u32, f32, (u32, u32))) {
    const NO_NAME: (u32, u32) = (0, 0);
    let spans = &buffers.spans;
    let word = |k: usize| &folded[spans[k].0..spans[k].1];
    let mut negated_until = 0usize;
    for (i, &(s, e)) in spans.iter().enumerate() {
        let w = &folded[s..e];
        emit(hash(b'w', &[w]), 1.0, (s as u32, e as u32));
        if i + 1 < spans.len() {
            emit(hash(b'b', &[w, word(i + 1)]), 1.0, NO_NAME);
        }
        if NEGATORS.contains(&w) {
            negated_until = i + 1 + NEGATION_REACH;
        } else if i < negated_until {
            emit(hash(b'n', &[w]), 1.0, NO_NAME);
        }
    }
    // Character 3- and 4-grams over the words joined by single spaces, padded.
    let joined = &mut buffers.joined;
    joined.clear();
    joined.push(' ');
    for &(s, e) in spans {
        joined.push_str(&folded[s..e]);
        joined.push(' ');
    }
    let bounds = &mut buffers.bounds;
    bounds.clear();
    bounds.extend(joined.char_indices().map(|(i, _)| i).chain(std::iter::once(joined.len())));
    for n in [3usize, 4] {
        for start in 0..bounds.len().saturating_sub(n) {
            let gram = &joined[bounds[start]..bounds[start + n]];
            emit(hash(b'c' + n as u8, &[gram]), CHAR_WEIGHT, NO_NAME);
        }
    }
    if scoped {
        scopes(folded, spans, |i, name| emit(i, 1.0, name));
    }
}

/// The scope features of one customer turn (see [`FeatureSet::scopes`]), passed to `emit` with
/// the span of their word; `spans` holds the words of `folded`. A sentence ends at `.`, `!`, `?`,
/// `;` or a line break.
fn scopes(folded: &str, spans: &[(usize, usize)], mut emit: impl FnMut(u32, (u32, u32))) {
    let word = |k: usize| &folded[spans[k].0..spans[k].1];
    let name = |k: usize| (spans[k].0 as u32, spans[k].1 as u32);
    let mut start = 0;
    while start < spans.len() {
        let mut end = start + 1;
        while end < spans.len() && !folded[spans[end - 1].1..spans[end].0].contains(['.', '!', '?', ';', '\n']) {
            end += 1;
        }
        if let Some(last_contrast) = (start..end).rev().find(|&k| CONTRASTS.contains(&word(k))) {
            for k in start..last_contrast {
                emit(hash(b'P', &[word(k)]), name(k));
            }
        }
        if let Some(reporter) = (start..end).find(|&k| REPORTERS.contains(&word(k))) {
            for k in reporter + 1..end {
                emit(hash(b'Q', &[word(k)]), name(k));
            }
        }
        for condition in (start..end).filter(|&k| CONDITIONS.contains(&word(k))) {
            for k in condition + 1..end.min(condition + 1 + CONDITION_REACH) {
                emit(hash(b'I', &[word(k)]), name(k));
            }
        }
        start = end;
    }
}

/// The features of a conversation's turns before the handoff, with the rules' brief.
/// What the rules read of a conversation, as the model's features see it.
#[derive(Clone, Copy)]
pub struct RulesRead<'a> {
    pub brief: &'a Brief,
    /// A time the customer told in passing; given only where the rules found no window.
    pub told: Option<&'a TimeWindow>,
}

/// What [`FeatureSet::length_scaled`] multiplies the customer's features by (1 when it is off or
/// the customer said nothing).
pub fn length_scale(set: FeatureSet, customer: &[TurnFeatures]) -> f32 {
    let n: usize = customer.iter().map(|c| c.range.len()).sum();
    // Never above 1: scaled up, the two words of "hi there" weighed four times over and read as
    // three intents; a short chat stays as it was, a long call is brought down to it.
    if set.length_scaled && n > 0 { (LENGTH_REFERENCE / n as f32).sqrt().min(1.0) } else { 1.0 }
}

/// [`extract`] in the parts the objections head scores apart ([`FeatureSet::objection_turns`]),
/// unscaled: the features of no customer turn (the bias, the AI's words, the context, the rules'
/// findings), and each customer turn's own.
pub fn extract_by_turn(
    turns: &[Turn],
    rules: &Brief,
    told: Option<&TimeWindow>,
    set: FeatureSet,
) -> (Features, Vec<Features>) {
    let folded: Vec<String> = turns.iter().map(|t| super::super::text::fold(&t.text)).collect();
    let read = RulesRead { brief: rules, told };
    let (mut all, mut customer) = (Vec::new(), Vec::new());
    let set = FeatureSet { length_scaled: false, ..set };
    extract_keeping(turns, &folded, read, set, &mut all, &mut Buffers::default(), &mut customer);
    let by_turn = customer.iter().map(|c| all[c.range.clone()].to_vec()).collect();
    let mut rest = Vec::with_capacity(all.len());
    let mut from = 0;
    for c in &customer {
        rest.extend_from_slice(&all[from..c.range.start]);
        from = c.range.end;
    }
    rest.extend_from_slice(&all[from..]);
    (rest, by_turn)
}

/// `told`: a time the customer told in passing, given only where the rules found no window.
pub fn extract(turns: &[Turn], rules: &Brief, told: Option<&TimeWindow>, set: FeatureSet, out: &mut Features) {
    let folded: Vec<String> = turns.iter().map(|t| super::super::text::fold(&t.text)).collect();
    let read = RulesRead { brief: rules, told };
    extract_keeping(turns, &folded, read, set, out, &mut Buffers::default(), &mut Vec::new());
}

/// [`extract`] of turns already folded (`folded[i]` is `turns[i]`'s text, folded: the rules
/// fold each turn once per brief), keeping in `customer` what each customer turn contributed
/// (for evidence), and reusing `buffers` and `customer`'s own buffers.
pub fn extract_keeping(
    turns: &[Turn],
    folded: &[impl AsRef<str>],
    read: RulesRead<'_>,
    set: FeatureSet,
    out: &mut Features,
    buffers: &mut Buffers,
    customer: &mut Vec<TurnFeatures>,
) {
    let RulesRead { brief: rules, told } = read;
    out.clear();
    out.push((bias_index(), 1.0));
    let mut kept = 0;
    for (t, turn) in turns.iter().enumerate() {
        match turn.from {
            Speaker::Customer => {
                if customer.len() == kept {
                    customer.push(TurnFeatures::default());
                }
                let entry = &mut customer[kept];
                kept += 1;
                entry.turn = t;
                entry.names.clear();
                entry.folded.clear();
                entry.folded.push_str(folded[t].as_ref());
                word_spans(&entry.folded, &mut buffers.spans);
                let start = out.len();
                customer_turn_folded(&entry.folded, buffers, set.scopes, |i, v, name| {
                    out.push((i, v));
                    entry.names.push(name);
                });
                entry.range = start..out.len();
            }
            Speaker::Ai | Speaker::Agent => {
                let folded = folded[t].as_ref();
                word_spans(folded, &mut buffers.spans);
                let spans = &buffers.spans;
                for (i, &(s, e)) in spans.iter().enumerate() {
                    let word = &folded[s..e];
                    out.push((hash(b'a', &[word]), 0.5));
                    if let Some(&(ns, ne)) = spans.get(i + 1) {
                        out.push((hash(b'A', &[word, &folded[ns..ne]]), 0.5));
                    }
                }
            }
        }
    }
    customer.truncate(kept);
    let scale = length_scale(set, customer);
    if scale != 1.0 {
        for c in customer.iter() {
            out[c.range.clone()].iter_mut().for_each(|(_, v)| *v *= scale);
        }
    }
    if set.context {
        context(turns, folded, &mut buffers.spans, out);
    }
    if set.shapes {
        for turn in turns.iter().filter(|t| t.from == Speaker::Customer) {
            shapes(&turn.text, out);
        }
    }
    if set.rule_hits {
        for f in &rules.intents {
            out.push((hash(b'r', &["intent", &f.code]), 2.0));
        }
        for f in &rules.objections {
            out.push((hash(b'r', &["objection", &f.code]), 2.0));
        }
        for f in &rules.do_not_ask {
            out.push((hash(b'r', &["fact", &f.fact]), 2.0));
        }
        out.push((hash(b'r', &["urgency", rules.urgency.level.as_str()]), 2.0));
        out.push((hash(b'r', &["disposition", rules.disposition.as_str()]), 2.0));
        let window = if rules.requested_window.is_some() { "yes" } else { "no" };
        out.push((hash(b'r', &["window", window]), 2.0));
        if set.window_day
            && let (Some(window), Some(last)) = (&rules.requested_window, turns.last())
        {
            out.push((hash(b'r', &["window_day", window_day(window, last.at)]), 2.0));
        }
        if set.told
            && let (Some(told), Some(last)) = (told, turns.last())
        {
            out.push((hash(b'r', &["told", "yes"]), 2.0));
            out.push((hash(b'r', &["told_day", window_day(told, last.at)]), 2.0));
        }
    }
}

/// How far off `window` starts from the day of `now`, in the window's own offset.
fn window_day(window: &TimeWindow, now: DateTime<FixedOffset>) -> &'static str {
    let start = window.not_before.date_naive();
    let today = now.with_timezone(window.not_before.offset()).date_naive();
    match (start - today).num_days() {
        ..=0 => "today",
        1 => "tomorrow",
        2..=6 if matches!(start.weekday(), Weekday::Sat | Weekday::Sun) => "weekend",
        2..=6 => "week",
        _ => "later",
    }
}

/// The words of folded text, passed to `emit` (`spans`: a buffer).
fn each_word(folded: &str, spans: &mut Vec<(usize, usize)>, mut emit: impl FnMut(&str)) {
    word_spans(folded, spans);
    for &(s, e) in spans.iter() {
        emit(&folded[s..e]);
    }
}

/// The shape of a word: letters `a`, digits `0`, other characters kept, runs collapsed.
fn shape_of(word: &str, out: &mut String) {
    out.clear();
    for c in word.chars() {
        let class = if c.is_alphabetic() {
            'a'
        } else if c.is_ascii_digit() {
            '0'
        } else {
            c
        };
        if !out.ends_with(class) {
            out.push(class);
        }
    }
}

/// Shape features of one customer turn (see [`FeatureSet::shapes`]).
fn shapes(text: &str, out: &mut Features) {
    let mut previous = String::new();
    let mut shape = String::new();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | '"' | '(' | ')'));
        let capitalised =
            word.chars().next().is_some_and(char::is_uppercase) && word.chars().skip(1).any(char::is_lowercase);
        if capitalised && !sentence_start {
            out.push((hash(b'K', &["cap"]), 1.0));
            out.push((hash(b'K', &[previous.as_str()]), 1.0));
        }
        if word.chars().any(|c| c.is_ascii_digit()) {
            shape_of(word, &mut shape);
            out.push((hash(b's', &[shape.as_str()]), 1.0));
            out.push((hash(b'S', &[previous.as_str(), shape.as_str()]), 1.0));
        }
        previous.clear();
        for c in word.chars() {
            push_folded(c, &mut previous);
        }
        sentence_start = raw.ends_with(['.', '!', '?']);
    }
}

/// Features of the turns around the customer's (see [`FeatureSet::context`]); `folded[i]` is
/// `turns[i]`'s text folded, `spans` a buffer.
fn context(turns: &[Turn], folded: &[impl AsRef<str>], spans: &mut Vec<(usize, usize)>, out: &mut Features) {
    for (t, turn) in turns.iter().enumerate().skip(1) {
        let previous = &turns[t - 1];
        if turn.from != Speaker::Customer || previous.from == Speaker::Customer {
            continue;
        }
        let text = folded[t].as_ref();
        word_spans(text, spans);
        let Some(first) = spans.first().map(|(s, e)| &text[*s..*e]) else { continue };
        let tag = if ACCEPTS.contains(&first) {
            b'o'
        } else if REFUSES.contains(&first) {
            b'x'
        } else {
            continue;
        };
        each_word(folded[t - 1].as_ref(), spans, |w| out.push((hash(tag, &[w]), 1.0)));
    }
    if let Some(last) = turns.iter().rposition(|t| t.from == Speaker::Customer) {
        each_word(folded[last].as_ref(), spans, |w| out.push((hash(b'L', &[w]), 0.5)));
    }
    if let Some(last) = turns.iter().rposition(|t| t.from != Speaker::Customer) {
        each_word(folded[last].as_ref(), spans, |w| out.push((hash(b'Z', &[w]), 0.5)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_fold_to_the_same_features() {
        let collect = |text: &str| {
            let mut v = Vec::new();
            customer_turn(text, |i, _, _| v.push(i));
            v
        };
        assert_eq!(collect("Mañana POR la Tarde"), collect("manana por la tarde"));
        assert_ne!(collect("not monday"), collect("monday"));
    }

    fn turn(from: &str, text: &str) -> Turn {
        serde_json::from_value(serde_json::json!({"at": "2026-06-09T18:00:00+05:30", "from": from, "text": text}))
            .unwrap()
    }

    #[test]
    fn length_scaling_gives_a_long_conversation_the_weight_of_a_short_one() {
        // The same long customer turn once and four times: scaled, the customer's features have
        // the same length (sum of squares) either way; unscaled, four times the sum of squares.
        let brief = super::super::tests::empty_brief();
        let long = "bit pricey for us, and my wife decides. ".repeat(4);
        let squares_of = |text: &str, times: usize, length_scaled: bool| {
            let turns = vec![turn("customer", text); times];
            let set = FeatureSet { length_scaled, ..super::super::tests::BARE };
            let mut out = Vec::new();
            extract(&turns, &brief, None, set, &mut out);
            out.iter().filter(|(i, _)| *i != bias_index()).map(|(_, v)| v * v).sum::<f32>()
        };
        let squares = |times: usize, length_scaled: bool| squares_of(&long, times, length_scaled);
        let (once, four) = (squares(1, true), squares(4, true));
        assert!((once - four).abs() < 1e-3 * once, "scaled: {once} against {four}");
        let (once, four) = (squares(1, false), squares(4, false));
        assert!((four - 4.0 * once).abs() < 1e-3 * four, "unscaled: {once} against {four}");
        // A greeting is not scaled up.
        assert_eq!(squares_of("hi there", 1, true), squares_of("hi there", 1, false));
    }

    #[test]
    fn an_offer_the_customer_accepts_is_seen_apart_from_one_they_refuse() {
        let offer = turn("ai", "Shall I set up a fitting on Friday?");
        let context = |turns: &[Turn], out: &mut Features| {
            let folded: Vec<String> = turns.iter().map(|t| crate::interpret::text::fold(&t.text)).collect();
            context(turns, &folded, &mut Vec::new(), out)
        };
        let mut accepted = Vec::new();
        context(&[offer.clone(), turn("customer", "Sure, go ahead")], &mut accepted);
        let mut refused = Vec::new();
        context(&[offer.clone(), turn("customer", "nah, not needed")], &mut refused);
        let mut unrelated = Vec::new();
        context(&[offer, turn("customer", "What colours does it come in?")], &mut unrelated);
        let fitting = |tag| hash(tag, &["fitting"]);
        assert!(accepted.iter().any(|(i, _)| *i == fitting(b'o')));
        assert!(!accepted.iter().any(|(i, _)| *i == fitting(b'x')));
        assert!(refused.iter().any(|(i, _)| *i == fitting(b'x')));
        assert!(!unrelated.iter().any(|(i, _)| *i == fitting(b'o') || *i == fitting(b'x')));
    }

    #[test]
    fn a_capitalised_word_inside_a_sentence_and_digits_have_shapes() {
        let mut found = Vec::new();
        shapes("We live in Riverton now. Order QX-55120 came broken", &mut found);
        let has = |i: u32| found.iter().any(|(j, _)| *j == i);
        assert!(has(hash(b'K', &["in"])), "a capitalised word after `in`");
        assert!(has(hash(b'S', &["order", "a-0"])), "an id after `order`");
        let mut start = Vec::new();
        shapes("Tomorrow works. Thanks", &mut start);
        assert!(start.is_empty(), "a sentence's first word is capitalised anyway: {start:?}");
    }

    #[test]
    fn a_window_is_placed_by_its_day_counted_from_the_last_turn() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let window =
            |start: &str| TimeWindow { not_before: at(start), not_after: at(start) + chrono::Duration::hours(3) };
        // Wednesday 2026-06-10, 18:00 in India.
        let now = at("2026-06-10T18:00:00+05:30");
        assert_eq!(window_day(&window("2026-06-10T18:00:00+05:30"), now), "today");
        assert_eq!(window_day(&window("2026-06-11T09:00:00+05:30"), now), "tomorrow");
        assert_eq!(window_day(&window("2026-06-13T09:00:00+05:30"), now), "weekend");
        assert_eq!(window_day(&window("2026-06-12T09:00:00+05:30"), now), "week");
        assert_eq!(window_day(&window("2026-06-17T09:00:00+05:30"), now), "later");
        // The day is the window's: 23:30 UTC on Wednesday is already Thursday in India.
        assert_eq!(window_day(&window("2026-06-11T09:00:00+05:30"), at("2026-06-10T23:30:00+00:00")), "today");
    }

    #[test]
    fn words_conceded_reported_or_supposed_get_features_of_their_own() {
        let found = |text: &str| {
            let (folded, spans) = folded_words(text);
            let mut v = Vec::new();
            scopes(&folded, &spans, |i, (s, e)| v.push((i, folded[s as usize..e as usize].to_owned())));
            v
        };
        let conceded = found("Price was my worry, but the EMI works. Too far though? no");
        assert!(conceded.contains(&(hash(b'P', &["price"]), "price".into())));
        assert!(conceded.contains(&(hash(b'P', &["far"]), "far".into())), "before the sentence's last contrast");
        assert!(!conceded.iter().any(|(i, _)| *i == hash(b'P', &["emi"])), "after the contrast: {conceded:?}");
        assert!(!conceded.iter().any(|(i, _)| *i == hash(b'P', &["no"])), "a new sentence: {conceded:?}");
        let reported = found("Mi esposo dice que está lejos. Yo quiero verla");
        assert!(reported.iter().any(|(i, _)| *i == hash(b'Q', &["lejos"])));
        assert!(!reported.iter().any(|(i, _)| *i == hash(b'Q', &["quiero"])), "the next sentence is hers");
        let supposed = found("agar budget se upar gaya toh nahi lenge");
        assert!(supposed.iter().any(|(i, _)| *i == hash(b'I', &["budget"])));
        assert!(found("the price is fine").is_empty());
    }

    #[test]
    fn negated_words_get_features_of_their_own() {
        let mut plain = Vec::new();
        customer_turn("call monday", |i, _, _| plain.push(i));
        let mut negated = Vec::new();
        customer_turn("not monday", |i, _, _| negated.push(i));
        assert!(negated.contains(&hash(b'n', &["monday"])));
        assert!(!plain.contains(&hash(b'n', &["monday"])));
    }
}
