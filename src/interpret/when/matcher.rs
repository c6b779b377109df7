//! Compiles the vocabulary of every language into one finder regex, and turns a text into
//! time tokens (a day, a part of the day, a clock phrase) with their positions.

use std::collections::HashMap;

use chrono::Weekday;
use regex::Regex;

use crate::interpret::text::WordHash;

use super::fold::{Folded, fold};
use super::vocabulary::{LoadedVocabulary, TimeVocabulary, VocabularyError};

/// A day or span the customer named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DayRef {
    Today,
    Tomorrow,
    DayAfterTomorrow,
    Tonight,
    Weekday(Weekday),
    /// A weekday of next week ("next week Tuesday", "martes de la próxima semana").
    NextWeekday(Weekday),
    /// The weekday a week after its coming one ("este sábado no ... el siguiente sábado").
    FollowingWeekday(Weekday),
    ThisWeekend,
    NextWeek,
    EndOfMonth,
    AfterSalaryDay,
    /// A delay from now in minutes ("in an hour", "daqui a duas horas"): today, from then on.
    FromNow {
        minutes: u32,
    },
    /// A day of the month ("the 24th", "dia 15"), and its month (1-12) when named ("19 de marzo").
    Date {
        day: u32,
        month: Option<u32>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl Part {
    /// Whether the part can say am or pm of a bare `hour` ("9" in the morning, "4" in the
    /// afternoon): not of an hour outside it ("4" after "tomorrow morning" is no 04:00).
    pub fn reads_hour(self, hour: u32) -> bool {
        match self {
            Part::Morning => (6..=11).contains(&hour),
            Part::Afternoon => hour == 12 || (1..=6).contains(&hour),
            Part::Evening | Part::Night => (4..=11).contains(&hour),
        }
    }

    /// The default window of the part, minutes since midnight (eval/README.md).
    pub fn bounds(self) -> (u32, u32) {
        match self {
            Part::Morning => (9 * 60, 12 * 60),
            Part::Afternoon => (12 * 60, 17 * 60),
            Part::Evening => (17 * 60, 21 * 60),
            Part::Night => (18 * 60, 21 * 60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockKind {
    After,
    Before,
    Until,
    Between,
    At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Meridiem {
    Am,
    Pm,
    /// No am/pm: decided from the part of the day, or by business-day defaults.
    Unknown,
}

/// A time of day as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClockTime {
    pub hour: u32,
    pub minute: u32,
    pub meridiem: Meridiem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Day(DayRef),
    Part { part: Part, standalone: bool },
    Clock { kind: ClockKind, first: ClockTime, second: Option<ClockTime> },
}

/// One time expression found in a folded text; `start..end` are folded byte offsets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// What a matched literal phrase means, and the languages that list it.
#[derive(Clone, Debug)]
struct Literal {
    kind: TokenKind,
    languages: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alternative {
    Ignore,
    Literal,
    Template(usize),
    Date(usize),
}

struct Template {
    kind: ClockKind,
    /// The template alone, anchored, with named groups `h1 m1 x1` (and `h2 m2 x2`).
    parser: Regex,
}

struct DateTemplate {
    /// The template alone, anchored, with named groups `d` (and `m`).
    parser: Regex,
    /// Whether it names a date only right after a weekday ("Saturday 21").
    after_weekday: bool,
    /// Its language, whose days in words it reads (see [`Matcher::day_words`]).
    language: usize,
}

/// The compiled vocabulary.
pub(crate) struct Matcher {
    finder: Regex,
    /// The finder's alternatives as patterns of their own, in the same order: searching a
    /// match of the finder with it says which alternative matched (the pattern id), as the
    /// finder's captures would, without the cost of captures over this many groups.
    alternative_finder: regex_automata::meta::Regex,
    /// Alternative (capture group, pattern id) index -> what it means.
    alternatives: Vec<Alternative>,
    literals: HashMap<String, Literal, WordHash>,
    templates: Vec<Template>,
    dates: Vec<DateTemplate>,
    /// Folded month names -> 1-12.
    months: HashMap<String, u32, WordHash>,
    /// Per language: folded days of the month in words, their spaces as one space -> 1-31.
    day_words: Vec<HashMap<String, u32, WordHash>>,
    /// Folded weekday names, for [`DateTemplate::after_weekday`].
    weekday_names: Vec<String>,
    /// Words after a day number that make it something else ("2nd floor").
    not_dates: Vec<String>,
    number_words: HashMap<String, u32, WordHash>,
    /// Minutes said after an hour ("thirty", "y media"), folded, with their spaces as matched.
    minute_words: HashMap<String, u32, WordHash>,
    am: Vec<String>,
    pm: Vec<String>,
    /// Per language, words that make its relative days past ones.
    past_markers: Vec<PhraseIndex>,
    negation_before: Vec<String>,
    negation_after: Vec<String>,
    following_before: Vec<String>,
    following_after: Vec<String>,
    following_one: Vec<String>,
    not_negation: Vec<String>,
    pub corrections: Vec<String>,
    not_time_units: Vec<String>,
    request_cues: PhraseIndex,
    unavailable_cues: PhraseIndex,
    now_cues: PhraseIndex,
    consequence_cues: PhraseIndex,
    reason_cues: PhraseIndex,
    not_reason: PhraseIndex,
    deadline_cues: PhraseIndex,
    contact_cues: PhraseIndex,
    cancel_cues: PhraseIndex,
    /// [`Self::corrections`], indexed as a cue.
    correction_cues: PhraseIndex,
}

/// How a mention's clause reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClauseMood {
    /// Asks for or offers the time ("call me ...", "... works", a question, a bare answer).
    Request,
    /// Says the customer is unavailable then ("I'm busy today", "por la mañana trabajo").
    Unavailable,
    /// A deadline for a decision or purchase ("we need to decide by Friday"): a timeline fact.
    Deadline,
    /// Tells something else ("I land on Friday night").
    Narrative,
    /// Calls a booking off ("cancel my cleaning tomorrow at 9").
    Cancelled,
}

/// A vocabulary phrase as a regex: words separated by any run of spaces or hyphens, with
/// word boundaries where the phrase starts or ends with a letter or digit.
fn phrase_pattern(folded: &str) -> String {
    let words: Vec<String> = folded.split(' ').map(regex::escape).collect();
    let mut pattern = words.join(r"[\s\-]+");
    if folded.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        pattern.insert_str(0, r"(?-u:\b)");
    }
    if folded.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        pattern.push_str(r"(?-u:\b)");
    }
    pattern
}

/// `text`'s words joined by one space ("twenty-eighth" and "twenty  eighth" alike).
fn words_of(text: &str) -> String {
    text.split([' ', '-']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

fn alternation(phrases: &[String]) -> String {
    let mut sorted: Vec<&String> = phrases.iter().collect();
    sorted.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    sorted.dedup();
    sorted.iter().map(|p| phrase_pattern(p)).collect::<Vec<_>>().join("|")
}

impl Matcher {
    pub fn compile(loaded: &LoadedVocabulary) -> Result<Matcher, VocabularyError> {
        let mut literals: HashMap<String, Literal, WordHash> = HashMap::default();
        let mut ignore = Vec::new();
        let mut number_words = HashMap::default();
        let mut minute_words: HashMap<String, u32, WordHash> = HashMap::default();
        let (mut am, mut pm, mut clock_words) = (Vec::new(), Vec::new(), Vec::new());
        let mut past_markers = Vec::new();
        let (mut past_before, mut past_after) = (Vec::new(), Vec::new());
        let (mut negation_before, mut negation_after, mut corrections) = (Vec::new(), Vec::new(), Vec::new());
        let mut not_negation = Vec::new();
        let (mut following_before, mut following_after, mut following_one) = (Vec::new(), Vec::new(), Vec::new());
        let mut not_time_units = Vec::new();
        let (mut request_cues, mut unavailable_cues) = (Vec::new(), Vec::new());
        let (mut deadline_cues, mut contact_cues, mut cancel_cues) = (Vec::new(), Vec::new(), Vec::new());
        let (mut now_cues, mut consequence_cues) = (Vec::new(), Vec::new());
        let (mut reason_cues, mut not_reason) = (Vec::new(), Vec::new());
        let mut weekday_names = Vec::new();
        let mut raw_templates: Vec<(ClockKind, String, usize, &std::path::Path)> = Vec::new();
        let mut raw_dates: Vec<(bool, String, usize, &std::path::Path, usize)> = Vec::new();
        let mut months: HashMap<String, u32, WordHash> = HashMap::default();
        let (mut ordinal_suffixes, mut not_dates) = (Vec::new(), Vec::new());
        // Per language: a language's templates read its own days in words ("das" is ten in
        // Hinglish and "of the" in Portuguese).
        let mut day_words: Vec<HashMap<String, u32, WordHash>> = Vec::new();
        let mut days_in_words: Vec<(Vec<String>, Vec<String>)> = Vec::new();

        for (language, (_, path, v)) in loaded.languages.iter().enumerate() {
            for (key, kind, phrase) in literal_entries(v) {
                let folded = fold(phrase);
                let entry = literals.entry(folded.clone()).or_insert(Literal { kind, languages: Vec::new() });
                // A phrase listed as both a part-of-day word and a standalone phrase is standalone.
                if let (TokenKind::Part { part: a, .. }, TokenKind::Part { part: b, standalone: true }) =
                    (entry.kind, kind)
                    && a == b
                {
                    entry.kind = kind;
                }
                let same = match (entry.kind, kind) {
                    (TokenKind::Part { part: a, .. }, TokenKind::Part { part: b, .. }) => a == b,
                    (a, b) => a == b,
                };
                if !same {
                    return Err(VocabularyError::Invalid {
                        path: path.clone(),
                        key,
                        message: format!("`{phrase}` already means {:?} in another entry", entry.kind),
                    });
                }
                entry.languages.push(language);
            }
            for (_, names) in v.weekdays.by_day() {
                weekday_names.extend(names.iter().map(|n| fold(n)));
            }
            ignore.extend(v.ignore.iter().map(|p| fold(p)));
            for (word, n) in &v.clock.number_words {
                number_words.insert(fold(word), *n);
            }
            for (word, n) in &v.clock.minute_words {
                minute_words.insert(fold(word), *n);
            }
            am.extend(v.clock.am.iter().map(|p| fold(p)));
            pm.extend(v.clock.pm.iter().map(|p| fold(p)));
            clock_words.extend(v.clock.clock_words.iter().map(|p| fold(p)));
            past_markers.push(PhraseIndex::new(v.modifiers.past_markers.iter().map(|p| fold(p))));
            past_before.extend(v.modifiers.past_before.iter().map(|p| fold(p)));
            past_after.extend(v.modifiers.past_after.iter().map(|p| fold(p)));
            negation_before.extend(v.modifiers.negation_before.iter().map(|p| fold(p)));
            negation_after.extend(v.modifiers.negation_after.iter().map(|p| fold(p)));
            following_before.extend(v.modifiers.following_before.iter().map(|p| fold(p)));
            following_after.extend(v.modifiers.following_after.iter().map(|p| fold(p)));
            following_one.extend(v.modifiers.following_one.iter().map(|p| fold(p)));
            not_negation.extend(v.modifiers.not_negation.iter().map(|p| fold(p)));
            corrections.extend(v.modifiers.corrections.iter().map(|p| fold(p)));
            not_time_units.extend(v.modifiers.not_time_units.iter().map(|p| fold(p)));
            request_cues.extend(v.request_cues.iter().map(|p| fold(p)));
            unavailable_cues.extend(v.unavailable_cues.iter().map(|p| fold(p)));
            deadline_cues.extend(v.deadline_cues.iter().map(|p| fold(p)));
            contact_cues.extend(v.contact_cues.iter().map(|p| fold(p)));
            cancel_cues.extend(v.cancel_cues.iter().map(|p| fold(p)));
            now_cues.extend(v.now_cues.iter().map(|p| fold(p)));
            consequence_cues.extend(v.consequence_cues.iter().map(|p| fold(p)));
            reason_cues.extend(v.reason_cues.iter().map(|p| fold(p)));
            not_reason.extend(v.not_reason.iter().map(|p| fold(p)));
            for (i, (_, names)) in v.dates.months.by_month().into_iter().enumerate() {
                for name in names {
                    months.insert(fold(name), i as u32 + 1);
                }
            }
            ordinal_suffixes.extend(v.dates.ordinal_suffixes.iter().map(|p| fold(p)));
            not_dates.extend(v.dates.not_dates.iter().map(|p| fold(p)));
            let (mut cardinal_days, mut ordinal_days) = (Vec::new(), Vec::new());
            let mut days: HashMap<String, u32, WordHash> = HashMap::default();
            for (ordinal, words) in [(false, &v.dates.day_words), (true, &v.dates.ordinal_day_words)] {
                for (word, day) in words {
                    let folded = words_of(&fold(word));
                    days.insert(folded.clone(), *day);
                    if ordinal {
                        ordinal_days.push(folded.clone());
                    }
                    cardinal_days.push(folded);
                }
            }
            day_words.push(days);
            days_in_words.push((cardinal_days, ordinal_days));
            for (after_weekday, list) in [(false, &v.dates.day_of_month), (true, &v.dates.after_weekday)] {
                for (i, t) in list.iter().enumerate() {
                    raw_dates.push((after_weekday, t.clone(), i, path, language));
                }
            }
            for (kind, list) in [
                (ClockKind::Between, &v.clock.between),
                (ClockKind::After, &v.clock.after),
                (ClockKind::Before, &v.clock.before),
                (ClockKind::Until, &v.clock.until),
                (ClockKind::At, &v.clock.at),
            ] {
                for (i, t) in list.iter().enumerate() {
                    raw_templates.push((kind, t.clone(), i, path));
                }
            }
        }

        // A time of day: "6", "6:30", "18h30", "six", with an optional marker glued or spaced.
        let mut numbers: Vec<String> = number_words.keys().cloned().collect();
        numbers.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let number_alt =
            numbers.iter().map(|w| regex::escape(w)).chain([r"[0-9]{1,2}".to_string()]).collect::<Vec<_>>();
        let mut markers: Vec<String> = am.iter().chain(&pm).chain(&clock_words).cloned().collect();
        markers.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        markers.dedup();
        let marker_alt = markers
            .iter()
            .map(|m| {
                let p = m.split(' ').map(regex::escape).collect::<Vec<_>>().join(r"\s*");
                if m.ends_with(|c: char| c.is_ascii_alphanumeric()) { format!("{p}(?-u:\\b)") } else { p }
            })
            .collect::<Vec<_>>()
            .join("|");
        let mut minutes: Vec<String> = minute_words.keys().cloned().collect();
        minutes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let minute_alt = minutes
            .iter()
            .map(|w| w.split([' ', '-']).map(regex::escape).collect::<Vec<_>>().join(r"[\s-]+"))
            .collect::<Vec<_>>();
        let time = |n: usize, named: bool| {
            let g = |name: &str| if named { format!("?P<{name}{n}>") } else { "?:".to_string() };
            // Minutes said in words, when the vocabulary has any (an empty class would not compile
            // in the byte-wise mode these patterns run in).
            let minutes_said = if minute_alt.is_empty() {
                String::new()
            } else {
                format!(r"|\s+({w}{alts})(?-u:\b)", w = g("w"), alts = minute_alt.join("|"))
            };
            format!(
                r"(?-u:\b)({h}{numbers})(?:(?::|\.|h)({m}[0-5]\d){minutes_said})?(?:\s*({x}{markers})|(?-u:\b))",
                h = g("h"),
                m = g("m"),
                x = g("x"),
                numbers = number_alt.join("|"),
                markers = if marker_alt.is_empty() { r"[^\s\S]".to_string() } else { marker_alt.clone() },
            )
        };
        let template_pattern = |template: &str, named: bool| {
            let folded = fold(template);
            let mut pieces = Vec::new();
            for (i, piece) in folded.split("{t}").enumerate() {
                if i > 0 {
                    pieces.push(time(i, named));
                }
                if !piece.trim().is_empty() {
                    pieces.push(phrase_pattern(piece.trim()));
                }
            }
            pieces.join(r"\s*")
        };

        let mut alternatives = Vec::new();
        let mut groups = Vec::new();
        // Past weekdays and false friends first: at the same position, they win.
        let weekday_alt = alternation(&weekday_names);
        let mut ignore_patterns = Vec::new();
        if !ignore.is_empty() {
            ignore_patterns.push(alternation(&ignore));
        }
        if !past_before.is_empty() && !weekday_alt.is_empty() {
            ignore_patterns.push(format!(r"(?:{})\s+(?:{})", alternation(&past_before), weekday_alt));
        }
        if !past_after.is_empty() && !weekday_alt.is_empty() {
            ignore_patterns.push(format!(r"(?:{})\s+(?:{})", weekday_alt, alternation(&past_after)));
        }
        if !ignore_patterns.is_empty() {
            groups.push(format!("({})", ignore_patterns.join("|")));
            alternatives.push(Alternative::Ignore);
        }
        let mut templates = Vec::new();
        // Ranges first, then the longer templates, so "from 6 to 9" is not read as "from 6".
        raw_templates.sort_by(|a, b| {
            (a.0 != ClockKind::Between).cmp(&(b.0 != ClockKind::Between)).then(b.1.len().cmp(&a.1.len()))
        });
        for (kind, template, i, path) in raw_templates {
            let invalid = |e: regex::Error| VocabularyError::Invalid {
                path: path.to_path_buf(),
                key: format!("clock.{}[{i}]", format!("{kind:?}").to_lowercase()),
                message: format!("`{template}` does not compile: {e}"),
            };
            let parser = Regex::new(&format!("(?-u)^(?:{})$", template_pattern(&template, true))).map_err(invalid)?;
            groups.push(format!("({})", template_pattern(&template, false)));
            alternatives.push(Alternative::Template(templates.len()));
            templates.push(Template { kind, parser });
        }
        // A time with a marker needs no template: "3 pm works", "6 baje".
        if !marker_alt.is_empty() {
            let parser = Regex::new(&format!(
                r"(?-u)^(?:\b(?P<h1>{})(?:(?::|\.|h)(?P<m1>[0-5]\d))?\s*(?P<x1>{}))$",
                number_alt.join("|"),
                marker_alt
            ))
            .expect("the marked-time pattern compiles");
            groups.push(format!(r"((?-u:\b)(?:{})(?:(?::|\.|h)[0-5]\d)?\s*(?:{}))", number_alt.join("|"), marker_alt));
            alternatives.push(Alternative::Template(templates.len()));
            templates.push(Template { kind: ClockKind::At, parser });
        }
        let literal_phrases: Vec<String> = literals.keys().cloned().collect();
        if !literal_phrases.is_empty() {
            groups.push(format!("({})", alternation(&literal_phrases)));
            alternatives.push(Alternative::Literal);
        }
        // Dates last: at the same position, "15h" is a time and "1 tarikh ke baad" salary day.
        let mut month_names: Vec<String> = months.keys().cloned().collect();
        month_names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let month_alt = alternation(&month_names);
        ordinal_suffixes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        ordinal_suffixes.dedup();
        let suffix_alt = ordinal_suffixes.iter().map(|x| regex::escape(x)).collect::<Vec<_>>().join("|");
        let days_alt: Vec<(String, String)> =
            days_in_words.iter().map(|(cardinal, ordinal)| (alternation(cardinal), alternation(ordinal))).collect();
        let date_pattern = |template: &str, named: bool, language: usize| {
            let (cardinal_alt, ordinal_alt) = &days_alt[language];
            let g = |name: &str| if named { format!("?P<{name}>") } else { "?:".to_string() };
            let mut pieces = Vec::new();
            let folded = fold(template);
            // Days in words only beside a word of the template's own (see `Dates::day_words`).
            let worded = !folded.replace("{d}", "").replace("{o}", "").replace("{m}", "").trim().is_empty();
            let in_words = |alt: &str| if worded && !alt.is_empty() { format!("|{alt}") } else { String::new() };
            let mut rest = folded.as_str();
            while let Some(at) = rest.find('{') {
                let literal = rest[..at].trim();
                if !literal.is_empty() {
                    pieces.push(phrase_pattern(literal));
                }
                let placeholder = &rest[at..at + 3];
                pieces.push(match placeholder {
                    "{m}" => format!(r"(?-u:\b)({}{month_alt})(?-u:\b)", g("m")),
                    "{o}" => {
                        format!(r"(?-u:\b)({}[0-9]{{1,2}}(?:{suffix_alt}){})(?-u:\b)", g("d"), in_words(ordinal_alt))
                    }
                    _ if suffix_alt.is_empty() => {
                        format!(r"(?-u:\b)({}[0-9]{{1,2}}{})(?-u:\b)", g("d"), in_words(cardinal_alt))
                    }
                    _ => {
                        format!(r"(?-u:\b)({}[0-9]{{1,2}}(?:{suffix_alt})?{})(?-u:\b)", g("d"), in_words(cardinal_alt))
                    }
                });
                rest = &rest[at + 3..];
            }
            if !rest.trim().is_empty() {
                pieces.push(phrase_pattern(rest.trim()));
            }
            pieces.join(r"\s*")
        };
        // The longer templates first, so "el {d} de {m}" is not read as "el {d}".
        raw_dates.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let mut dates = Vec::new();
        for (after_weekday, template, i, path, language) in raw_dates {
            let key = if after_weekday { "after_weekday" } else { "day_of_month" };
            let invalid = |e: regex::Error| VocabularyError::Invalid {
                path: path.to_path_buf(),
                key: format!("dates.{key}[{i}]"),
                message: format!("`{template}` does not compile: {e}"),
            };
            let parser =
                Regex::new(&format!("(?-u)^(?:{})$", date_pattern(&template, true, language))).map_err(invalid)?;
            groups.push(format!("({})", date_pattern(&template, false, language)));
            alternatives.push(Alternative::Date(dates.len()));
            dates.push(DateTemplate { parser, after_weekday, language });
        }
        let invalid = |e: String| VocabularyError::Invalid {
            path: loaded.languages[0].1.clone(),
            key: "(all)".into(),
            message: format!("the vocabulary does not compile: {e}"),
        };
        let finder = regex::RegexBuilder::new(&format!("(?-u){}", groups.join("|")))
            // A larger lazy-DFA cache keeps the many alternatives from falling back to the NFA.
            .dfa_size_limit(FINDER_DFA_BYTES)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let alternative_finder = alternative_finder(&groups).map_err(invalid)?;
        Ok(Matcher {
            finder,
            alternative_finder,
            alternatives,
            literals,
            templates,
            dates,
            months,
            day_words,
            weekday_names,
            not_dates,
            number_words,
            minute_words,
            am,
            pm,
            past_markers,
            correction_cues: PhraseIndex::new(corrections.iter().cloned()),
            negation_before,
            negation_after,
            following_before,
            following_after,
            following_one,
            not_negation,
            corrections,
            not_time_units,
            request_cues: PhraseIndex::new(request_cues),
            unavailable_cues: PhraseIndex::new(unavailable_cues),
            deadline_cues: PhraseIndex::new(deadline_cues),
            contact_cues: PhraseIndex::new(contact_cues),
            cancel_cues: PhraseIndex::new(cancel_cues),
            now_cues: PhraseIndex::new(now_cues),
            consequence_cues: PhraseIndex::new(consequence_cues),
            reason_cues: PhraseIndex::new(reason_cues),
            not_reason: PhraseIndex::new(not_reason),
        })
    }

    /// Every time token of `folded`, in order.
    pub fn tokens(&self, folded: &Folded) -> Vec<Token> {
        let text = folded.text.as_str();
        let mut out = Vec::new();
        // The DFA finds the matches; which alternative matched is read on the match only.
        for found in self.finder.find_iter(text) {
            let Some(which) = self.alternative_finder.find(found.as_str()) else { continue };
            let index = which.pattern().as_usize();
            let m = Span {
                start: found.start() + which.start(),
                end: found.start() + which.end(),
                text: &found.as_str()[which.range()],
            };
            let kind = match self.alternatives[index] {
                Alternative::Ignore => continue,
                Alternative::Literal => {
                    let key = m.as_str().split(|c: char| c.is_whitespace() || c == '-').filter(|w| !w.is_empty());
                    let key = key.collect::<Vec<_>>().join(" ");
                    let literal = self
                        .literals
                        .get(&key)
                        .or_else(|| self.literals.get(&m.as_str().split_whitespace().collect::<Vec<_>>().join(" ")));
                    let Some(literal) = literal else { continue };
                    if matches!(literal.kind, TokenKind::Day(_))
                        && self.is_past(text, m.start(), m.end(), &literal.languages)
                    {
                        continue;
                    }
                    literal.kind
                }
                Alternative::Template(t) => match self.parse_clock(&self.templates[t], m.as_str(), text, m.end()) {
                    Some(kind) => kind,
                    None => continue,
                },
                Alternative::Date(t) => match self.parse_date(&self.dates[t], m.as_str(), text, m.start(), m.end()) {
                    Some(kind) => kind,
                    None => continue,
                },
            };
            out.push(Token { kind, start: m.start(), end: m.end() });
        }
        out
    }

    fn parse_clock(&self, template: &Template, matched: &str, text: &str, end: usize) -> Option<TokenKind> {
        let caps = template.parser.captures(matched)?;
        let time = |n: usize| -> Option<(ClockTime, bool)> {
            let hour_text = caps.name(&format!("h{n}"))?.as_str();
            let (hour, is_word) = match hour_text.parse::<u32>() {
                Ok(h) => (h, false),
                Err(_) => (*self.number_words.get(hour_text)?, true),
            };
            let said = caps.name(&format!("w{n}")).map(|w| {
                let words: Vec<&str> =
                    w.as_str().split(|c: char| c.is_whitespace() || c == '-').filter(|p| !p.is_empty()).collect();
                self.minute_words.iter().find(|(k, _)| k.split([' ', '-']).eq(words.iter().copied())).map(|(_, m)| *m)
            });
            let minute = match said {
                Some(said) => said?,
                None => caps.name(&format!("m{n}")).map_or(Some(0), |m| m.as_str().parse().ok())?,
            };
            let marker = caps.name(&format!("x{n}")).map(|x| x.as_str().split_whitespace().collect::<String>());
            let meridiem = match &marker {
                Some(x) if self.am.iter().any(|a| a.replace(' ', "") == *x) => Meridiem::Am,
                Some(x) if self.pm.iter().any(|p| p.replace(' ', "") == *x) => Meridiem::Pm,
                _ => Meridiem::Unknown,
            };
            if hour > 24 || (meridiem != Meridiem::Unknown && !(1..=12).contains(&hour)) {
                return None;
            }
            // A marker glued to a number word is part of another word: Hindi "saath" (with) is
            // not "saat h" (7h); digits may carry one ("7h", "6pm").
            if is_word
                && let (Some(h), Some(x)) = (caps.name(&format!("h{n}")), caps.name(&format!("x{n}")))
                && h.end() == x.start()
            {
                return None;
            }
            let bare =
                marker.is_none() && caps.name(&format!("m{n}")).is_none() && caps.name(&format!("w{n}")).is_none();
            // "at one point": a number word needs a marker unless a template says "after/before".
            if is_word && bare && template.kind == ClockKind::At {
                return None;
            }
            Some((ClockTime { hour, minute, meridiem }, bare))
        };
        let (first, first_bare) = time(1)?;
        let second = if template.kind == ClockKind::Between { Some(time(2)?) } else { None };
        let last_bare = second.map_or(first_bare, |s| s.1);
        if last_bare && self.followed_by(text, end, &self.not_time_units) {
            return None;
        }
        Some(TokenKind::Clock { kind: template.kind, first, second: second.map(|s| s.0) })
    }

    /// The date of a matched date template, or `None` when it is no date: a day outside 1-31,
    /// a number that goes on as a time ("24:00") or a quantity ("the 2nd floor"), or an
    /// after-weekday template with no weekday right before it.
    fn parse_date(
        &self,
        template: &DateTemplate,
        matched: &str,
        text: &str,
        start: usize,
        end: usize,
    ) -> Option<TokenKind> {
        let caps = template.parser.captures(matched)?;
        let said = caps.name("d")?.as_str();
        let digits = said.bytes().take_while(u8::is_ascii_digit).count();
        let day: u32 = if digits > 0 {
            said[..digits].parse().ok()?
        } else {
            *self.day_words[template.language].get(&words_of(said))?
        };
        if !(1..=31).contains(&day) {
            return None;
        }
        let month = match caps.name("m") {
            Some(m) => Some(*self.months.get(&m.as_str().split_whitespace().collect::<Vec<_>>().join(" "))?),
            None => None,
        };
        let next = text[end..].chars().next();
        let after_next = text[end..].chars().nth(1);
        if next == Some(':') || (next == Some('.') && after_next.is_some_and(|c| c.is_ascii_digit())) {
            return None;
        }
        if self.followed_by(text, end, &self.not_time_units) || self.followed_by(text, end, &self.not_dates) {
            return None;
        }
        if template.after_weekday {
            let before = text[..start].trim_end_matches([' ', ',']);
            let after_weekday = self.weekday_names.iter().any(|w| {
                before.ends_with(w.as_str())
                    && before[..before.len() - w.len()].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric())
            });
            if !after_weekday {
                return None;
            }
        }
        // "paid on the 3rd", "close kar diya tha 10 dec ko": a date in the past is no request.
        let every_language: Vec<usize> = (0..self.past_markers.len()).collect();
        if self.is_past(text, start, end, &every_language) {
            return None;
        }
        Some(TokenKind::Day(DayRef::Date { day, month }))
    }

    /// Whether the 2 words before `start` or the 4 after `end` (within the clause) include a
    /// past marker of one of `languages`: "arrived today", Hindi "kal ... aaya tha".
    fn is_past(&self, text: &str, start: usize, end: usize, languages: &[usize]) -> bool {
        let before: Vec<&str> = words(clause_before(text, start)).collect();
        let before = &before[before.len().saturating_sub(2)..];
        let after: Vec<&str> = words(clause_after(text, end)).take(4).collect();
        languages.iter().any(|&l| self.past_markers[l].found_in(before) || self.past_markers[l].found_in(&after))
    }

    /// How the clause(s) around `start..end` read, and whether a cue or a question mark said
    /// so (`false` for a time that only reads as a request because it stands nearly alone).
    pub fn mood(&self, text: &str, start: usize, end: usize) -> (ClauseMood, bool) {
        self.mood_until(text, start, end, text.len())
    }

    /// As [`Self::mood`], with the clause cut at `limit` (where a reason for the time begins).
    pub fn mood_until(&self, text: &str, start: usize, end: usize, limit: usize) -> (ClauseMood, bool) {
        self.mood_within(text, start, end, 0, limit)
    }

    /// As [`Self::mood`], with the clause cut to `from..limit`.
    pub fn mood_within(&self, text: &str, start: usize, end: usize, from: usize, limit: usize) -> (ClauseMood, bool) {
        let before = clause_before(text, start);
        let before = if from > start - before.len() { &text[from.min(start)..start] } else { before };
        let after = clause_after(&text[..limit.max(end)], end);
        let context: Vec<&str> = words(before).chain(words(&text[start..end])).chain(words(after)).collect();
        let own = words(&text[start..end]).count();
        let asks = text[end + after.len()..].trim_start().starts_with('?');
        let has = |cues: &PhraseIndex| cues.found_in(&context);
        let unrefused = self.unrefused(&context);
        // A deadline outranks the generic request cues ("need", "can"), but not a named
        // contact ("call me before you decide on Friday"); an unavailability outranks a bare time.
        let contact = has(&self.contact_cues);
        if has(&self.cancel_cues) {
            (ClauseMood::Cancelled, true)
        } else if !contact && has(&self.deadline_cues) {
            (ClauseMood::Deadline, true)
        } else if contact || self.request_cues.found_in(&unrefused) || has(&self.correction_cues) || asks {
            // A named contact ("test drive", "call") asks for the time as much as "can" does.
            (ClauseMood::Request, true)
        } else if has(&self.unavailable_cues) {
            (ClauseMood::Unavailable, true)
        } else if context.len() <= own + 3 {
            // A bare time ("Saturday morning") answers the question of when.
            (ClauseMood::Request, false)
        } else {
            (ClauseMood::Narrative, false)
        }
    }

    /// Whether the weekday at `start..end` is called the next one ("el siguiente sábado",
    /// "sábado que vem").
    pub fn is_following(&self, text: &str, start: usize, end: usize) -> bool {
        let before = clause_before(text, start).trim_end();
        let after = text[end..].trim_start();
        let ends_with_word = |w: &String| {
            before.ends_with(w.as_str())
                && before[..before.len() - w.len()].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric())
        };
        let starts_with_word = |w: &String| {
            after.starts_with(w.as_str()) && after[w.len()..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric())
        };
        self.following_before.iter().any(ends_with_word) || self.following_after.iter().any(starts_with_word)
    }

    /// Whether `gap`, the text between two time expressions, refuses the first and closes its
    /// clause ("kal nahi, shaam ko", "Saturday no, evening"): the second is not part of it.
    pub fn refuses_and_ends_clause(&self, gap: &str) -> bool {
        let rest = gap.trim_start();
        let word_end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        self.negation_after.iter().any(|n| n == word) && after.trim_start().starts_with([',', '.', ';', '!', '?'])
    }

    /// `tokens` with a weekday added where a phrase stands for the weekday refused just before
    /// it ("not this Saturday, the next one", "este sábado estou ocupado, o próximo"): the
    /// Saturday a week later. The phrase names no weekday of its own, so the finder sees no time
    /// there; one right before a day qualifies that day ("el siguiente sábado", see
    /// [`Self::is_following`]), and one after a weekday that was not refused is about something
    /// else ("Saturday I saw the flat, the next one was better").
    pub fn with_following_one(&self, text: &str, mut tokens: Vec<Token>) -> Vec<Token> {
        let mut added: Vec<Token> = Vec::new();
        let mut phrases: Vec<&String> = self.following_one.iter().collect();
        phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for phrase in phrases {
            for (start, _) in text.match_indices(phrase.as_str()) {
                let end = start + phrase.len();
                let bounded = text[..start].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric())
                    && text[end..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric());
                let taken = tokens.iter().chain(&added).any(|t| t.start < end && start < t.end);
                let Some(named) = tokens.iter().rev().find(|t| t.end <= start) else { continue };
                let TokenKind::Day(DayRef::Weekday(weekday)) = named.kind else { continue };
                if !bounded || taken || start - named.end > FOLLOWING_ONE_GAP {
                    continue;
                }
                let gap = &text[named.end..start];
                let gap_words: Vec<&str> = words(gap).collect();
                let refused = self.is_negated(text, named.start, named.end)
                    || self.says_unavailable(&gap_words)
                    || gap_words
                        .iter()
                        .any(|w| self.negation_before.iter().chain(&self.negation_after).any(|n| n == w));
                let rest = text[end..].trim_start();
                let day_after =
                    tokens.iter().any(|t| t.start == text.len() - rest.len() && matches!(t.kind, TokenKind::Day(_)));
                if refused && !day_after {
                    added.push(Token { kind: TokenKind::Day(DayRef::FollowingWeekday(weekday)), start, end });
                }
            }
        }
        if !added.is_empty() {
            tokens.extend(added);
            tokens.sort_by_key(|t| t.start);
        }
        tokens
    }

    /// Whether the sentence around `start..end` names contact or a meeting ("call me on the
    /// 24th", "June 3rd after 5, call me", "dia 15 posso ir aí").
    pub fn names_contact_around(&self, text: &str, start: usize, end: usize) -> bool {
        let before = text[..start].rsplit(SENTENCE_ENDS).next().unwrap_or("");
        let after = text[end..].split(SENTENCE_ENDS).next().unwrap_or("");
        let context: Vec<&str> = words(before).chain(words(&text[start..end])).chain(words(after)).collect();
        self.contact_cues.found_in(&context)
    }

    /// Whether `text` names contact anywhere ("can you call me?").
    pub fn names_contact(&self, text: &str) -> bool {
        self.contact_cues.found_in(&words(text).collect::<Vec<_>>())
    }

    /// Whether `words` say the customer is taken ("I'm at work", "tô em reunião").
    pub fn says_unavailable(&self, words: &[&str]) -> bool {
        self.unavailable_cues.found_in(words)
    }

    /// Whether the clause around `start..end` says the customer is taken then ("I'm at work in
    /// the morning", "subah college mein hota hoon").
    pub fn says_unavailable_around(&self, text: &str, start: usize, end: usize) -> bool {
        let clause: Vec<&str> = words(clause_before(text, start))
            .chain(words(&text[start..end]))
            .chain(words(clause_after(text, end)))
            .collect();
        self.says_unavailable(&clause)
    }

    /// Which of `mentions` (spans of `text`, in order; `part_only[i]` when the i-th names a part
    /// of the day and nothing else) are a part of the day the customer says they are taken in,
    /// in a clause that may also ask for a time: "call me back tomorrow after lunch I'm in
    /// meetings all morning", "llámame mañana por la tarde por la mañana trabajo". Each
    /// unavailability belongs to the time named nearest it in its clause, the later one on a tie
    /// ("call me in the morning I'm at work in the afternoon" refuses the afternoon). It refuses
    /// that time when it is a part of the day alone, nothing asks for a time or draws a
    /// consequence between them ("subah koi ghar pe nahi hota toh shaam ko"), and, when the
    /// unavailability comes after it, nothing asked for it before it either ("call me in the
    /// evening, I'm at work"). An unavailability negated ("not busy in the morning") or put now
    /// ("I'm at work now") refuses nothing.
    pub fn taken_parts(&self, text: &str, mentions: &[(usize, usize)], part_only: &[bool]) -> Vec<bool> {
        let mut taken = vec![false; mentions.len()];
        if !part_only.contains(&true) {
            return taken;
        }
        let spans = word_spans(text);
        let all: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        let asks = |words: &[&str]| {
            self.contact_cues.found_in(words)
                || self.request_cues.found_in(words)
                || self.consequence_cues.found_in(words)
        };
        for (first, last) in self.unavailable_cues.occurrences(&all) {
            let around = &all[first.saturating_sub(NOW_REACH)..(last + 1 + NOW_REACH).min(all.len())];
            if (first > 0 && self.negation_before.iter().any(|n| n == all[first - 1])) || self.now_cues.found_in(around)
            {
                continue;
            }
            let (cue_start, cue_end) = (spans[first].0, spans[last].1);
            let in_clause = |from: usize, to: usize| !text[from..to].contains(CLAUSE_ENDS);
            let words_between = |from: usize, to: usize| -> Vec<&str> { words(&text[from..to]).collect() };
            let before = mentions
                .iter()
                .rposition(|m| m.1 <= cue_start)
                .filter(|&i| in_clause(mentions[i].1, cue_start))
                .map(|i| (i, words_between(mentions[i].1, cue_start), true));
            let after = mentions
                .iter()
                .position(|m| m.0 >= cue_end)
                .filter(|&i| in_clause(cue_end, mentions[i].0))
                .map(|i| (i, words_between(cue_end, mentions[i].0), false));
            let nearest = match (before, after) {
                (Some(b), Some(a)) => Some(if b.1.len() < a.1.len() { b } else { a }),
                (b, a) => a.or(b),
            };
            let Some((i, between, cue_after)) = nearest else { continue };
            let asked_before = || {
                let (start, _) = mentions[i];
                let from = mentions[..i].last().map_or(0, |m| m.1).max(start - clause_before(text, start).len());
                asks(&words_between(from, start))
            };
            if part_only[i] && !asks(&between) && !(cue_after && asked_before()) {
                taken[i] = true;
            }
        }
        taken
    }

    /// Whether the time at `start` is drawn as a consequence of what its clause said before it
    /// ("quinta de manhã tenho reuniões portanto quinta à tarde", "subah office jaati hoon toh
    /// shaam ko"): the time asked for, even in a clause that says the customer is taken.
    pub fn follows_consequence(&self, text: &str, start: usize) -> bool {
        let before: Vec<&str> = words(clause_before(text, start)).collect();
        let near = &before[before.len().saturating_sub(CONSEQUENCE_REACH)..];
        self.consequence_cues.found_in(near)
    }

    /// Where the reason begins when the time at `start..end`, a part of the day, is given as the
    /// reason for the time named before it (ending at `before_end`): a reason word at most
    /// [`REASON_REACH`] words before it, nothing between them that asks for a time, and a rest of
    /// its clause that says something of that time without asking for it ("hoy en la tarde
    /// porque en la mañana tengo junta", "sunday subah hi kyunki bhai ko dopahar mein dukaan
    /// kholni hai"). `None` when it is not a reason ("mañana, prefiero que sea por la tarde").
    pub fn reason_before(&self, text: &str, before_end: usize, start: usize, end: usize) -> Option<usize> {
        if start - before_end > REASON_GAP {
            return None;
        }
        let spans: Vec<(usize, usize)> = word_spans(&text[..start]).into_iter().filter(|s| s.0 >= before_end).collect();
        let gap: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        let (first, last) = self.reasons(&gap).last()?;
        let between = &gap[last + 1..];
        let asks = |words: &[&str]| self.request_cues.found_in(words) || self.contact_cues.found_in(words);
        if between.len() > REASON_REACH || asks(between) {
            return None;
        }
        let after: Vec<&str> = words(clause_after(text, end)).collect();
        (!after.is_empty() && !asks(&self.unrefused(&after))).then_some(spans[first].0)
    }

    /// `words` without those right after a negation: a request word there is refused ("não
    /// consigo", "no puedo").
    fn unrefused<'w>(&self, words: &[&'w str]) -> Vec<&'w str> {
        words
            .iter()
            .enumerate()
            .filter(|&(i, _)| i == 0 || !self.negation_before.iter().any(|n| n == words[i - 1]))
            .map(|(_, w)| *w)
            .collect()
    }

    /// Where a reason word starts in the rest of the clause after `end` ("mañana a la mañana que
    /// estamos en la oficina"): what follows it says why, not whether the time is asked for.
    pub fn reason_after(&self, text: &str, end: usize) -> Option<usize> {
        let after = clause_after(text, end);
        let spans = word_spans(after);
        let found: Vec<&str> = spans.iter().map(|&(s, e)| &after[s..e]).collect();
        let (first, _) = self.reasons(&found).next()?;
        Some(end + spans[first].0)
    }

    /// Where the last reason word between `from` and `to` starts, when no clause ends between
    /// them ("llámame el jueves porque el viernes viajo": the reason before "el viernes").
    pub fn reason_between(&self, text: &str, from: usize, to: usize) -> Option<usize> {
        let gap = &text[from..to];
        if gap.contains(CLAUSE_ENDS) {
            return None;
        }
        let spans = word_spans(gap);
        let found: Vec<&str> = spans.iter().map(|&(s, e)| &gap[s..e]).collect();
        let (first, _) = self.reasons(&found).last()?;
        Some(from + spans[first].0)
    }

    /// The reason words of `words` (first and last word of each): not one inside a phrase that
    /// gives no reason ("tengo que"), nor one that starts "the next one" ("el lunes que viene").
    fn reasons<'w>(&'w self, words: &'w [&str]) -> impl Iterator<Item = (usize, usize)> + 'w {
        let excluded = self.not_reason.occurrences(words);
        self.reason_cues.occurrences(words).into_iter().filter(move |&(first, _)| {
            let following = self.following_after.iter().any(|f| {
                let phrase: Vec<&str> = f.split(' ').collect();
                words[first..].starts_with(&phrase)
            });
            !following && !excluded.iter().any(|&(a, b)| a <= first && first <= b)
        })
    }

    /// Whether the next word after `end` is one of `words`.
    fn followed_by(&self, text: &str, end: usize, words: &[String]) -> bool {
        let rest = text[end..].trim_start_matches([' ', '-']);
        words.iter().any(|w| {
            rest.starts_with(w.as_str()) && rest[w.len()..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric())
        })
    }

    /// Whether the expression at `start..end` is cancelled: "not next week", "kal nahi".
    pub fn is_negated(&self, text: &str, start: usize, end: usize) -> bool {
        let before = &text[..start];
        let clause = before.rsplit(['.', ',', ';', '!', '?', '\n']).next().unwrap_or("");
        let words: Vec<&str> = clause.split_whitespace().collect();
        let last = words.last().copied();
        let second_last = words.len().checked_sub(2).map(|i| words[i]);
        let negator = |w: Option<&str>| w.is_some_and(|w| self.negation_before.iter().any(|n| n == w));
        let preposition = last.is_some_and(|w| self.not_negation.iter().any(|n| n == w));
        if (negator(last) && !preposition) || (negator(second_last) && last.is_some_and(|w| w.len() <= 4)) {
            return true;
        }
        let after = &text[end..];
        let next = after.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| !w.is_empty());
        let directly = after.trim_start().len() < after.len() || after.is_empty();
        directly
            && !after.trim_start().starts_with([',', '.', ';', '!', '?'])
            && next.is_some_and(|w| self.negation_after.iter().any(|n| n == w))
    }
}

/// How many words from an unavailability a word that puts it now may stand ("estoy en el laburo
/// ahora", "ahorita estoy en el trabajo").
const NOW_REACH: usize = 2;

/// How many words a reason word may stand before the part of the day it explains ("kyunki bhai ko
/// dopahar mein").
const REASON_REACH: usize = 2;

/// How far (folded bytes) a reason may stand from the time it explains.
const REASON_GAP: usize = 80;

/// How many words before a time a consequence word may stand ("toh sirf shaam ko", "portanto
/// quinta à tarde").
const CONSEQUENCE_REACH: usize = 3;

/// How far (folded bytes) "the next one" may stand from the weekday it stands for ("this Saturday
/// is no good for me, the next one").
const FOLLOWING_ONE_GAP: usize = 30;

/// The lazy DFA cache of the finder and of [`Matcher::alternative_finder`].
const FINDER_DFA_BYTES: usize = 32 << 20;

/// One pattern per alternative (`groups`, each a capture group of the finder), configured as
/// `regex` configures the finder, so that a search of a text finds what the finder's captures
/// would: the leftmost-first match, and as its pattern the first alternative that takes part
/// (alternation and multiple patterns share leftmost-first priority, and every group is a
/// whole alternative, so the group's span is the match's).
fn alternative_finder(groups: &[String]) -> Result<regex_automata::meta::Regex, String> {
    use regex_automata::meta;
    let patterns: Vec<String> = groups.iter().map(|g| format!("(?-u){g}")).collect();
    meta::Builder::new()
        .configure(
            meta::Config::new()
                // `regex`'s defaults for a `&str` regex, and the finder's cache.
                .nfa_size_limit(Some(10 * (1 << 20)))
                .hybrid_cache_capacity(FINDER_DFA_BYTES)
                .utf8_empty(true)
                // Only the pattern id and the span are read.
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::Implicit),
        )
        .build_many(&patterns)
        .map_err(|e| e.to_string())
}

pub(crate) const CLAUSE_ENDS: [char; 6] = ['.', ';', '!', '?', ',', '\n'];
const SENTENCE_ENDS: [char; 5] = ['.', ';', '!', '?', '\n'];

/// A match placed back in the whole folded text.
struct Span<'t> {
    start: usize,
    end: usize,
    text: &'t str,
}

impl<'t> Span<'t> {
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
    fn as_str(&self) -> &'t str {
        self.text
    }
}

/// The rest of the clause after `end`.
fn clause_after(text: &str, end: usize) -> &str {
    let rest = &text[end..];
    rest.split(CLAUSE_ENDS).next().unwrap_or("")
}

/// The clause before `start`, up to it.
fn clause_before(text: &str, start: usize) -> &str {
    text[..start].rsplit(CLAUSE_ENDS).next().unwrap_or("")
}

/// Whether `c` belongs to a word: [`words`] and [`word_spans`] must split alike, since
/// [`Matcher::taken_parts`] reads one's words at the other's positions.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '\''
}

/// The byte ranges of the words of `text`, as [`words`] splits them.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    spans.extend(start.map(|s| (s, text.len())));
    spans
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty())
}

/// Phrases (words separated by single spaces) filed under their first word, so that whether a
/// list of words holds one of them reads each word once, not every phrase (hundreds of cues)
/// at every word.
#[derive(Debug, Default)]
struct PhraseIndex {
    /// First word -> the phrases starting with it, each split into its words.
    by_first: HashMap<String, Vec<Vec<String>>, WordHash>,
}

impl PhraseIndex {
    fn new(phrases: impl IntoIterator<Item = String>) -> Self {
        let mut by_first: HashMap<String, Vec<Vec<String>>, WordHash> = HashMap::default();
        for phrase in phrases {
            let words: Vec<String> = phrase.split(' ').map(str::to_owned).collect();
            by_first.entry(words[0].clone()).or_default().push(words);
        }
        PhraseIndex { by_first }
    }

    /// Where the phrases occur in `words`: the first and last word of each occurrence.
    fn occurrences(&self, words: &[&str]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let longest = self
                .by_first
                .get(*word)
                .into_iter()
                .flatten()
                .filter(|p| p.len() <= words.len() - i && p.iter().zip(&words[i..]).all(|(a, b)| a == b));
            if let Some(len) = longest.map(Vec::len).max() {
                found.push((i, i + len - 1));
            }
        }
        found
    }

    /// Whether one of the phrases occurs in `words` (as consecutive words).
    fn found_in(&self, words: &[&str]) -> bool {
        if self.by_first.is_empty() {
            return false;
        }
        words.iter().enumerate().any(|(i, word)| {
            self.by_first.get(*word).is_some_and(|phrases| {
                phrases.iter().any(|p| p.len() <= words.len() - i && p.iter().zip(&words[i..]).all(|(a, b)| a == b))
            })
        })
    }
}

fn weekday(index: usize) -> Weekday {
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun][index]
}

/// Every literal phrase of one file with its meaning and its key (for error messages).
fn literal_entries(v: &TimeVocabulary) -> Vec<(String, TokenKind, &String)> {
    let mut out = Vec::new();
    for (i, (day, names)) in v.weekdays.by_day().into_iter().enumerate() {
        for name in names {
            out.push((format!("weekdays.{day}"), TokenKind::Day(DayRef::Weekday(weekday(i))), name));
        }
    }
    let days = [
        ("days.today", DayRef::Today, &v.days.today),
        ("days.tomorrow", DayRef::Tomorrow, &v.days.tomorrow),
        ("days.day_after_tomorrow", DayRef::DayAfterTomorrow, &v.days.day_after_tomorrow),
        ("days.tonight", DayRef::Tonight, &v.days.tonight),
        ("periods.this_weekend", DayRef::ThisWeekend, &v.periods.this_weekend),
        ("periods.next_week", DayRef::NextWeek, &v.periods.next_week),
        ("periods.end_of_month", DayRef::EndOfMonth, &v.periods.end_of_month),
        ("periods.after_salary_day", DayRef::AfterSalaryDay, &v.periods.after_salary_day),
    ];
    for (key, day, list) in days {
        for phrase in list {
            out.push((key.to_string(), TokenKind::Day(day), phrase));
        }
    }
    for (phrase, minutes) in &v.days.from_now {
        out.push(("days.from_now".to_string(), TokenKind::Day(DayRef::FromNow { minutes: *minutes }), phrase));
    }
    let parts = [
        ("morning", Part::Morning, &v.parts_of_day.morning),
        ("afternoon", Part::Afternoon, &v.parts_of_day.afternoon),
        ("evening", Part::Evening, &v.parts_of_day.evening),
        ("night", Part::Night, &v.parts_of_day.night),
    ];
    for (key, part, words) in parts {
        for phrase in &words.words {
            out.push((format!("parts_of_day.{key}.words"), TokenKind::Part { part, standalone: false }, phrase));
        }
        for phrase in &words.standalone {
            out.push((format!("parts_of_day.{key}.standalone"), TokenKind::Part { part, standalone: true }, phrase));
        }
    }
    out
}
