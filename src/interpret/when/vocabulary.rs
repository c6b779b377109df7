//! The time vocabulary: one `time.yaml` per language under the vocabulary folder
//! (`en/time.yaml`, `hi-Latn/time.yaml`, ...). Sales ops extend it without touching Rust:
//! phrases are plain words (matched case- and accent-insensitively, any run of spaces), and
//! clock templates put `{t}` where a time of day goes ("after {t}", "{t} baje ke baad").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A time vocabulary that cannot be used, naming the file and the key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VocabularyError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a valid time vocabulary: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("`{path}`: key `{key}`: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
    #[error("no time vocabulary (`<language>/time.yaml`) under `{dir}`")]
    Missing { dir: PathBuf },
}

/// One language's `time.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeVocabulary {
    /// Names of the weekdays, abbreviations included ("monday", "mon", "somvar").
    #[serde(default)]
    pub weekdays: WeekdayNames,
    /// Days named relative to today.
    #[serde(default)]
    pub days: RelativeDays,
    /// Parts of the day.
    #[serde(default)]
    pub parts_of_day: PartsOfDay,
    /// Spans longer than a day.
    #[serde(default)]
    pub periods: Periods,
    /// Dates: a day of the month, with or without its month ("the 24th", "dia 15", "19 de marzo").
    #[serde(default)]
    pub dates: Dates,
    /// Times of day and the phrases around them.
    #[serde(default)]
    pub clock: ClockPhrases,
    /// Words that change the meaning of a nearby time expression.
    #[serde(default)]
    pub modifiers: Modifiers,
    /// Phrases that look like time expressions but are not ("good morning", "segunda vez").
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Phrases that defer without naming a time ("call me later", "I'm busy"): they give no
    /// window, and are listed so the vocabulary documents them and tests can check them.
    #[serde(default)]
    pub no_window: Vec<String>,
    /// Words that mark a clause as asking for a time ("call", "visit", "works", "llámame"):
    /// when a turn names several times, one in such a clause beats one in a clause that only
    /// tells a story ("I land on Friday night").
    #[serde(default)]
    pub request_cues: Vec<String>,
    /// Words that mark a clause as the customer being unavailable ("busy", "ocupada",
    /// "travelling"): a time there is not a request, unless the clause also has a request cue.
    #[serde(default)]
    pub unavailable_cues: Vec<String>,
    /// Words that make a time a deadline for a decision or a purchase, not a time to be
    /// contacted ("decide", "renew", "expires", "decidir", "tak"): "we need to decide by Friday"
    /// is a timeline fact, so a time in such a clause is no window unless the clause also
    /// names contact (`contact_cues`).
    #[serde(default)]
    pub deadline_cues: Vec<String>,
    /// Words that name contact or a meeting ("call", "visit", "demo", "llamar", "milte"): they
    /// keep a time a request even beside a deadline cue ("call me before you decide on Friday").
    #[serde(default)]
    pub contact_cues: Vec<String>,
    /// Words that call a booking off ("cancel", "cancelar"): a time in their clause is the
    /// booking called off ("cancel my cleaning tomorrow at 9"), never a request, even beside a
    /// contact word ("cancel the demo tomorrow").
    #[serde(default)]
    pub cancel_cues: Vec<String>,
    /// Words that put an unavailability at the moment of writing ("now", "ahorita", "agora",
    /// "abhi"): "call me tonight, I'm at work now" is taken now, not tonight.
    #[serde(default)]
    pub now_cues: Vec<String>,
    /// Words that make what follows the consequence of what came before ("that's why", "toh",
    /// "entonces", "então"): "subah koi ghar pe nahi hota toh shaam ko" asks for the evening.
    /// Not English "so": folded, Portuguese "só" (only) is the same word.
    #[serde(default)]
    pub consequence_cues: Vec<String>,
    /// Words that give a reason for what came before ("because", "porque", "kyunki", "pois"):
    /// a part of the day right after one, following a time already named, says when the
    /// customer is taken ("hoy en la tarde porque en la mañana tengo junta"), not a second
    /// request; a time whose clause reads as taken or told only because of its reason is read
    /// without it; a time inside a reason is read from the reason word on ("llámame el jueves
    /// porque el viernes viajo"). Spanish and Portuguese "que" serves too ("liga de manhã que de
    /// tarde eu deito").
    #[serde(default)]
    pub reason_cues: Vec<String>,
    /// Phrases holding a reason word that give no reason ("tengo que", "tenho que": have to).
    #[serde(default)]
    pub not_reason: Vec<String>,
    /// Short acceptances ("yes", "ok", "sí", "haan"). Kept and validated so existing
    /// vocabularies load; the requested window no longer reads them, since a yes to a time the
    /// AI proposed is not a window the customer named (eval/README.md conventions).
    #[serde(default)]
    pub acceptance: Vec<String>,
}

/// Weekday names, Monday first.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekdayNames {
    /// Monday.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday.
    #[serde(default)]
    pub sun: Vec<String>,
}

impl WeekdayNames {
    pub(crate) fn by_day(&self) -> [(&'static str, &Vec<String>); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

/// Days named relative to today.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelativeDays {
    /// Today ("today", "aaj", "hoy", "hoje").
    #[serde(default)]
    pub today: Vec<String>,
    /// The next calendar day ("tomorrow", "kal", "mañana", "amanhã").
    #[serde(default)]
    pub tomorrow: Vec<String>,
    /// Two days from today ("day after tomorrow", "parso").
    #[serde(default)]
    pub day_after_tomorrow: Vec<String>,
    /// Today 18:00-21:00, cut at now ("tonight", "aaj raat", "esta noche").
    #[serde(default)]
    pub tonight: Vec<String>,
    /// A delay from now, in minutes: "in an hour" (60), "ek ghante mein" (60), "daqui a duas
    /// horas" (120): from now plus that delay until 21:00 the same day, as "after N".
    #[serde(default)]
    pub from_now: std::collections::BTreeMap<String, u32>,
}

/// Parts of the day. `words` attach to a named day ("Saturday morning", "kal shaam");
/// `standalone` phrases name a window on their own ("in the morning", "por la tarde").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsOfDay {
    /// 09:00-12:00.
    #[serde(default)]
    pub morning: PartWords,
    /// 12:00-17:00.
    #[serde(default)]
    pub afternoon: PartWords,
    /// 17:00-21:00.
    #[serde(default)]
    pub evening: PartWords,
    /// 18:00-21:00 (like "tonight", on the day it is attached to).
    #[serde(default)]
    pub night: PartWords,
}

/// The phrases of one part of the day.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartWords {
    /// Words that need a day beside them ("morning", "shaam").
    #[serde(default)]
    pub words: Vec<String>,
    /// Phrases that name the part of today (or tomorrow, once it is over) on their own.
    #[serde(default)]
    pub standalone: Vec<String>,
}

/// Spans longer than a day.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Periods {
    /// The coming Saturday and Sunday.
    #[serde(default)]
    pub this_weekend: Vec<String>,
    /// Next Monday 00:00 to the following Sunday 23:59.
    #[serde(default)]
    pub next_week: Vec<String>,
    /// The last 3 days of the current month.
    #[serde(default)]
    pub end_of_month: Vec<String>,
    /// The 1st of next month ("after salary day", "after the 1st", "salary ke baad").
    #[serde(default)]
    pub after_salary_day: Vec<String>,
}

/// Dates. Templates put `{d}` where the day of the month goes (1-31, digits, an ordinal suffix
/// allowed: "24", "24th"), `{o}` where it must carry the suffix ("24th", not "24": "the 3 bed" is
/// no date), and `{m}` where a month name goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    /// Templates that name a date on their own ("the {o}", "dia {d}", "{d} de {m}").
    #[serde(default)]
    pub day_of_month: Vec<String>,
    /// Templates that name a date only right after a weekday ("Saturday 21", "jueves 23",
    /// "Friday 16 ko"): a number alone is too often something else.
    #[serde(default)]
    pub after_weekday: Vec<String>,
    /// Ordinal suffixes glued to the day ("st", "nd", "rd", "th").
    #[serde(default)]
    pub ordinal_suffixes: Vec<String>,
    /// Month names, January first.
    #[serde(default)]
    pub months: MonthNames,
    /// Words right after a day number that make it something else ("the 2nd floor", "the 4th
    /// complaint"), beside `modifiers.not_time_units`.
    #[serde(default)]
    pub not_dates: Vec<String>,
    /// Days of the month said in words ("el quince", "dia vinte", "bees tareekh"): voice
    /// transcripts spell them. Read where `{d}` goes in a template that holds a word of its own
    /// besides the month ("el {d}", "{d} tareekh", not a bare "{d}": "do" and "saat" are also
    /// "give" and seven o'clock).
    #[serde(default)]
    pub day_words: BTreeMap<String, u32>,
    /// Ordinal days in words ("the twentieth", "el primero"), read where `{d}` or `{o}` goes, on
    /// the same terms as `day_words`.
    #[serde(default)]
    pub ordinal_day_words: BTreeMap<String, u32>,
}

/// Month names, January first.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthNames {
    #[serde(default)]
    pub jan: Vec<String>,
    #[serde(default)]
    pub feb: Vec<String>,
    #[serde(default)]
    pub mar: Vec<String>,
    #[serde(default)]
    pub apr: Vec<String>,
    #[serde(default)]
    pub may: Vec<String>,
    #[serde(default)]
    pub jun: Vec<String>,
    #[serde(default)]
    pub jul: Vec<String>,
    #[serde(default)]
    pub aug: Vec<String>,
    #[serde(default)]
    pub sep: Vec<String>,
    #[serde(default)]
    pub oct: Vec<String>,
    #[serde(default)]
    pub nov: Vec<String>,
    #[serde(default)]
    pub dec: Vec<String>,
}

impl MonthNames {
    /// Each month's key and names, January first.
    pub(crate) fn by_month(&self) -> [(&'static str, &Vec<String>); 12] {
        [
            ("jan", &self.jan),
            ("feb", &self.feb),
            ("mar", &self.mar),
            ("apr", &self.apr),
            ("may", &self.may),
            ("jun", &self.jun),
            ("jul", &self.jul),
            ("aug", &self.aug),
            ("sep", &self.sep),
            ("oct", &self.oct),
            ("nov", &self.nov),
            ("dec", &self.dec),
        ]
    }
}

/// Clock phrases. Templates hold `{t}` (once, or twice for ranges) where the time goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockPhrases {
    /// From the time until 21:00 (23:00 from 21:00 on), or until a named end.
    #[serde(default)]
    pub after: Vec<String>,
    /// From now (or the day's opening) until the time.
    #[serde(default)]
    pub before: Vec<String>,
    /// An end named on its own ("free till 11").
    #[serde(default)]
    pub until: Vec<String>,
    /// A range: two `{t}`.
    #[serde(default)]
    pub between: Vec<String>,
    /// A point in time ("at {t}"): the hour that starts there.
    #[serde(default)]
    pub at: Vec<String>,
    /// Markers for times before noon ("am", "a.m.").
    #[serde(default)]
    pub am: Vec<String>,
    /// Markers for times after noon ("pm", "p.m.").
    #[serde(default)]
    pub pm: Vec<String>,
    /// Markers that say "this number is a clock time" without saying am or pm ("baje",
    /// "o'clock", "h" as in "18h").
    #[serde(default)]
    pub clock_words: Vec<String>,
    /// Hours written as words, from 1 to 23 ("six" = 6, "saat" = 7, "dezoito" = 18: a word over
    /// 12 is a 24-hour time).
    #[serde(default)]
    pub number_words: BTreeMap<String, u32>,
    /// Minutes said after the hour ("five thirty", "las 4 y media", "às 5 e meia"): the words
    /// and the minutes they add.
    #[serde(default)]
    pub minute_words: BTreeMap<String, u32>,
}

/// Words that change the meaning of a nearby time expression.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modifiers {
    /// Before a weekday, makes it a past day ("last Tuesday").
    #[serde(default)]
    pub past_before: Vec<String>,
    /// After a weekday, makes it a past day ("el martes pasado").
    #[serde(default)]
    pub past_after: Vec<String>,
    /// Words right around a day that make it a past one: within the 2 words before or the 4
    /// after, in the same clause ("arrived today", Hindi "kal ... aaya tha" is yesterday).
    /// They apply to this language's day words only.
    #[serde(default)]
    pub past_markers: Vec<String>,
    /// Right before a time expression, cancels it ("not next week").
    #[serde(default)]
    pub negation_before: Vec<String>,
    /// Right after a time expression, cancels it ("kal nahi").
    #[serde(default)]
    pub negation_after: Vec<String>,
    /// Prepositions spelled like another language's negation, which do NOT cancel the time
    /// right after them (Portuguese "no sábado" is "on Saturday", Spanish "no" is "not").
    /// A negation before them still does ("não no sábado").
    #[serde(default)]
    pub not_negation: Vec<String>,
    /// Right before a weekday, "the next one" ("el siguiente sábado", "agle sat"): after the
    /// customer named that weekday ("este sábado no puedo"), it is the one a week later.
    #[serde(default)]
    pub following_before: Vec<String>,
    /// Right after a weekday, the same ("sábado que vem", "el sábado siguiente").
    #[serde(default)]
    pub following_after: Vec<String>,
    /// Standing for a weekday just named, the one a week later ("not this Saturday, the next
    /// one", "este sábado não, o próximo"): a phrase with no weekday of its own.
    #[serde(default)]
    pub following_one: Vec<String>,
    /// Between two time expressions, starts a new one even when they could combine
    /// ("Monday... actually Wednesday").
    #[serde(default)]
    pub corrections: Vec<String>,
    /// A number followed by one of these is a quantity, not a time of day ("after 2 weeks",
    /// "from 2 to 3 lakh").
    #[serde(default)]
    pub not_time_units: Vec<String>,
}

/// Every language's vocabulary, in folder-name order.
pub(crate) struct LoadedVocabulary {
    pub languages: Vec<(String, PathBuf, TimeVocabulary)>,
}

/// Reads and validates every `<language>/time.yaml` under `dir`.
pub(crate) fn load_dir(dir: &Path) -> Result<LoadedVocabulary, VocabularyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| VocabularyError::Read { path: dir.to_path_buf(), source })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| VocabularyError::Read { path: dir.to_path_buf(), source })?;
        let path = entry.path().join("time.yaml");
        if path.is_file() {
            files.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    if files.is_empty() {
        return Err(VocabularyError::Missing { dir: dir.to_path_buf() });
    }
    files.sort();
    let mut languages = Vec::with_capacity(files.len());
    for (language, path) in files {
        let text =
            std::fs::read_to_string(&path).map_err(|source| VocabularyError::Read { path: path.clone(), source })?;
        let vocabulary = parse(&path, &text)?;
        languages.push((language, path, vocabulary));
    }
    Ok(LoadedVocabulary { languages })
}

/// Parses and validates one file's text.
pub(crate) fn parse(path: &Path, text: &str) -> Result<TimeVocabulary, VocabularyError> {
    let vocabulary: TimeVocabulary = serde_saphyr::from_str(text)
        .map_err(|e| VocabularyError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
    validate(path, &vocabulary)?;
    Ok(vocabulary)
}

fn validate(path: &Path, v: &TimeVocabulary) -> Result<(), VocabularyError> {
    let invalid = |key: String, message: String| VocabularyError::Invalid { path: path.to_path_buf(), key, message };
    let mut lists: Vec<(String, &Vec<String>)> = Vec::new();
    for (day, names) in v.weekdays.by_day() {
        lists.push((format!("weekdays.{day}"), names));
    }
    lists.extend([
        ("days.today".into(), &v.days.today),
        ("days.tomorrow".into(), &v.days.tomorrow),
        ("days.day_after_tomorrow".into(), &v.days.day_after_tomorrow),
        ("days.tonight".into(), &v.days.tonight),
    ]);
    for (part, words) in [
        ("morning", &v.parts_of_day.morning),
        ("afternoon", &v.parts_of_day.afternoon),
        ("evening", &v.parts_of_day.evening),
        ("night", &v.parts_of_day.night),
    ] {
        lists.push((format!("parts_of_day.{part}.words"), &words.words));
        lists.push((format!("parts_of_day.{part}.standalone"), &words.standalone));
    }
    lists.extend([
        ("periods.this_weekend".into(), &v.periods.this_weekend),
        ("periods.next_week".into(), &v.periods.next_week),
        ("periods.end_of_month".into(), &v.periods.end_of_month),
        ("periods.after_salary_day".into(), &v.periods.after_salary_day),
        ("dates.ordinal_suffixes".into(), &v.dates.ordinal_suffixes),
        ("dates.not_dates".into(), &v.dates.not_dates),
        ("clock.am".into(), &v.clock.am),
        ("clock.pm".into(), &v.clock.pm),
        ("clock.clock_words".into(), &v.clock.clock_words),
        ("modifiers.past_before".into(), &v.modifiers.past_before),
        ("modifiers.past_after".into(), &v.modifiers.past_after),
        ("modifiers.past_markers".into(), &v.modifiers.past_markers),
        ("modifiers.negation_before".into(), &v.modifiers.negation_before),
        ("modifiers.negation_after".into(), &v.modifiers.negation_after),
        ("modifiers.not_negation".into(), &v.modifiers.not_negation),
        ("modifiers.following_before".into(), &v.modifiers.following_before),
        ("modifiers.following_after".into(), &v.modifiers.following_after),
        ("modifiers.following_one".into(), &v.modifiers.following_one),
        ("modifiers.corrections".into(), &v.modifiers.corrections),
        ("modifiers.not_time_units".into(), &v.modifiers.not_time_units),
        ("ignore".into(), &v.ignore),
        ("no_window".into(), &v.no_window),
        ("acceptance".into(), &v.acceptance),
        ("request_cues".into(), &v.request_cues),
        ("unavailable_cues".into(), &v.unavailable_cues),
        ("deadline_cues".into(), &v.deadline_cues),
        ("contact_cues".into(), &v.contact_cues),
        ("cancel_cues".into(), &v.cancel_cues),
        ("now_cues".into(), &v.now_cues),
        ("consequence_cues".into(), &v.consequence_cues),
        ("reason_cues".into(), &v.reason_cues),
        ("not_reason".into(), &v.not_reason),
    ]);
    for (month, names) in v.dates.months.by_month() {
        lists.push((format!("dates.months.{month}"), names));
    }
    for (key, phrases) in &lists {
        for (i, phrase) in phrases.iter().enumerate() {
            if super::fold::fold(phrase).is_empty() {
                return Err(invalid(format!("{key}[{i}]"), "empty phrase".into()));
            }
            if phrase.contains('{') || phrase.contains('}') {
                return Err(invalid(
                    format!("{key}[{i}]"),
                    format!("`{phrase}`: `{{t}}` belongs in clock templates only"),
                ));
            }
        }
    }
    for (phrase, minutes) in &v.days.from_now {
        let key = format!("days.from_now.{phrase}");
        if super::fold::fold(phrase).is_empty() {
            return Err(invalid(key, "empty phrase".into()));
        }
        if *minutes == 0 || *minutes > 12 * 60 {
            return Err(invalid(key, format!("{minutes} minutes: a delay from now is 1 to 720 minutes")));
        }
    }
    let templates = [
        ("clock.after", &v.clock.after, 1),
        ("clock.before", &v.clock.before, 1),
        ("clock.until", &v.clock.until, 1),
        ("clock.between", &v.clock.between, 2),
        ("clock.at", &v.clock.at, 1),
    ];
    for (key, list, wanted) in templates {
        for (i, template) in list.iter().enumerate() {
            let found = template.matches("{t}").count();
            if found != wanted {
                return Err(invalid(
                    format!("{key}[{i}]"),
                    format!("`{template}` must contain `{{t}}` exactly {wanted} time(s), found {found}"),
                ));
            }
            let rest = template.replace("{t}", "");
            if rest.contains('{') || rest.contains('}') {
                return Err(invalid(format!("{key}[{i}]"), format!("`{template}`: only `{{t}}` is a placeholder")));
            }
        }
    }
    for (key, list) in [("dates.day_of_month", &v.dates.day_of_month), ("dates.after_weekday", &v.dates.after_weekday)]
    {
        for (i, template) in list.iter().enumerate() {
            let invalid = |message: String| invalid(format!("{key}[{i}]"), format!("`{template}` {message}"));
            let days = template.matches("{d}").count() + template.matches("{o}").count();
            if days != 1 {
                return Err(invalid(format!("must hold the day (`{{d}}` or `{{o}}`) exactly once, found {days}")));
            }
            let months = template.matches("{m}").count();
            if months > 1 {
                return Err(invalid(format!("may hold `{{m}}` at most once, found {months}")));
            }
            if months == 1 && v.dates.months.by_month().iter().all(|(_, names)| names.is_empty()) {
                return Err(invalid("names a month (`{m}`) but `dates.months` lists none".into()));
            }
            if template.contains("{o}") && v.dates.ordinal_suffixes.is_empty() {
                return Err(invalid("holds `{o}` but `dates.ordinal_suffixes` lists none".into()));
            }
            let rest = template.replace("{d}", "").replace("{o}", "").replace("{m}", "");
            if rest.contains('{') || rest.contains('}') {
                return Err(invalid("may hold only `{d}`, `{o}` and `{m}` as placeholders".into()));
            }
        }
    }
    for (word, n) in &v.clock.minute_words {
        if !(1..=59).contains(n) {
            return Err(invalid(format!("clock.minute_words.{word}"), format!("{n} is not a minute from 1 to 59")));
        }
        if !super::fold::fold(word).chars().all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-') {
            return Err(invalid(format!("clock.minute_words.{word}"), "minute words hold letters only".into()));
        }
    }
    for (key, words) in
        [("dates.day_words", &v.dates.day_words), ("dates.ordinal_day_words", &v.dates.ordinal_day_words)]
    {
        for (word, n) in words {
            if !(1..=31).contains(n) {
                return Err(invalid(format!("{key}.{word}"), format!("{n} is not a day of the month from 1 to 31")));
            }
            if word.trim().is_empty() || word.chars().any(|c| c.is_ascii_digit()) {
                return Err(invalid(format!("{key}.{word}"), "a day in words holds letters only".into()));
            }
        }
    }
    for (word, n) in &v.clock.number_words {
        if !(1..=23).contains(n) {
            return Err(invalid(format!("clock.number_words.{word}"), format!("{n} is not an hour from 1 to 23")));
        }
        if !super::fold::fold(word).chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
            return Err(invalid(format!("clock.number_words.{word}"), "a number word holds letters only".into()));
        }
    }
    Ok(())
}
