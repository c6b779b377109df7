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
use matcher::{ClauseMood, ClockKind, DayRef, Matcher, Part};
use mention::Mention;
use resolve::{Context, Placed};

/// How far after the end of a "before N" a time may stand and still be when the customer is
/// taken rather than a start on the other side of noon.
const TAKEN_AFTER_END_MINUTES: i64 = 120;

/// Evidence longer than this is cut: the brief quotes short.
const MAX_EVIDENCE_CHARS: usize = 80;

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
    /// window ("Saturday works" after "Saturday morning") keeps the narrower one. A yes to a
    /// time the AI proposed names none: the training corpus labels all of those null (14 of
    /// 14 such conversations, across writers), as the convention says (the customer's window).
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
        self.windows_of_customer(turns, now, customer, business, hours).requested
    }

    /// The requested window (as [`Self::requested_window_of_customer`]) and the time the customer
    /// last told in a clause no cue read as a request ([`Windows::told`]).
    pub fn windows_of_customer(
        &self,
        turns: &[WindowTurn<'_>],
        now: DateTime<FixedOffset>,
        customer: chrono_tz::Tz,
        business: chrono_tz::Tz,
        hours: &BusinessHours,
    ) -> Windows {
        let ctx = Context { now: now.with_timezone(&customer), hours, business };
        let mut told: Option<ResolvedWindow> = None;
        // The latest time asked for wins. A time only told in passing ("I land on Friday
        // night", "my wedding is on Saturday", "since your update on Monday") is no request,
        // even when nothing else was asked for: a window must be one the customer named. The
        // last such time is kept as `told`, for the model to judge.
        let mut requested: Option<ResolvedWindow> = None;
        // The day a time of day without one belongs to: the last one named in the same turn,
        // else in the customer's previous turn ("tomorrow?" ... "after 5 please").
        // Likewise a time of day asked for on no day takes a day named alone right after it,
        // in the same turn or the next ("evenings after 8 suit me" ... "Tuesday would be great").
        let mut previous = Carried::default();
        for (at, turn) in turns.iter().enumerate().filter(|(_, t)| t.from == Speaker::Customer) {
            let found_in_turn = self.windows_in(turn, &ctx, "", &mut previous);
            // The AI's slots offered just before, read only when needed.
            let mut offered: Option<Vec<ResolvedWindow>> = None;
            for (found, mood) in found_in_turn {
                if mood == ClauseMood::Narrative {
                    told = Some(found);
                    continue;
                }
                if mood != ClauseMood::Request {
                    continue;
                }
                if requested.is_some() && found.rule.ends_with("at_n") {
                    // Picking one of the slots the AI offered ("a las 16, perfecto") books the
                    // AI's slot; the window stays the one the customer named before.
                    let offered = offered.get_or_insert_with(|| match at.checked_sub(1).map(|i| &turns[i]) {
                        Some(proposal) if proposal.from == Speaker::Ai => {
                            let windows = self.windows_in(proposal, &ctx, "", &mut Carried::default());
                            windows.into_iter().map(|(w, _)| w).collect()
                        }
                        _ => Vec::new(),
                    });
                    if offered.iter().any(|o| o.window == found.window) {
                        continue;
                    }
                }
                requested = match requested.take() {
                    Some(old) if confirms(&found, &old, &ctx) || vaguer_today(&found, &old, &ctx) => Some(old),
                    _ => Some(found),
                };
            }
        }
        Windows { requested, told }
    }

    /// Every window named in one turn, in order, with how its clause reads. A time of day
    /// without a day takes the last day named before it (`carried` holds the previous turn's);
    /// `carried` ends as what this turn leaves to the next: the last day it asked for or
    /// refused ("Tomorrow, but mornings no. Evening is fine"), and its last mention when that
    /// asked for a time of day on no day.
    fn windows_in(
        &self,
        turn: &WindowTurn<'_>,
        ctx: &Context<'_>,
        rule_prefix: &str,
        carried: &mut Carried,
    ) -> Vec<(ResolvedWindow, ClauseMood)> {
        let mut out: Vec<(ResolvedWindow, ClauseMood)> = Vec::new();
        let folded = Folded::new(turn.text);
        let tokens = self.matcher.with_following_one(&folded.text, self.matcher.tokens(&folded));
        let mut day = carried.day.take();
        // A day refused on its own ("Saturday no", "not tomorrow"): it lends itself to no time
        // after it, but "el siguiente sábado" after it is the one a week later.
        let mut refused = carried.refused.take();
        // The part of the day named with that day, which says am or pm of a bare hour after it
        // ("Amanhã de manhã? Depois das 9." is after 9 am).
        let mut day_part = carried.part.take();
        let mut named_day = false;
        // The mention just before, when it asked for a time of day on no day ("Só de tarde."):
        // a day alone right after it is the day of that time ("Na segunda.").
        // (The third field says whether it is this turn's, whose text the evidence may span.)
        let mut timed_before: Option<(Mention, String, bool)> = carried.timed.take().map(|(m, p)| (m, p, false));
        // The window just before, when it has a start and no end ("after 8?"): an end alone
        // right after it closes it ("I'm free till 10").
        let mut open_before: Option<(Mention, String, usize)> = None;
        let mentions = mention::mentions(&self.matcher, &folded.text, &tokens);
        let spans: Vec<(usize, usize)> = mentions.iter().map(|m| m.span).collect();
        let part_only: Vec<bool> = mentions.iter().map(Mention::is_part_only).collect();
        let taken = self.matcher.taken_parts(&folded.text, &spans, &part_only);
        // "hoy en la tarde porque en la mañana tengo junta": a part of the day given as the reason
        // for the time just before it says when the customer is taken, and the earlier time's
        // clause ends where the reason begins (`reason_for_next[i]`: where mention i's clause ends).
        let mut reason_for_next: Vec<Option<usize>> = vec![None; mentions.len()];
        let mut a_reason = vec![false; mentions.len()];
        for i in 1..mentions.len() {
            let (before, m) = (&mentions[i - 1], &mentions[i]);
            let explains = m.part.is_some_and(|p| before.part != Some(p))
                && m.start.is_none()
                && m.end.is_none()
                && (m.day.is_none() || m.day == before.day)
                && !m.negated;
            if explains && let Some(cut) = self.matcher.reason_before(&folded.text, before.span.1, m.span.0, m.span.1) {
                a_reason[i] = true;
                reason_for_next[i - 1] = Some(cut);
            }
        }
        // "llámame el jueves porque el viernes viajo": a time inside the reason given for the one
        // before it is read from the reason on; the request before it does not ask for it.
        let inside_reason_from: Vec<Option<usize>> = (0..mentions.len())
            .map(|i| {
                let before = i.checked_sub(1).map(|b| mentions[b].span.1)?;
                self.matcher.reason_between(&folded.text, before, mentions[i].span.0)
            })
            .collect();
        for (i, (mut m, taken)) in mentions.into_iter().zip(taken).enumerate() {
            let (mut mood, mut cued) = match reason_for_next[i] {
                Some(cut) => self.matcher.mood_until(&folded.text, m.span.0, m.span.1, cut),
                None => {
                    let whole = self.matcher.mood(&folded.text, m.span.0, m.span.1);
                    // "mañana a la mañana que estamos en la oficina": being taken, said as the
                    // reason, is why that time and not another; and a reason that only makes the
                    // clause long ("Saturday morning since on weekdays I'm working") leaves the
                    // time standing nearly alone, the answer to when.
                    match self.matcher.reason_after(&folded.text, m.span.1) {
                        Some(cut) if matches!(whole.0, ClauseMood::Unavailable | ClauseMood::Narrative) => {
                            self.matcher.mood_until(&folded.text, m.span.0, m.span.1, cut)
                        }
                        _ => whole,
                    }
                }
            };
            if let Some(from) = inside_reason_from[i]
                && mood == ClauseMood::Request
                && !a_reason[i]
            {
                let limit = reason_for_next[i].unwrap_or(folded.text.len());
                let (in_reason, reason_cued) = self.matcher.mood_within(&folded.text, m.span.0, m.span.1, from, limit);
                if in_reason != ClauseMood::Request {
                    (mood, cued) = (in_reason, reason_cued);
                }
            }
            if a_reason[i] {
                mood = ClauseMood::Unavailable;
            } else if taken && mood == ClauseMood::Request {
                // "llámame mañana por la tarde por la mañana trabajo": the clause asks for a time,
                // but not this one.
                mood = ClauseMood::Unavailable;
            } else if !taken
                && matches!(mood, ClauseMood::Unavailable | ClauseMood::Narrative)
                && self.matcher.follows_consequence(&folded.text, m.span.0)
            {
                // "de manhã tenho reuniões portanto quinta à tarde", "então sábado de manhã mesmo
                // meu noivo trabalha durante a semana": a time drawn as a consequence is the one
                // chosen.
                mood = ClauseMood::Request;
            }
            if mood == ClauseMood::Deadline && m.day == Some(DayRef::Today) && self.matcher.names_contact(&folded.text)
            {
                // "It expires tomorrow and I want to renew today. Can you call me?": the call
                // is for today.
                mood = ClauseMood::Request;
            }
            // A date alone is most often the event's (the wedding, the move, the flight, the
            // day the hall is wanted): it asks for contact only where its sentence names contact
            // ("call me on the 24th"); otherwise it is told, for the model to judge.
            if mood == ClauseMood::Request
                && matches!(m.day, Some(DayRef::Date { .. }))
                && m.date_weekday.is_none()
                && !self.matcher.names_contact_around(&folded.text, m.span.0, m.span.1)
            {
                mood = ClauseMood::Narrative;
            }
            let asked = mood == ClauseMood::Request && !m.negated;
            let (timed, open) = (timed_before.take(), open_before.take());
            if m.is_end_only() {
                if asked && let Some((opened, prefix, at)) = open {
                    let closed = Mention { end: m.end, span: (opened.span.0, m.span.1), ..opened };
                    if let Some(window) = self.window_of(turn, ctx, &folded, &closed, &prefix) {
                        out[at].0 = window;
                    }
                }
                continue;
            }
            let mut prefix = rule_prefix.to_string();
            let own_day = m.day.is_some();
            // "este sábado no puedo ... el siguiente sábado": the next one after the one named.
            if m.following
                && let Some(DayRef::Weekday(w)) = m.day
                && [day, refused].contains(&Some(DayRef::Weekday(w)))
            {
                m.day = Some(DayRef::FollowingWeekday(w));
            }
            // A part of the day alone ("subah meetings hain") borrows a day only when a cue asks for it.
            let borrows = m.lacks_day() && (cued || m.start.is_some() || m.end.is_some() || m.standalone_part);
            if borrows && let Some(named) = day {
                m.day = Some(named);
                if m.part.is_none()
                    && let Some(part) = day_part
                    && let Some((_, t)) = m.start.or(m.end)
                    && part.reads_hour(t.hour)
                {
                    m.part = Some(part);
                }
                prefix.push_str("day_named_before+");
            } else if own_day && m.negated && m.is_day_only() {
                refused = m.day;
            } else if own_day && (m.negated || matches!(mood, ClauseMood::Request | ClauseMood::Unavailable)) {
                // A day only told in passing ("my wedding is on Saturday", "it expires
                // tomorrow") lends nothing.
                day = m.day;
                day_part = if m.negated { None } else { m.part };
                named_day = true;
            }
            if own_day
                && asked
                && m.is_day_only()
                && let Some((timed, _, this_turn)) = timed
            {
                let span = if this_turn { (timed.span.0, m.span.1) } else { m.span };
                m = Mention { day: m.day, span, ..timed };
                prefix.push_str("day_named_after+");
            }
            if m.negated || !m.is_request() {
                continue;
            }
            // "before 12? I have a meeting from 12", "before three, my kids get home at three
            // thirty": a time at or just after the end asked for is when the customer is taken.
            // (Further after, it is most often the other half of the day: "10 ke baad, 1 se pehle".)
            if let (Some((ClockKind::After | ClockKind::At, from)), Some((ClockKind::Before, to))) = (m.start, m.end)
                && (0..=TAKEN_AFTER_END_MINUTES)
                    .contains(&(i64::from(from.hour * 60 + from.minute) - i64::from(to.hour * 60 + to.minute)))
            {
                m.start = None;
            }
            let placed = self.window_of(turn, ctx, &folded, &m, &prefix).or_else(|| {
                // "after 7, I have a meeting till 6:30": an end before the start is when the
                // customer is taken, not the window's end.
                let open = Mention { end: None, ..m.clone() };
                let told_apart = matches!((m.start, m.end), (Some((ClockKind::After, _)), Some((ClockKind::Until, _))));
                told_apart.then(|| self.window_of(turn, ctx, &folded, &open, &prefix)).flatten()
            });
            let Some(window) = placed else { continue };
            if asked {
                // A clock time alone ("at 8", often an address or a count) waits for no day.
                if m.day.is_none() && (m.part.is_some() || !matches!(m.start, Some((ClockKind::At, _)))) {
                    timed_before = Some((m.clone(), prefix.clone(), true));
                }
                if m.start.is_some() && m.end.is_none() {
                    open_before = Some((m.clone(), prefix.clone(), out.len()));
                }
            }
            out.push((window, mood));
        }
        *carried = Carried {
            // A date is lent within its turn only: one named before ("5 july ko nikalna hai")
            // is most often the event's, not the day of a time asked for in a later turn.
            day: day.filter(|d| named_day && !matches!(d, DayRef::Date { .. })),
            part: day_part.filter(|_| named_day),
            timed: timed_before.filter(|t| t.2).map(|(m, p, _)| (m, p)),
            refused: refused.filter(|d| matches!(d, DayRef::Weekday(_))),
        };
        out
    }

    /// The window of one mention of `turn`, or `None` when it cannot be placed.
    fn window_of(
        &self,
        turn: &WindowTurn<'_>,
        ctx: &Context<'_>,
        folded: &Folded,
        m: &Mention,
        rule_prefix: &str,
    ) -> Option<ResolvedWindow> {
        let Placed { start, end, rule } = resolve::place(ctx, m)?;
        (start <= end).then(|| ResolvedWindow {
            window: TimeWindow { not_before: start.fixed_offset(), not_after: end.fixed_offset() },
            evidence: short(folded.original(turn.text, m.span.0, m.span.1)),
            turn: turn.index,
            rule: format!("{rule_prefix}{rule}"),
        })
    }
}

/// What the resolver read of a conversation's times.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows {
    /// The window the customer asked for.
    pub requested: Option<ResolvedWindow>,
    /// The last time the customer told in a clause that no cue read as a request, neither
    /// refused, nor a deadline, nor when they are taken ("terça de manhã eu levo o carro", "we
    /// want to see it again, Saturday morning if there's an opening"): no window by the rules,
    /// a candidate the model may take for one where it is sure it was asked for.
    pub told: Option<ResolvedWindow>,
}

/// What one customer turn leaves to the next: the day it named (asked for, or refused with a
/// time of day), the weekday it refused on its own, and its last mention when that asked for a
/// time of day on no day.
#[derive(Default)]
struct Carried {
    day: Option<DayRef>,
    part: Option<Part>,
    timed: Option<(Mention, String)>,
    /// The weekday it refused on its own, for "the next one" in the next turn.
    refused: Option<DayRef>,
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
