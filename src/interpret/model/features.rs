//! What the model sees of a conversation: hashed word and character n-grams of the customer's
//! turns (character n-grams carry Hinglish spellings and accents without language detection),
//! the AI's words in a namespace of their own, words in a negation's scope, and what the rules
//! found. Hashing keeps the weight table a fixed size whatever the vocabulary of the corpus.

use handoffd_contract::brief::Brief;
use handoffd_contract::conversation::{Speaker, Turn};

use super::super::text::push_folded;

/// log2 of the hashed feature space.
pub const BITS: u32 = 13;
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

/// Which parts of the input a model uses (recorded in the model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

/// FNV-1a over a namespace tag and the parts, reduced to the feature space.
fn hash(tag: u8, parts: &[&str]) -> u32 {
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
    ((h ^ (h >> 29) ^ (h >> 47)) & (DIMS as u64 - 1)) as u32
}

/// The folded words of a turn (lower case, no accents), with their byte spans in the folded text.
pub fn folded_words(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(c, &mut folded);
    }
    let mut spans = Vec::new();
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
    (folded, spans)
}

/// One customer turn's features, passed to `emit` with a readable name when `named` is set
/// (evidence), else with an empty name.
pub fn customer_turn(text: &str, mut emit: impl FnMut(u32, f32, &str)) {
    let (folded, spans) = folded_words(text);
    let words: Vec<&str> = spans.iter().map(|(s, e)| &folded[*s..*e]).collect();
    let mut negated_until = 0usize;
    for (i, word) in words.iter().enumerate() {
        emit(hash(b'w', &[word]), 1.0, word);
        if i + 1 < words.len() {
            emit(hash(b'b', &[word, words[i + 1]]), 1.0, "");
        }
        if NEGATORS.contains(word) {
            negated_until = i + 1 + NEGATION_REACH;
        } else if i < negated_until {
            emit(hash(b'n', &[word]), 1.0, "");
        }
    }
    // Character 3- and 4-grams over the words joined by single spaces, padded.
    let mut joined = String::with_capacity(folded.len() + 2);
    joined.push(' ');
    for word in &words {
        joined.push_str(word);
        joined.push(' ');
    }
    let bounds: Vec<usize> = joined.char_indices().map(|(i, _)| i).chain(std::iter::once(joined.len())).collect();
    for n in [3usize, 4] {
        for start in 0..bounds.len().saturating_sub(n) {
            let gram = &joined[bounds[start]..bounds[start + n]];
            emit(hash(b'c' + n as u8, &[gram]), CHAR_WEIGHT, "");
        }
    }
}

/// The features of a conversation's turns before the handoff, with the rules' brief.
pub fn extract(turns: &[Turn], rules: &Brief, set: FeatureSet, out: &mut Features) {
    out.clear();
    out.push((hash(b'0', &["bias"]), 1.0));
    for turn in turns {
        match turn.from {
            Speaker::Customer => customer_turn(&turn.text, |i, v, _| out.push((i, v))),
            Speaker::Ai | Speaker::Agent => {
                let (folded, spans) = folded_words(&turn.text);
                let words: Vec<&str> = spans.iter().map(|(s, e)| &folded[*s..*e]).collect();
                for (i, word) in words.iter().enumerate() {
                    out.push((hash(b'a', &[word]), 0.5));
                    if i + 1 < words.len() {
                        out.push((hash(b'A', &[word, words[i + 1]]), 0.5));
                    }
                }
            }
        }
    }
    if set.context {
        context(turns, out);
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
    }
}

/// The words of `text`, folded, passed to `emit`.
fn each_word(text: &str, mut emit: impl FnMut(&str)) {
    let (folded, spans) = folded_words(text);
    for (s, e) in spans {
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

/// Features of the turns around the customer's (see [`FeatureSet::context`]).
fn context(turns: &[Turn], out: &mut Features) {
    for (t, turn) in turns.iter().enumerate().skip(1) {
        let previous = &turns[t - 1];
        if turn.from != Speaker::Customer || previous.from == Speaker::Customer {
            continue;
        }
        let (folded, spans) = folded_words(&turn.text);
        let Some(first) = spans.first().map(|(s, e)| &folded[*s..*e]) else { continue };
        let tag = if ACCEPTS.contains(&first) {
            b'o'
        } else if REFUSES.contains(&first) {
            b'x'
        } else {
            continue;
        };
        each_word(&previous.text, |w| out.push((hash(tag, &[w]), 1.0)));
    }
    if let Some(last) = turns.iter().rfind(|t| t.from == Speaker::Customer) {
        each_word(&last.text, |w| out.push((hash(b'L', &[w]), 0.5)));
    }
    if let Some(last) = turns.iter().rfind(|t| t.from != Speaker::Customer) {
        each_word(&last.text, |w| out.push((hash(b'Z', &[w]), 0.5)));
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
    fn an_offer_the_customer_accepts_is_seen_apart_from_one_they_refuse() {
        let offer = turn("ai", "Shall I set up a fitting on Friday?");
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
    fn negated_words_get_features_of_their_own() {
        let mut plain = Vec::new();
        customer_turn("call monday", |i, _, _| plain.push(i));
        let mut negated = Vec::new();
        customer_turn("not monday", |i, _, _| negated.push(i));
        assert!(negated.contains(&hash(b'n', &["monday"])));
        assert!(!plain.contains(&hash(b'n', &["monday"])));
    }
}
