//! Soft time: what a customer says about WHEN ("Saturday morning", "kal shaam 6 ke baad",
//! "el martes por la mañana", "semana que vem") becomes the requested window of the brief, in
//! the conversation's time zone (DST-correct) and against business hours, following the
//! defaults of `eval/README.md`.
//!
//! Layout:
//! - [`vocabulary`]: the per-language `time.yaml` files and their validation.
//! - `matcher`: the vocabulary compiled into one regex; text to tokens.
//! - `mention`: tokens grouped into requested times ("kal" + "shaam" + "6 ke baad").
//! - `resolve`: a mention placed on the calendar by the conventions.
//! - [`hours`]: business hours, also used by routing for due times.

mod fold;
pub mod hours;
mod local;
mod matcher;
mod mention;
mod resolve;
pub mod vocabulary;

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use handoffd_contract::brief::TimeWindow;
use handoffd_contract::conversation::Speaker;

pub use hours::BusinessHours;
pub use vocabulary::VocabularyError;

use fold::Folded;
use matcher::{ClauseMood, Matcher};
use resolve::{Context, Placed};

/// Evidence longer than this is cut: the brief quotes short.
const MAX_EVIDENCE_CHARS: usize = 80;
/// A customer turn of at most this many words, starting with an acceptance, accepts the
/// AI's proposal ("Yes please", "Sí, por favor").
const MAX_ACCEPTANCE_WORDS: usize = 6;

/// Resolves requested windows; built once from the vocabulary, shared by every brief.
pub struct TimeResolver {
    matcher: Matcher,
}

impl std::fmt::Debug for TimeResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeResolver").finish_non_exhaustive()
    }
}

/// One turn of the conversation as the resolver reads it.
#[derive(Clone, Copy, Debug)]
pub struct WindowTurn<'a> {
    /// 0-based index of the turn in the conversation (the brief's `turn`).
    pub index: usize,
    pub from: Speaker,
    pub text: &'a str,
}

/// The window the customer named, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedWindow {
    pub window: TimeWindow,
    /// The customer's phrase, short ("Saturday morning").
    pub evidence: String,
    /// Index of the turn the phrase is in.
    pub turn: usize,
    /// The convention that placed it ("weekday+part_of_day", "tonight+after_n", ...).
    pub rule: String,
}

impl TimeResolver {
    /// Reads every `<language>/time.yaml` under `vocabulary_dir`; unknown keys, empty
    /// phrases and malformed clock templates are errors naming the file and the key.
    pub fn load(vocabulary_dir: &Path) -> Result<TimeResolver, VocabularyError> {
        let loaded = vocabulary::load_dir(vocabulary_dir)?;
        Ok(TimeResolver { matcher: Matcher::compile(&loaded)? })
    }

    /// The window the customer named for the next call, visit, demo or appointment, or
    /// `None` when they named none ("call me later"). Only customer turns name it, and the
    /// latest statement wins; a later mention that only repeats a wider span of the same
    /// window ("Saturday works" after "Saturday morning") keeps the narrower one. When the
    /// customer named no time at all, a short acceptance of a time the AI proposed in the
    /// turn just before counts as theirs.
    pub fn requested_window(
        &self,
        turns: &[WindowTurn<'_>],
        now: DateTime<FixedOffset>,
        tz: chrono_tz::Tz,
        hours: &BusinessHours,
    ) -> Option<ResolvedWindow> {
        self.requested_window_of_customer(turns, now, tz, tz, hours)
    }

    /// As [`Self::requested_window`], for a customer whose clock (`customer`) is not the
    /// business's (`business`, the zone `hours` are in): the customer's days and parts of the day
    /// are read on their clock; a whole day they name is the business's opening hours of that
    /// date (a day the business is closed is kept as named, on the customer's clock).
    pub fn requested_window_of_customer(
        &self,
        turns: &[WindowTurn<'_>],
        now: DateTime<FixedOffset>,
        customer: chrono_tz::Tz,
        business: chrono_tz::Tz,
        hours: &BusinessHours,
    ) -> Option<ResolvedWindow> {
        let ctx = Context { now: now.with_timezone(&customer), hours, business };
        // The latest time asked for wins. A time only told in passing ("I land on Friday
        // night", "my wedding is on Saturday", "since your update on Monday") is no request,
        // even when nothing else was asked for: a window must be one the customer named.
        let mut requested: Option<ResolvedWindow> = None;
        for turn in turns.iter().filter(|t| t.from == Speaker::Customer) {
            for (found, mood) in self.windows_in(turn, &ctx, "") {
                if mood != ClauseMood::Request {
                    continue;
                }
                requested = match requested.take() {
                    Some(old) if confirms(&found, &old, &ctx) || vaguer_today(&found, &old, &ctx) => Some(old),
                    _ => Some(found),
                };
            }
        }
        requested.or_else(|| self.accepted_proposal(turns, &ctx))
    }

    /// Every window named in one turn, in order, with how its clause reads.
    fn windows_in(
        &self,
        turn: &WindowTurn<'_>,
        ctx: &Context<'_>,
        rule_prefix: &str,
    ) -> Vec<(ResolvedWindow, ClauseMood)> {
        let folded = Folded::new(turn.text);
        let tokens = self.matcher.tokens(&folded);
        if tokens.is_empty() {
            return Vec::new();
        }
        mention::mentions(&self.matcher, &folded.text, &tokens)
            .iter()
            .filter_map(|m| {
                let Placed { start, end, rule } = resolve::place(ctx, m)?;
                let window = ResolvedWindow {
                    window: TimeWindow { not_before: start.fixed_offset(), not_after: end.fixed_offset() },
                    evidence: short(folded.original(turn.text, m.span.0, m.span.1)),
                    turn: turn.index,
                    rule: format!("{rule_prefix}{rule}"),
                };
                (start <= end).then(|| (window, self.matcher.mood(&folded.text, m.span.0, m.span.1)))
            })
            .collect()
    }

    /// The AI's proposed time, when the customer's last short reply accepts it.
    fn accepted_proposal(&self, turns: &[WindowTurn<'_>], ctx: &Context<'_>) -> Option<ResolvedWindow> {
        turns.windows(2).rev().find_map(|pair| {
            let (proposal, reply) = (&pair[0], &pair[1]);
            if proposal.from != Speaker::Ai || reply.from != Speaker::Customer || !self.is_acceptance(reply.text) {
                return None;
            }
            self.windows_in(proposal, ctx, "accepted_ai_proposal+").pop().map(|(window, _)| window)
        })
    }

    fn is_acceptance(&self, text: &str) -> bool {
        let folded = Folded::new(text);
        let words: Vec<&str> =
            folded.text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        if words.is_empty() || words.len() > MAX_ACCEPTANCE_WORDS {
            return false;
        }
        self.matcher.acceptance.iter().any(|a| {
            let n = a.split(' ').count();
            words.len() >= n && words[..n].join(" ") == *a
        })
    }
}

/// Whether `new` only repeats `old` more loosely: it spans all of it ("this weekend" after
/// "Saturday morning"), or it is the whole of the same day ("Saturday works").
fn confirms(new: &ResolvedWindow, old: &ResolvedWindow, ctx: &Context<'_>) -> bool {
    let (n, o) = (&new.window, &old.window);
    let tz = ctx.now.timezone();
    let whole_day = new.rule.ends_with("business_hours") || new.rule.ends_with("closed_day_as_named");
    (n.not_before <= o.not_before && o.not_after <= n.not_after)
        || (whole_day
            && n.not_before.with_timezone(&tz).date_naive() == o.not_before.with_timezone(&tz).date_naive()
            && n.not_after.with_timezone(&tz).date_naive() == o.not_after.with_timezone(&tz).date_naive())
}

/// Whether `new` is a bare "today" (its whole business day) after `old` named another day
/// with a part of it ("visit this Saturday morning? ... call me today"): the named day is the
/// more specific. A whole other day ("vence amanhã ... renovar hoje") is not more specific.
fn vaguer_today(new: &ResolvedWindow, old: &ResolvedWindow, ctx: &Context<'_>) -> bool {
    let tz = ctx.now.timezone();
    let today = ctx.now.date_naive();
    let whole_day = |rule: &str| rule.ends_with("business_hours") || rule.ends_with("closed_day_as_named");
    new.rule.starts_with("today")
        && whole_day(&new.rule)
        && !whole_day(&old.rule)
        && old.window.not_before.with_timezone(&tz).date_naive() != today
}

fn short(phrase: &str) -> String {
    let phrase = phrase.trim();
    match phrase.char_indices().nth(MAX_EVIDENCE_CHARS) {
        Some((cut, _)) => format!("{}…", &phrase[..cut]),
        None => phrase.to_string(),
    }
}
