//! The vocabulary: intents, objections, facts and signals per language, in YAML that sales ops
//! can extend without touching Rust. Every language folder under the vocabulary directory is
//! loaded and merged (customers mix languages: Hinglish is Hindi and English in one sentence),
//! validated (unknown keys and unknown signal codes are rejected, naming the file and key), and
//! compiled once into one `RegexSet` per category.
//!
//! Layout of a language folder (all files optional; `time.yaml` belongs to the time resolver):
//! - `language.yaml`: negation and contrast words, confirmation tags, pattern macros.
//! - `intents.yaml`, `objections.yaml`, `facts.yaml`: `code: {patterns: [...], ...}`.
//! - `signals.yaml`: the cues the rules use for urgency and disposition (codes in [`SIGNALS`]).
//!
//! Patterns are regular expressions over folded text (lower case, accents removed), so `não`
//! and `nao` are the same word; `{name}` expands a macro. Patterns are compiled without Unicode
//! classes (folded text is almost all ASCII): `\w`, `\b` and `[^.?!]` are ASCII or byte based,
//! which keeps the automata small and the engine fast.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

use super::text::{WordSet, push_folded};

/// Signal codes the rules understand, with what each one does.
pub const SIGNALS: &[(&str, &str)] = &[
    ("urgent", "customer: an explicit urgency (\"urgent\", \"asap\"): high urgency"),
    ("near_time", "customer: today, tonight, tomorrow, this weekend: high urgency"),
    ("anger", "customer: anger or a repeated failure: high urgency, escalation"),
    ("low_interest", "customer: just browsing, months away: low urgency, nurture"),
    ("busy", "customer: busy right now: low urgency and nurture unless a time is named"),
    ("later", "customer: call me later / I will let you know, with no time: nurture"),
    ("no_calls", "customer: no calls for now, write instead: noted, no effect on urgency"),
    ("stop_contact", "customer: take me off your list, stop calling: closed_lost"),
    ("escalate", "customer: asks for a manager, supervisor or senior: escalation"),
    ("time_named", "customer: names a time for the next contact (used without a time resolver)"),
    ("booked", "ai/agent: an appointment, visit or demo is booked: booked"),
    ("promise", "ai/agent: what the AI promised the customer next"),
];

/// Signals said by the AI or an agent; every other signal is the customer's.
pub const AI_SIGNALS: &[&str] = &["booked", "promise"];

/// A vocabulary that cannot be used, with the file and key at fault.
#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("cannot read vocabulary `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("vocabulary `{path}` is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("vocabulary `{path}`, key `{key}`: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
}

/// `language.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    /// Words that negate a phrase when they come shortly before it ("not", "não", "no").
    #[serde(default)]
    negation_before: Vec<String>,
    /// Words that negate a phrase when they come right after it (Hindi "nahi", "mat").
    #[serde(default)]
    negation_after: Vec<String>,
    /// Words that turn a sentence around ("but", "pero", "lekin"): see `contrast_cancels`.
    #[serde(default)]
    contrast: Vec<String>,
    /// Tags that make an agent's question a confirmation ("right?", "sahi?", "né?").
    #[serde(default)]
    confirm_tags: Vec<String>,
    /// Phrases that state a need ("I need", "busco", "chahiye"): the stated need prefers them.
    #[serde(default)]
    need_words: Vec<String>,
    /// How a customer's reply says yes to what the AI just offered ("yes", "haan", "claro",
    /// "pode ser"), matched at the start of the reply.
    #[serde(default)]
    accept_replies: Vec<String>,
    /// Greetings, thanks and acknowledgements ("hello", "ok thanks", "obrigada"): a reply made only
    /// of them, matched on the whole reply.
    #[serde(default)]
    small_talk: Vec<String>,
    /// Intents a customer takes on by accepting the AI's offer of them (a visit, a demo, a
    /// brochure). `callback_request` never: a call the AI offered is not one the customer asked for.
    #[serde(default)]
    offer_intents: Vec<String>,
    /// Named pattern fragments, used in patterns as `{name}`.
    #[serde(default)]
    macros: BTreeMap<String, String>,
}

/// One code (an intent, an objection, a fact or a signal) and how to recognise it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    /// Regular expressions over folded text; any one recognises the code. A named group
    /// `value` gives a fact's value (otherwise the whole match is the value).
    patterns: Vec<String>,
    /// A match is dropped when one of these matches the same clause ("last" for "last Tuesday").
    #[serde(default)]
    unless: Vec<String>,
    /// A match counts only when one of these also matches somewhere in the same turn.
    #[serde(default)]
    requires: Vec<String>,
    /// Whether a negation word before (or after) the match cancels it. Default true.
    #[serde(default = "yes")]
    negatable: bool,
    /// Whether a contrast word later in the same sentence cancels the match ("not interested in
    /// the 2BHK but tell me about the 3BHK"). Default false.
    #[serde(default)]
    contrast_cancels: bool,
    /// Facts only: how an agent asks for this fact (used to find re-asked facts).
    #[serde(default)]
    ask: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A category compiled: one set for "which patterns match", one regex per pattern for where.
#[derive(Debug)]
pub struct Category {
    pub entries: Vec<Entry>,
    set: RegexSet,
    patterns: Vec<(Regex, usize)>,
}

#[derive(Debug)]
pub struct Entry {
    pub code: String,
    pub unless: Option<Regex>,
    pub requires: Option<Regex>,
    pub negatable: bool,
    pub contrast_cancels: bool,
    pub ask: Option<Regex>,
}

/// One raw match of a category in a text, before negation and scope rules.
#[derive(Debug, Clone, Copy)]
pub struct RawMatch {
    pub entry: usize,
    pub start: usize,
    pub end: usize,
    /// The `value` group, when the pattern has one.
    pub value: Option<(usize, usize)>,
}

impl Category {
    /// Every match of every pattern in `text`, in text order (offsets on char boundaries).
    pub fn find(&self, text: &str, out: &mut Vec<RawMatch>) {
        out.clear();
        let bytes = text.as_bytes();
        let floor = |mut i: usize| {
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let ceil = |mut i: usize| {
            while !text.is_char_boundary(i) {
                i += 1;
            }
            i
        };
        for index in self.set.matches(bytes).iter() {
            let (regex, entry) = &self.patterns[index];
            let value_group = regex.capture_names().position(|n| n == Some("value"));
            match value_group {
                Some(group) => {
                    for caps in regex.captures_iter(bytes) {
                        let whole = caps.get(0).expect("group 0 always exists");
                        let value = caps.get(group).map(|m| (floor(m.start()), ceil(m.end())));
                        out.push(RawMatch {
                            entry: *entry,
                            start: floor(whole.start()),
                            end: ceil(whole.end()),
                            value,
                        });
                    }
                }
                None => {
                    for m in regex.find_iter(bytes) {
                        out.push(RawMatch { entry: *entry, start: floor(m.start()), end: ceil(m.end()), value: None });
                    }
                }
            }
        }
        out.sort_by_key(|m| (m.start, m.entry));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The whole vocabulary, compiled.
#[derive(Debug)]
pub struct Vocabulary {
    pub languages: Vec<String>,
    pub intents: Category,
    pub objections: Category,
    pub facts: Category,
    /// Signals read in customer turns.
    pub signals: Category,
    /// Signals read in the AI's and agents' turns (`booked`, `promise`).
    pub ai_signals: Category,
    pub negation_before: WordSet,
    pub negation_after: WordSet,
    pub contrast: WordSet,
    pub confirm_tags: Option<Regex>,
    pub need_words: Option<Regex>,
    /// A reply that accepts the AI's offer, anchored at the start of the folded reply.
    pub accept_replies: Option<Regex>,
    /// A reply that is only small talk, anchored at both ends of the folded reply.
    pub small_talk: Option<Regex>,
    pub offer_intents: HashSet<String>,
}

/// Raw entries of one category, with where each came from (for error messages).
type Collected = Vec<(PathBuf, String, EntryFile)>;

impl Vocabulary {
    /// Load every language folder under `dir`.
    pub fn load(dir: &Path) -> Result<Vocabulary, VocabularyError> {
        let read_dir = std::fs::read_dir(dir).map_err(|source| VocabularyError::Read { path: dir.into(), source })?;
        let mut folders: Vec<PathBuf> =
            read_dir.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        folders.sort();
        if folders.is_empty() {
            return Err(VocabularyError::Invalid {
                path: dir.into(),
                key: "(folder)".into(),
                message: "no language folder (such as `en/`) found".into(),
            });
        }
        let mut languages = Vec::new();
        let mut language = LanguageFile::default();
        let mut macro_origin = BTreeMap::new();
        let (mut intents, mut objections, mut facts, mut signals) = (vec![], vec![], vec![], vec![]);
        for folder in &folders {
            languages.push(folder.file_name().unwrap_or_default().to_string_lossy().into_owned());
            let path = folder.join("language.yaml");
            if let Some(file) = read_yaml::<LanguageFile>(&path)? {
                language.negation_before.extend(file.negation_before);
                language.negation_after.extend(file.negation_after);
                language.contrast.extend(file.contrast);
                language.confirm_tags.extend(file.confirm_tags);
                language.need_words.extend(file.need_words);
                language.accept_replies.extend(file.accept_replies);
                language.small_talk.extend(file.small_talk);
                language.offer_intents.extend(file.offer_intents);
                for (name, body) in file.macros {
                    if let Some(previous) = language.macros.insert(name.clone(), body) {
                        let _ = previous;
                        return Err(VocabularyError::Invalid {
                            path: path.clone(),
                            key: format!("macros.{name}"),
                            message: format!("macro already defined in `{}`", macro_origin[&name]),
                        });
                    }
                    macro_origin.insert(name, path.display().to_string());
                }
            }
            for (file, into) in [
                ("intents.yaml", &mut intents),
                ("objections.yaml", &mut objections),
                ("facts.yaml", &mut facts),
                ("signals.yaml", &mut signals),
            ] {
                let path = folder.join(file);
                if let Some(entries) = read_yaml::<BTreeMap<String, EntryFile>>(&path)? {
                    into.extend(entries.into_iter().map(|(code, entry)| (path.clone(), code, entry)));
                }
            }
        }
        for (path, code, _) in &signals {
            if !SIGNALS.iter().any(|(known, _)| known == code) {
                let known: Vec<&str> = SIGNALS.iter().map(|(c, _)| *c).collect();
                return Err(VocabularyError::Invalid {
                    path: path.clone(),
                    key: code.clone(),
                    message: format!("unknown signal; expected one of: {}", known.join(", ")),
                });
            }
        }
        for (path, code, entry) in intents.iter().chain(&objections).chain(&signals) {
            if !entry.ask.is_empty() {
                return Err(VocabularyError::Invalid {
                    path: path.clone(),
                    key: format!("{code}.ask"),
                    message: "`ask` is only for facts".into(),
                });
            }
        }
        let (ai_signals, signals): (Collected, Collected) =
            signals.into_iter().partition(|(_, code, _)| AI_SIGNALS.contains(&code.as_str()));
        let macros = &language.macros;
        let confirm_tags = compile_alternatives(&language.confirm_tags, macros)
            .map_err(|message| VocabularyError::Invalid { path: dir.into(), key: "confirm_tags".into(), message })?;
        let need_words = compile_alternatives(&language.need_words, macros)
            .map_err(|message| VocabularyError::Invalid { path: dir.into(), key: "need_words".into(), message })?;
        // Anchored at the reply's start, after any spaces or punctuation ("...yes", "- ok").
        let anchored: Vec<String> = language.accept_replies.iter().map(|p| format!(r"^[\s.,!\-]*(?:{p})")).collect();
        let accept_replies = compile_alternatives(&anchored, macros).map_err(|message| VocabularyError::Invalid {
            path: dir.into(),
            key: "accept_replies".into(),
            message,
        })?;
        // One or more pieces of small talk, with nothing but spaces, punctuation and emoji around
        // them (UTF-8 bytes: four-byte emoji, the symbols and dingbats of U+2000-U+2FFF, the emoji
        // variation selector; no letter of any script).
        let small_talk = match language.small_talk.is_empty() {
            true => None,
            false => {
                let pieces: Vec<String> = language.small_talk.iter().map(|p| format!("(?:{p})")).collect();
                let piece = format!("(?:{})", pieces.join("|"));
                let gap = r"(?:[\s[:punct:]]|\xF0[\x80-\xBF]{3}|\xE2[\x80-\xBF]{2}|\xEF\xB8\x8F)";
                let whole = format!(r"^{gap}*{piece}(?:{gap}+{piece})*{gap}*$");
                compile_alternatives(&[whole], macros).map_err(|message| VocabularyError::Invalid {
                    path: dir.into(),
                    key: "small_talk".into(),
                    message,
                })?
            }
        };
        let intents = compile_category(intents, macros)?;
        if let Some(code) =
            language.offer_intents.iter().find(|c| *c == "callback_request" || !Self::knows(&intents, c))
        {
            return Err(VocabularyError::Invalid {
                path: dir.into(),
                key: "offer_intents".into(),
                message: format!("`{code}` is not an intent a customer can take on by accepting an offer"),
            });
        }
        Ok(Vocabulary {
            need_words,
            accept_replies,
            small_talk,
            offer_intents: language.offer_intents.into_iter().collect(),
            languages,
            intents,
            objections: compile_category(objections, macros)?,
            facts: compile_category(facts, macros)?,
            signals: compile_category(signals, macros)?,
            ai_signals: compile_category(ai_signals, macros)?,
            negation_before: language.negation_before.iter().map(|w| fold_pattern(w)).collect(),
            negation_after: language.negation_after.iter().map(|w| fold_pattern(w)).collect(),
            contrast: language.contrast.iter().map(|w| fold_pattern(w)).collect(),
            confirm_tags,
        })
    }

    /// Whether a folded reply is only small talk: greetings, thanks, acknowledgements.
    pub fn is_small_talk(&self, folded: &str) -> bool {
        self.small_talk.as_ref().is_some_and(|re| re.is_match(folded.as_bytes()))
    }

    /// Whether a code is known in a category (used to validate vendor mappings).
    pub fn knows(category: &Category, code: &str) -> bool {
        category.entries.iter().any(|e| e.code == code)
    }
}

fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, VocabularyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(VocabularyError::Read { path: path.into(), source }),
    };
    serde_saphyr::from_str(&text)
        .map(Some)
        .map_err(|error| VocabularyError::Parse { path: path.into(), message: error.to_string() })
}

fn compile_category(collected: Collected, macros: &BTreeMap<String, String>) -> Result<Category, VocabularyError> {
    let mut entries = Vec::new();
    let mut sources = Vec::new();
    let mut patterns = Vec::new();
    // A code's exceptions hold for all its entries: languages mix, so the Spanish weekday
    // pattern meets English "last Tuesday" and must obey the English `unless`.
    let mut unless_by_code: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, code, entry) in &collected {
        unless_by_code.entry(code.as_str()).or_default().extend(entry.unless.iter().cloned());
    }
    let unless_by_code: BTreeMap<String, Vec<String>> =
        unless_by_code.into_iter().map(|(code, list)| (code.to_owned(), list)).collect();
    for (path, code, entry) in collected {
        let invalid = |key: String, message: String| VocabularyError::Invalid { path: path.clone(), key, message };
        if entry.patterns.is_empty() {
            return Err(invalid(format!("{code}.patterns"), "at least one pattern is needed".into()));
        }
        let index = entries.len();
        for (i, pattern) in entry.patterns.iter().enumerate() {
            let source = expand(pattern, macros).map_err(|m| invalid(format!("{code}.patterns[{i}]"), m))?;
            let regex = compile(&source).map_err(|e| invalid(format!("{code}.patterns[{i}]"), e.to_string()))?;
            sources.push(source);
            patterns.push((regex, index));
        }
        compile_alternatives(&entry.unless, macros).map_err(|m| invalid(format!("{code}.unless"), m))?;
        let unless =
            compile_alternatives(&unless_by_code[&code], macros).map_err(|m| invalid(format!("{code}.unless"), m))?;
        let requires =
            compile_alternatives(&entry.requires, macros).map_err(|m| invalid(format!("{code}.requires"), m))?;
        let ask = compile_alternatives(&entry.ask, macros).map_err(|m| invalid(format!("{code}.ask"), m))?;
        entries.push(Entry {
            code,
            unless,
            requires,
            negatable: entry.negatable,
            contrast_cancels: entry.contrast_cancels,
            ask,
        });
    }
    let set = RegexSetBuilder::new(&sources).unicode(false).dfa_size_limit(SET_DFA_BYTES).build().map_err(|e| {
        VocabularyError::Invalid { path: PathBuf::new(), key: "(all patterns)".into(), message: e.to_string() }
    })?;
    Ok(Category { entries, set, patterns })
}

/// The lazy DFA cache of a category's set. The regex crate's default (2 MB) is sized for one
/// regex: a set of hundreds of phrases fills it on every few new conversations, and a search that
/// keeps clearing its cache gives up the DFA for a much slower engine. Over 12,499 training cases
/// (`handoffd eval`, one thread): 2 MB 22.4 s and 203 MB peak, 16 MB 13.9 s and 241 MB, 64 MB
/// 11.9 s and 320 MB. The cache grows only as states are made, up to this, per thread that briefs.
const SET_DFA_BYTES: usize = 16 << 20;

fn compile_alternatives(patterns: &[String], macros: &BTreeMap<String, String>) -> Result<Option<Regex>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut alternatives = Vec::new();
    for pattern in patterns {
        let source = expand(pattern, macros)?;
        compile(&source).map_err(|e| e.to_string())?;
        alternatives.push(format!("(?:{source})"));
    }
    compile(&alternatives.join("|")).map(Some).map_err(|e| e.to_string())
}

/// Compile a pattern for folded text: byte-based, no Unicode classes.
fn compile(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source).unicode(false).build()
}

/// Fold the non-ASCII letters of a pattern (ASCII is left alone: `\D` must stay upper case).
fn fold_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if c.is_ascii() { out.push(c) } else { push_folded(c, &mut out) }
    }
    out
}

/// Expand `{macro}` references, fold accents, make `\b` an ASCII boundary (fast in a DFA).
fn expand(pattern: &str, macros: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]).unwrap_or("");
        let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if is_name {
            let body = macros.get(name).ok_or_else(|| format!("unknown macro `{{{name}}}`"))?;
            out.push_str("(?:");
            out.push_str(&expand(body, macros)?);
            out.push(')');
            rest = &after[name.len() + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(fold_pattern(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, body: &str) {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), body).unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected_with_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "en/intents.yaml", "pricing:\n  patterns: ['price']\n  colour: red\n");
        let error = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("intents.yaml") && error.contains("colour"), "{error}");
    }

    #[test]
    fn unknown_signals_and_bad_patterns_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "en/signals.yaml", "hurry:\n  patterns: ['asap']\n");
        let error = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("signals.yaml") && error.contains("hurry"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "en/intents.yaml", "demo:\n  patterns: ['(demo']\n");
        let error = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("demo.patterns[0]"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "en/intents.yaml", "demo:\n  patterns: ['{nothing}']\n");
        let error = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("unknown macro"), "{error}");
    }

    #[test]
    fn macros_and_accents_are_expanded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pt/language.yaml", "macros:\n  no: '(?:não|nao)'\n");
        write(dir.path(), "pt/intents.yaml", "not_interested:\n  patterns: ['\\b{no} tenho interesse']\n");
        let vocabulary = Vocabulary::load(dir.path()).unwrap();
        let mut found = Vec::new();
        vocabulary.intents.find("nao tenho interesse em renovar", &mut found);
        assert_eq!(found[0].start, 0);
        assert_eq!(found.len(), 1);
        assert_eq!(vocabulary.intents.entries[found[0].entry].code, "not_interested");
    }

    #[test]
    fn an_offered_call_or_an_unknown_intent_cannot_be_taken_on_by_a_yes() {
        for (codes, named) in [("[demo, callback_request]", "callback_request"), ("[demo, fitting]", "fitting")] {
            let dir = tempfile::tempdir().unwrap();
            write(
                dir.path(),
                "en/intents.yaml",
                "demo:\n  patterns: ['demo']\ncallback_request:\n  patterns: ['call me']\n",
            );
            write(dir.path(), "en/language.yaml", &format!("offer_intents: {codes}\n"));
            let error = Vocabulary::load(dir.path()).unwrap_err().to_string();
            assert!(error.contains("offer_intents") && error.contains(named), "{error}");
        }
    }
}
