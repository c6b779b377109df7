//! Groups the tokens of one text into mentions: "kal" + "shaam" + "6 baje ke baad" is one
//! requested time; "Monday ... actually Wednesday" is two, and the later one wins.

use super::matcher::{CLAUSE_ENDS, ClockKind, ClockTime, DayRef, Matcher, Part, Token, TokenKind};

/// Tokens further apart than this (folded bytes) do not describe the same time.
const MAX_GAP: usize = 40;

/// One requested time as the customer put it, before it is placed on the calendar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mention {
    pub day: Option<DayRef>,
    pub part: Option<Part>,
    /// A part of the day that names a window on its own ("in the morning").
    pub standalone_part: bool,
    /// "after N", "at N", or the start of "between N and M".
    pub start: Option<(ClockKind, ClockTime)>,
    /// "before N", "till N", or the end of "between N and M".
    pub end: Option<(ClockKind, ClockTime)>,
    /// Folded byte range covering every token of the mention.
    pub span: (usize, usize),
    /// Cancelled by a negation ("not next week", "mornings no"): no request, but its day still
    /// tells which day a following time of day belongs to ("tomorrow, mornings no; evening").
    pub negated: bool,
    /// The weekday is called the next one ("el siguiente sábado"): see `DayRef::FollowingWeekday`.
    pub following: bool,
    /// The weekday a date was named with ("Thursday the 24th", "jueves 23").
    pub date_weekday: Option<chrono::Weekday>,
}

impl Mention {
    /// Whether the mention names a time at all: a part of the day alone ("the whole
    /// afternoon") is not a request.
    pub fn is_request(&self) -> bool {
        self.day.is_some()
            || self.start.is_some()
            // An end alone ("I'm in the office till 7") says until when the customer is taken,
            // not when to call; "before N" and ranges do ask for a time.
            || matches!(self.end, Some((ClockKind::Before | ClockKind::Between, _)))
            || (self.part.is_some() && self.standalone_part)
    }

    /// Whether the mention is only an end ("till 10"): it closes the window named just before
    /// it, or tells until when the customer is taken.
    pub fn is_end_only(&self) -> bool {
        self.day.is_none()
            && self.part.is_none()
            && self.start.is_none()
            && matches!(self.end, Some((ClockKind::Until, _)))
    }

    /// Whether the mention is a part of the day and nothing else ("in the morning").
    pub fn is_part_only(&self) -> bool {
        self.part.is_some() && self.day.is_none() && self.start.is_none() && self.end.is_none()
    }

    /// Whether the mention is a day and nothing else ("on Monday").
    pub fn is_day_only(&self) -> bool {
        self.day.is_some() && self.part.is_none() && self.start.is_none() && self.end.is_none()
    }

    /// Whether the mention names a time of day but no day ("after 5", "evening"), so that it
    /// belongs to the day named just before it. An end alone ("free till 11") does not: it
    /// closes a window already named or tells when the customer is taken.
    pub fn lacks_day(&self) -> bool {
        self.day.is_none() && (self.part.is_some() || self.is_request())
    }

    /// Adds `token` if it fits; `false` when it starts a new mention.
    fn absorb(&mut self, token: &Token) -> bool {
        match token.kind {
            TokenKind::Day(day) => match self.day {
                None => self.day = Some(day),
                Some(existing) => match combine_days(existing, day) {
                    Some(combined) => {
                        if matches!(combined, DayRef::Date { .. }) {
                            self.date_weekday = self.date_weekday.or(weekday_of(existing)).or(weekday_of(day));
                        }
                        self.day = Some(combined);
                    }
                    None => return false,
                },
            },
            TokenKind::Part { part, standalone } => {
                if self.day == Some(DayRef::Tonight) && matches!(part, Part::Evening | Part::Night) {
                    // "tonight in the evening": nothing to add.
                } else if self.part.is_some() {
                    return false;
                } else {
                    self.part = Some(part);
                    self.standalone_part = standalone;
                }
            }
            TokenKind::Clock { kind, first, second } => match kind {
                ClockKind::After | ClockKind::At => {
                    // "in office till 7, call me after 8": a start after an end alone is
                    // another statement.
                    if self.start.is_some() || matches!(self.end, Some((ClockKind::Until, _))) {
                        return false;
                    }
                    self.start = Some((kind, first));
                }
                ClockKind::Before | ClockKind::Until => {
                    if self.end.is_some() {
                        return false;
                    }
                    self.end = Some((kind, first));
                }
                ClockKind::Between => {
                    if self.start.is_some() || self.end.is_some() {
                        return false;
                    }
                    self.start = Some((kind, first));
                    self.end = Some((kind, second.unwrap_or(first)));
                }
            },
        }
        self.span.1 = token.end;
        true
    }
}

/// The weekday a day word names, if it names one.
fn weekday_of(day: DayRef) -> Option<chrono::Weekday> {
    match day {
        DayRef::Weekday(w) | DayRef::NextWeekday(w) | DayRef::FollowingWeekday(w) => Some(w),
        _ => None,
    }
}

/// Two day words that together name one day ("next week" + "Tuesday").
fn combine_days(a: DayRef, b: DayRef) -> Option<DayRef> {
    use DayRef::*;
    match (a, b) {
        (NextWeek, Weekday(w)) | (Weekday(w), NextWeek) => Some(NextWeekday(w)),
        (ThisWeekend, Weekday(w)) | (Weekday(w), ThisWeekend)
            if matches!(w, chrono::Weekday::Sat | chrono::Weekday::Sun) =>
        {
            Some(Weekday(w))
        }
        (Today, Tonight) | (Tonight, Today) => Some(Tonight),
        // "Thursday the 24th", "quinta dia 24", "next week, the 14th": the date is the day.
        (Weekday(_) | NextWeekday(_) | FollowingWeekday(_) | NextWeek, Date { .. }) => Some(b),
        (Date { .. }, Weekday(_) | NextWeekday(_) | FollowingWeekday(_) | NextWeek) => Some(a),
        // "Saturday or Sunday, both fine": the coming weekend.
        (Weekday(chrono::Weekday::Sat), Weekday(chrono::Weekday::Sun))
        | (Weekday(chrono::Weekday::Sun), Weekday(chrono::Weekday::Sat)) => Some(ThisWeekend),
        _ => None,
    }
}

/// Whether the text between two tokens makes them separate mentions.
fn separated(matcher: &Matcher, gap: &str) -> bool {
    if gap.len() > MAX_GAP || ends_sentence(gap) || matcher.refuses_and_ends_clause(gap) {
        return true;
    }
    let words: Vec<&str> = gap.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    // "mornings I'm at work so Friday after 3": the part of the day before the unavailability
    // is the time refused, not part of the one asked for after it.
    let cue_words: Vec<&str> =
        gap.split(|c: char| !(c.is_ascii_alphanumeric() || c == '\'')).filter(|w| !w.is_empty()).collect();
    if matcher.says_unavailable(&cue_words) {
        return true;
    }
    matcher.corrections.iter().any(|c| {
        let n = c.split(' ').count();
        words.windows(n).any(|w| w.join(" ") == *c)
    })
}

/// Whether two expressions stand side by side: at most one short joining word between them
/// ("or", "o", "ou", "ya", "y", "e", "/").
fn side_by_side(gap: &str) -> bool {
    let words: Vec<&str> = gap.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    !gap.contains([',', '.', ';', '!', '?']) && words.len() <= 1 && words.iter().all(|w| w.len() <= 3)
}

/// Whether `gap` holds the end of a sentence: a time in the next sentence is another
/// statement ("Mornings I'm at work. But tomorrow after three"), though it may borrow this
/// one's day (see `TimeResolver`). A full stop counts when a space or the end follows it, so
/// "5.30" and "a.m." are not sentence ends.
fn ends_sentence(gap: &str) -> bool {
    let bytes = gap.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| match b {
        b'?' | b'!' | b';' | b'\n' => true,
        b'.' => bytes.get(i + 1).is_none_or(|next| next.is_ascii_whitespace()),
        _ => false,
    })
}

/// The mentions of one folded text, in order, negated ones marked; mentions that name no time
/// on their own are kept too (they may borrow a day named before them).
pub(crate) fn mentions(matcher: &Matcher, text: &str, tokens: &[Token]) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut current: Option<Mention> = None;
    for token in tokens {
        if let Some(mention) = current.as_mut() {
            let gap = &text[mention.span.1..token.start];
            // "call after 3, mornings are a rush", "mornings, after 12 I leave": a part of the day
            // and a clock time in the next clause are two statements, not a time and its am or
            // pm (the second still takes the first's day).
            let timed = mention.start.is_some() || mention.end.is_some();
            let next_clause_time = gap.contains(',')
                && match token.kind {
                    TokenKind::Part { .. } => timed,
                    TokenKind::Clock { .. } => mention.part.is_some() && !timed,
                    TokenKind::Day(_) => false,
                };
            // "next week, any day except Monday": a day refused on its own is not part of the
            // time before it.
            let refused_day =
                matches!(token.kind, TokenKind::Day(_)) && matcher.is_negated(text, token.start, token.end);
            // "not tomorrow, call me in the evening": a day refused on its own, then a clause that names
            // a time of its own.
            let day_refused_before =
                mention.is_day_only() && gap.contains(',') && matcher.is_negated(text, mention.span.0, mention.span.1);
            // Saturday and Sunday make the weekend only side by side ("Saturday or Sunday",
            // "sábado/domingo"), not across a clause ("Saturday I work, Sunday we come").
            let far_weekend_days = matches!(
                (mention.day, token.kind),
                (Some(DayRef::Weekday(a)), TokenKind::Day(DayRef::Weekday(b)))
                    if a != b && [a, b].iter().all(|d| matches!(d, chrono::Weekday::Sat | chrono::Weekday::Sun))
            ) && !side_by_side(gap);
            // "I'm at work in the morning, call me tomorrow", "kal call karna, subah college mein
            // hota hoon": a time whose own clause says the customer is taken then is refused,
            // not the part of the day of the time asked for in the next clause. A refused time
            // ("el martes, a la mañana no que trabajo", "no antes de las 3 que estoy en clase")
            // stays with its day: the refusal reads it. A clock time stays too: "after 3, I'm in
            // class till then" is most often the time asked for.
            let mention_part_only = mention.is_part_only();
            let taken_in_one_clause = gap.contains(CLAUSE_ENDS)
                && !matcher.is_negated(text, mention.span.0, mention.span.1)
                && !matcher.is_negated(text, token.start, token.end)
                && ((mention_part_only && matcher.says_unavailable_around(text, mention.span.0, mention.span.1))
                    || (matches!(token.kind, TokenKind::Part { .. })
                        && matcher.says_unavailable_around(text, token.start, token.end)));
            if !separated(matcher, gap)
                && !taken_in_one_clause
                && !next_clause_time
                && !refused_day
                && !day_refused_before
                && !far_weekend_days
                && mention.absorb(token)
            {
                continue;
            }
            out.extend(current.take());
        }
        let mut mention = Mention { span: (token.start, token.end), ..Mention::default() };
        mention.absorb(token);
        current = Some(mention);
    }
    out.extend(current);
    for m in &mut out {
        m.negated = matcher.is_negated(text, m.span.0, m.span.1);
    }
    for token in tokens {
        if let TokenKind::Day(DayRef::Weekday(_)) = token.kind
            && matcher.is_following(text, token.start, token.end)
            && let Some(m) = out.iter_mut().find(|m| m.span.0 <= token.start && token.end <= m.span.1)
        {
            m.following = true;
        }
    }
    out
}
