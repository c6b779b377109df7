//! The rules: from vocabulary matches to a brief.
//!
//! Who said it matters: intents, objections, facts and customer signals come from customer
//! turns; `booked` and `promise` from the AI's or an agent's turns. A match is dropped when a
//! negation word governs it ("price is not an issue", "don't cancel"), when its entry's
//! `unless` matches the sentence, or (for `contrast_cancels` entries) when the sentence turns
//! around after it ("not interested in 2BHK but ..."). Facts keep their latest value.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use handoffd_contract::brief::{
    Brief, BriefCustomer, ChannelEvent, Disposition, FactValue, Finding, Reask, Urgency, UrgencyLevel,
};
use handoffd_contract::conversation::{Conversation, Speaker, Turn};

use super::text::{Folded, clause_after, clause_before, sentence_after, sentence_around, shorten, words};
use super::vocabulary::{Category, RawMatch, Vocabulary};
use super::window::FoundWindow;

/// How far back (in words) a negation word reaches.
const NEGATION_REACH: usize = 3;
/// How far forward a post-positive negation ("cancel mat karo") reaches.
const NEGATION_AFTER_REACH: usize = 2;
const EVIDENCE_CHARS: usize = 60;

/// One accepted match.
#[derive(Clone, Debug)]
pub struct Hit {
    pub code: String,
    pub turn: usize,
    /// The phrase as the speaker wrote it.
    pub evidence: String,
    pub value: String,
    /// The sentence around the phrase (for the stated need and the promise).
    pub sentence: String,
    /// Byte offset of the phrase in its turn (orders hits within a turn).
    pub start: usize,
}

/// Everything the vocabulary recognised in the turns before the handoff.
#[derive(Debug, Default)]
pub struct Hits {
    pub intents: Vec<Hit>,
    pub objections: Vec<Hit>,
    pub facts: Vec<Hit>,
    pub signals: Vec<Hit>,
}

impl Hits {
    pub fn signal(&self, code: &str) -> Option<&Hit> {
        self.signals.iter().find(|h| h.code == code)
    }
}

/// Scan turns (`folded`: each of `turns` folded) with the vocabulary; `scratch` is reused
/// between categories to avoid allocation.
pub fn scan(vocabulary: &Vocabulary, turns: &[Turn], folded: &[Folded<'_>]) -> Hits {
    let mut hits = Hits::default();
    let mut scratch = Vec::new();
    for (index, (turn, folded)) in turns.iter().zip(folded).enumerate() {
        if turn.from == Speaker::Customer {
            collect(vocabulary, &vocabulary.intents, folded, index, &mut scratch, &mut hits.intents, true);
            collect(vocabulary, &vocabulary.objections, folded, index, &mut scratch, &mut hits.objections, true);
            collect(vocabulary, &vocabulary.facts, folded, index, &mut scratch, &mut hits.facts, true);
            collect(vocabulary, &vocabulary.signals, folded, index, &mut scratch, &mut hits.signals, false);
        } else {
            collect(vocabulary, &vocabulary.ai_signals, folded, index, &mut scratch, &mut hits.signals, true);
        }
    }
    hits
}

/// The intents a turn's words carry, whoever said it (for the offers a customer accepts).
pub fn collect_intents(vocabulary: &Vocabulary, folded: &Folded<'_>, turn: usize, out: &mut Vec<Hit>) {
    collect(vocabulary, &vocabulary.intents, folded, turn, &mut Vec::new(), out, true);
}

fn collect(
    vocabulary: &Vocabulary,
    category: &Category,
    folded: &Folded<'_>,
    turn: usize,
    scratch: &mut Vec<RawMatch>,
    out: &mut Vec<Hit>,
    with_sentence: bool,
) {
    if category.is_empty() {
        return;
    }
    category.find(&folded.text, scratch);
    // (code, end) of the matches taken in this turn: one phrase matched by two patterns of a
    // code is one finding, not two (two would outweigh a sentence that says more).
    let mut taken: Vec<(&str, usize)> = Vec::new();
    for m in scratch.iter() {
        let entry = &category.entries[m.entry];
        if taken.iter().any(|(code, end)| *code == entry.code && m.start < *end) {
            continue;
        }
        if !accepted(vocabulary, category, folded, m) {
            continue;
        }
        taken.push((entry.code.as_str(), m.end));
        let (vs, ve) = m.value.unwrap_or((m.start, m.end));
        out.push(Hit {
            code: entry.code.clone(),
            turn,
            evidence: shorten(folded.original_span(m.start, m.end), EVIDENCE_CHARS),
            value: shorten(folded.original_span(vs, ve).trim_matches([' ', ',', '.']), EVIDENCE_CHARS),
            // Only findings and promises quote their sentence; customer signals skip the work.
            sentence: if with_sentence {
                sentence_around(
                    folded.original,
                    folded.original_span(0, m.start).len(),
                    folded.original_span(0, m.end).len(),
                    140,
                )
            } else {
                String::new()
            },
            start: m.start,
        });
    }
}

/// Whether a raw match stands after negation, contrast and the entry's own conditions.
fn accepted(vocabulary: &Vocabulary, category: &Category, folded: &Folded<'_>, m: &RawMatch) -> bool {
    let entry = &category.entries[m.entry];
    let text = folded.text.as_str();
    if entry.negatable {
        let before = clause_before(text, m.start);
        // Only the words after the last contrast word: "no, but I want" is not negated.
        let recent: Vec<&str> =
            words(before).rev().take_while(|w| !vocabulary.contrast.contains(*w)).take(NEGATION_REACH).collect();
        if recent.iter().any(|w| vocabulary.negation_before.contains(*w) || w.ends_with("n't")) {
            return false;
        }
        if words(clause_after(text, m.end)).take(NEGATION_AFTER_REACH).any(|w| vocabulary.negation_after.contains(w)) {
            return false;
        }
    }
    if entry.contrast_cancels && words(sentence_after(text, m.end)).any(|w| vocabulary.contrast.contains(w)) {
        return false;
    }
    if let Some(unless) = &entry.unless {
        // The clause around the match: "I land on Friday night" must not cancel "this weekend".
        let start = m.start - clause_before(text, m.start).len();
        let end = m.end + clause_after(text, m.end).len();
        if unless.is_match(&text.as_bytes()[start..end]) {
            return false;
        }
    }
    if let Some(requires) = &entry.requires
        && !requires.is_match(text.as_bytes())
    {
        return false;
    }
    true
}

/// The brief's findings from hits: first evidence per code, in conversation order.
pub fn findings(hits: &[Hit]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for hit in hits {
        if !out.iter().any(|f| f.code == hit.code) {
            out.push(Finding { code: hit.code.clone(), evidence: hit.evidence.clone(), turn: Some(hit.turn) });
        }
    }
    out
}

/// Facts the customer gave: one per fact, the latest value wins (corrections). `resolver`: whether a time
/// resolver read the window (then `window` alone says whether the customer named a time).
pub fn facts(hits: &Hits, window: Option<&FoundWindow>, resolver: bool) -> Vec<FactValue> {
    let mut out: Vec<FactValue> = Vec::new();
    for hit in &hits.facts {
        let value = FactValue { fact: hit.code.clone(), value: hit.value.clone(), turn: Some(hit.turn) };
        match out.iter_mut().find(|f| f.fact == hit.code) {
            // A later statement corrects an earlier one, within a turn too.
            Some(existing) if existing.turn <= value.turn => *existing = value,
            Some(_) => {}
            None => out.push(value),
        }
    }
    // preferred_time is listed exactly when the customer named a time for the next contact: the window, when a
    // resolver read it. A time it did not take for a request ("since your update on Monday", a delivery date)
    // is not one: 340 of 4,939 training cases listed it that way against 48 that it saved (2026-12-06).
    let named = match window {
        Some(found) => {
            Some(FactValue { fact: "preferred_time".into(), value: found.evidence.clone(), turn: Some(found.turn) })
        }
        None if resolver => None,
        None => hits.signals.iter().rfind(|h| h.code == "time_named").map(|h| FactValue {
            fact: "preferred_time".into(),
            value: h.value.clone(),
            turn: Some(h.turn),
        }),
    };
    out.retain(|f| f.fact != "preferred_time");
    out.extend(named);
    out
}

/// The intents after corrections: a "not interested" followed by a later request is dropped.
pub fn settled_intents(hits: &Hits) -> Vec<Hit> {
    let last_positive = hits.intents.iter().filter(|h| h.code != "not_interested").map(|h| h.turn).max();
    hits.intents
        .iter()
        .filter(|h| h.code != "not_interested" || last_positive.is_none_or(|p| p <= h.turn))
        .cloned()
        .collect()
}

fn reason(hit: &Hit) -> Finding {
    Finding { code: hit.code.clone(), evidence: hit.evidence.clone(), turn: Some(hit.turn) }
}

/// Whether the customer has stopped the conversation (not interested, take me off the list)
/// and said nothing positive after it.
pub fn is_closed(hits: &Hits, intents: &[Hit]) -> Option<Finding> {
    let closing = intents
        .iter()
        .filter(|h| h.code == "not_interested")
        .chain(hits.signals.iter().filter(|h| h.code == "stop_contact"))
        .max_by_key(|h| h.turn)?;
    let later_positive = intents.iter().any(|h| h.code != "not_interested" && h.turn > closing.turn);
    (!later_positive).then(|| reason(closing))
}

/// Local calendar facts about a window relative to now.
pub fn window_is_near(window: &FoundWindow, now: chrono::DateTime<chrono::FixedOffset>, tz: Tz) -> bool {
    let today: NaiveDate = now.with_timezone(&tz).date_naive();
    let day = window.window.not_before.with_timezone(&tz).date_naive();
    if day <= today + Duration::days(1) {
        return true;
    }
    // The coming weekend: the next Saturday/Sunday no more than six days away.
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    weekend && day - today <= Duration::days(6)
}

pub fn urgency(
    hits: &Hits,
    intents: &[Hit],
    closed: Option<&Finding>,
    window: Option<&FoundWindow>,
    window_near: bool,
) -> Urgency {
    if let Some(closed) = closed {
        return Urgency { level: UrgencyLevel::Low, reasons: vec![closed.clone()] };
    }
    let mut high: Vec<Finding> = Vec::new();
    let push = |list: &mut Vec<Finding>, f: Finding| {
        if !list.iter().any(|r| r.code == f.code) {
            list.push(f)
        }
    };
    if let Some(found) = window.filter(|_| window_near) {
        push(
            &mut high,
            Finding { code: "near_window".into(), evidence: found.evidence.clone(), turn: Some(found.turn) },
        );
    }
    for hit in &hits.signals {
        let near_cue = hit.code == "near_time" && (window.is_none() || window_near);
        if near_cue || matches!(hit.code.as_str(), "urgent" | "anger") {
            push(&mut high, reason(hit));
        }
    }
    for hit in intents.iter().filter(|h| h.code == "purchase_ready") {
        push(&mut high, reason(hit));
    }
    for hit in hits.objections.iter().filter(|h| h.code == "competitor") {
        push(&mut high, reason(hit));
    }
    if !high.is_empty() {
        return Urgency { level: UrgencyLevel::High, reasons: high };
    }
    let named_time = window.is_some() || hits.signal("time_named").is_some();
    let mut low: Vec<Finding> = Vec::new();
    for hit in &hits.signals {
        let counts = match hit.code.as_str() {
            "low_interest" => true,
            "busy" | "later" => !named_time,
            _ => false,
        };
        if counts {
            push(&mut low, reason(hit));
        }
    }
    for hit in hits.objections.iter().filter(|h| h.code == "timing") {
        push(&mut low, reason(hit));
    }
    if !low.is_empty() {
        return Urgency { level: UrgencyLevel::Low, reasons: low };
    }
    let reasons = match window {
        Some(found) => {
            vec![Finding { code: "named_day".into(), evidence: found.evidence.clone(), turn: Some(found.turn) }]
        }
        None => hits
            .signal("time_named")
            .map(|h| vec![Finding { code: "named_day".into(), evidence: h.evidence.clone(), turn: Some(h.turn) }])
            .unwrap_or_default(),
    };
    Urgency { level: UrgencyLevel::Medium, reasons }
}

pub fn disposition(
    hits: &Hits,
    intents: &[Hit],
    closed: Option<&Finding>,
    urgency: &Urgency,
    named_time: bool,
    first_customer_turn: Option<usize>,
) -> (Disposition, String) {
    if let Some(closed) = closed {
        return (Disposition::ClosedLost, format!("the customer closed the door: \"{}\"", closed.evidence));
    }
    if let Some(hit) = hits.signal("escalate").or_else(|| hits.signal("anger")) {
        return (Disposition::Escalation, format!("needs a senior: \"{}\"", hit.evidence));
    }
    let last_change =
        intents.iter().filter(|h| matches!(h.code.as_str(), "cancel" | "reschedule")).map(|h| h.turn).max();
    if let Some(hit) = hits.signals.iter().rfind(|h| h.code == "booked")
        && first_customer_turn.is_some_and(|first| hit.turn > first)
        && last_change.is_none_or(|turn| turn < hit.turn)
    {
        return (Disposition::Booked, format!("the AI booked it: \"{}\"", hit.evidence));
    }
    if !named_time {
        let cue = hits.signals.iter().find(|h| matches!(h.code.as_str(), "busy" | "later" | "low_interest"));
        if let Some(hit) = cue {
            return (Disposition::Nurture, format!("no committed time: \"{}\"", hit.evidence));
        }
        if urgency.level == UrgencyLevel::Low {
            return (Disposition::Nurture, "low urgency and no committed time".into());
        }
    }
    (Disposition::Callback, "a human must get back to the customer".into())
}

/// Makes the brief's parts agree where the conventions tie them (`eval/README.md`), after the
/// rules and the model have had their say (a vendor's analysis, applied later, still overrides):
/// - urgency follows the disposition: a customer who closed the door or put it off with no
///   committed time is low, one who needs a senior is high (anger, a failure), and a callback or
///   a booking is never low. The disposition is read from the whole conversation (and by the
///   model where it decides), while urgency's cues are single phrases, so the disposition wins;
/// - a property visit is `site_visit` and nothing else: every other visit is
///   `appointment_booking`, so the two never describe one request.
pub fn reconcile(brief: &mut Brief) {
    let level = brief.urgency.level;
    let wanted = match brief.disposition {
        Disposition::ClosedLost | Disposition::Nurture => UrgencyLevel::Low,
        Disposition::Escalation => UrgencyLevel::High,
        Disposition::Callback | Disposition::Booked if level == UrgencyLevel::Low => UrgencyLevel::Medium,
        Disposition::Callback | Disposition::Booked => level,
    };
    if wanted != level {
        brief.notes.push(format!(
            "urgency {} from the disposition {} (the cues said {})",
            wanted.as_str(),
            brief.disposition.as_str(),
            level.as_str()
        ));
        // The cues quoted so far argued for the other level; the disposition's own reason is
        // on the brief's disposition line, so none is quoted here.
        brief.urgency = Urgency { level: wanted, reasons: Vec::new() };
    }
    if brief.intents.iter().any(|f| f.code == "site_visit") {
        brief.intents.retain(|f| f.code != "appointment_booking");
    }
}

/// The customer's sentence that carries the most of what they want: the most intents and facts
/// (a call request is about contact, not need), a sentence that says "need/want" first, then
/// the earliest.
pub fn stated_need(vocabulary: &Vocabulary, hits: &Hits, intents: &[Hit]) -> Option<String> {
    let substantive = || intents.iter().filter(|h| h.code != "callback_request").chain(&hits.facts);
    let mut best: Option<(&Hit, usize)> = None;
    for hit in substantive().chain(&hits.objections) {
        let mut weight = 2 * substantive().filter(|h| h.sentence == hit.sentence).count();
        if vocabulary
            .need_words
            .as_ref()
            .is_some_and(|words| words.is_match(super::text::fold(&hit.sentence).as_bytes()))
        {
            weight += 1;
        }
        let better = match best {
            None => true,
            Some((other, w)) => weight > w || (weight == w && (hit.turn, hit.start) < (other.turn, other.start)),
        };
        if better {
            best = Some((hit, weight));
        }
    }
    best.map(|(hit, _)| hit.sentence.clone())
}

/// What the AI last promised, verbatim-short.
pub fn promised_next_step(hits: &Hits) -> Option<String> {
    hits.signals.iter().rfind(|h| h.code == "promise").map(|h| shorten(&h.sentence, 120))
}

/// Facts of `do_not_ask` that an agent asked again after the handoff, by the vocabulary's `ask`
/// patterns (the trained model's re-ask head, where enabled, decides instead: `model::reask`).
pub fn reasked(vocabulary: &Vocabulary, do_not_ask: &[FactValue], after: &[(usize, &Turn)]) -> Vec<Reask> {
    let mut out: Vec<Reask> = Vec::new();
    for &(index, turn) in after {
        if turn.from != Speaker::Agent {
            continue;
        }
        let folded = Folded::new(&turn.text);
        for (start, part) in split_sentences(&folded.text) {
            let tag = confirm_tag(vocabulary, part);
            for given in do_not_ask {
                if out.iter().any(|r| r.fact == given.fact) {
                    continue;
                }
                let signals = ask_signals(vocabulary, part, tag, &given.fact, Some(given));
                if let (Some(ask), false) = (&signals.ask, signals.confirms()) {
                    let evidence = folded.original_span(start + ask.start, start + ask.end);
                    out.push(Reask {
                        fact: given.fact.clone(),
                        evidence: shorten(evidence, EVIDENCE_CHARS),
                        turn: Some(index),
                    });
                }
            }
        }
    }
    out
}

/// What the vocabulary says of an agent's sentence (folded) and one fact: where a pattern of the
/// fact's `ask` matches, whether the sentence is a confirmation tag ("..., right?"), and whether
/// it states the customer's value ([`confirms_value`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AskSignals {
    pub ask: Option<std::ops::Range<usize>>,
    pub confirm_tag: bool,
    pub states_value: bool,
}

impl AskSignals {
    /// A question that confirms a given value ("40 employees, right?") is not a re-ask.
    pub fn confirms(&self) -> bool {
        self.confirm_tag || self.states_value
    }
}

/// Whether an agent's sentence (folded) is a confirmation tag ("..., right?"), whatever the fact.
pub fn confirm_tag(vocabulary: &Vocabulary, sentence: &str) -> bool {
    vocabulary.confirm_tags.as_ref().is_some_and(|tags| tags.is_match(sentence.as_bytes()))
}

/// `tag`: [`confirm_tag`] of the sentence, read once for all the facts.
pub fn ask_signals(
    vocabulary: &Vocabulary,
    sentence: &str,
    tag: bool,
    fact: &str,
    given: Option<&FactValue>,
) -> AskSignals {
    let ask = vocabulary
        .facts
        .entries
        .iter()
        .filter(|entry| entry.code == fact)
        .filter_map(|entry| entry.ask.as_ref()?.find(sentence.as_bytes()))
        .map(|m| m.start()..m.end())
        .next();
    AskSignals { ask, confirm_tag: tag, states_value: given.is_some_and(|f| confirms_value(sentence, fact, &f.value)) }
}

/// Whether an agent's sentence (folded) states the value of a fact rather than asking for it:
/// it quotes the customer's value (a place, a model, a date: "which part of Baner?" narrows
/// what was given), or, for a fact whose value is a number (a budget, a team's size), it names
/// a number of its own, as a confirmation in other units does ("so about 120 lakh?" for "1.2
/// crore"). Descriptions are not values: "have you tried the reset?" asks again what the
/// customer did.
fn confirms_value(sentence: &str, fact: &str, value: &str) -> bool {
    const DESCRIPTIONS: &[&str] = &["tried_self_service", "issue_details", "patient_details", "preferred_time"];
    let value = super::text::fold(value.trim());
    let quoted = value.chars().filter(|c| c.is_alphanumeric()).count() >= 3 && sentence.contains(value.as_str());
    if quoted && !DESCRIPTIONS.contains(&fact) {
        return true;
    }
    matches!(fact, "budget" | "company_size") && sentence.bytes().any(|b| b.is_ascii_digit())
}

/// Sentences with their byte offsets (a `?` ends one, so "right?" tags only its own question).
pub fn split_sentences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | '\n') {
            let digit_after = text.as_bytes().get(i + 1).is_some_and(u8::is_ascii_digit);
            if c == '.' && digit_after {
                continue;
            }
            out.push((start, &text[start..i + 1]));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, &text[start..]));
    }
    out
}

pub fn customer(conversation: &Conversation) -> BriefCustomer {
    BriefCustomer {
        id: None,
        name: conversation.customer.name.clone(),
        phones: conversation.customer.phones.clone(),
        emails: conversation.customer.emails.clone(),
        crm_contact_id: None,
    }
}

/// One line per channel, most recent first.
pub fn channel_history(conversation: &Conversation, turns: &[Turn]) -> Vec<ChannelEvent> {
    let Some(last) = turns.last() else { return Vec::new() };
    let customer_turns = turns.iter().filter(|t| t.from == Speaker::Customer).count();
    let ai_turns = turns.iter().filter(|t| t.from == Speaker::Ai).count();
    let agent_turns = turns.len() - customer_turns - ai_turns;
    let mut summary = format!(
        "{} {}: {customer_turns} customer, {ai_turns} AI",
        conversation.channel,
        last.at.format("%Y-%m-%d %H:%M")
    );
    if agent_turns > 0 {
        summary.push_str(&format!(", {agent_turns} agent"));
    }
    summary.push_str(" turns");
    if let Some(last_customer) = turns.iter().rfind(|t| t.from == Speaker::Customer) {
        summary.push_str(&format!("; last from the customer: \"{}\"", shorten(&last_customer.text, 60)));
    }
    vec![ChannelEvent { channel: conversation.channel.clone(), at: last.at, summary }]
}

/// An empty brief for a conversation with nothing to act on.
pub fn idle_brief(conversation: &Conversation, turns: &[Turn]) -> Brief {
    Brief {
        customer: customer(conversation),
        source: conversation.source.clone(),
        channel_history: channel_history(conversation, turns),
        stated_need: None,
        intents: Vec::new(),
        urgency: Urgency { level: UrgencyLevel::Low, reasons: Vec::new() },
        disposition: Disposition::Nurture,
        objections: Vec::new(),
        requested_window: None,
        contact_preference: None,
        promised_next_step: None,
        do_not_ask: Vec::new(),
        recommended_owner: None,
        recommended_action: "Nothing to do: the customer has not written or spoken yet.".into(),
        due: None,
        reasked_facts: Vec::new(),
        actionable: false,
        ended_by: None,
        notes: vec!["no customer turn before the handoff".into()],
        language: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(disposition: Disposition, level: UrgencyLevel, intents: &[&str]) -> Brief {
        let conversation: Conversation = serde_json::from_value(serde_json::json!({
            "now": "2026-06-09T18:25:00+05:30", "timezone": "Asia/Kolkata", "channel": "whatsapp", "turns": []
        }))
        .expect("a conversation");
        let mut brief = idle_brief(&conversation, &[]);
        brief.disposition = disposition;
        let cue = Finding { code: "near_time".into(), evidence: "tomorrow".into(), turn: Some(0) };
        brief.urgency = Urgency { level, reasons: vec![cue] };
        brief.intents =
            intents.iter().map(|code| Finding { code: (*code).into(), evidence: "x".into(), turn: Some(0) }).collect();
        brief
    }

    #[test]
    fn urgency_follows_the_disposition_where_the_conventions_tie_them() {
        let cases = [
            (Disposition::ClosedLost, UrgencyLevel::Medium, UrgencyLevel::Low),
            (Disposition::ClosedLost, UrgencyLevel::High, UrgencyLevel::Low),
            (Disposition::Nurture, UrgencyLevel::High, UrgencyLevel::Low),
            (Disposition::Nurture, UrgencyLevel::Medium, UrgencyLevel::Low),
            (Disposition::Escalation, UrgencyLevel::Medium, UrgencyLevel::High),
            (Disposition::Escalation, UrgencyLevel::Low, UrgencyLevel::High),
            (Disposition::Callback, UrgencyLevel::Low, UrgencyLevel::Medium),
            (Disposition::Booked, UrgencyLevel::Low, UrgencyLevel::Medium),
        ];
        for (disposition, before, after) in cases {
            let mut b = brief(disposition, before, &[]);
            reconcile(&mut b);
            assert_eq!(b.urgency.level, after, "{disposition:?} with {before:?}");
            // The cue argued for the old level: it is not quoted for the new one.
            assert!(b.urgency.reasons.is_empty(), "{disposition:?}: {:?}", b.urgency.reasons);
            assert!(b.notes.iter().any(|n| n.contains("from the disposition")), "{:?}", b.notes);
        }
    }

    #[test]
    fn a_callback_or_booking_keeps_its_own_urgency_and_reasons() {
        for (disposition, level) in [
            (Disposition::Callback, UrgencyLevel::High),
            (Disposition::Callback, UrgencyLevel::Medium),
            (Disposition::Booked, UrgencyLevel::High),
        ] {
            let mut b = brief(disposition, level, &[]);
            reconcile(&mut b);
            assert_eq!(b.urgency.level, level);
            assert_eq!(b.urgency.reasons.len(), 1, "the cue stays quoted");
        }
    }

    #[test]
    fn a_time_the_resolver_did_not_take_for_a_request_is_not_a_preferred_time() {
        let named = Hit {
            code: "time_named".into(),
            turn: 0,
            evidence: "on Monday".into(),
            value: "on Monday".into(),
            sentence: "since your update on Monday nothing works".into(),
            start: 0,
        };
        let hits = Hits { signals: vec![named], ..Hits::default() };
        let listed = |facts: Vec<FactValue>| facts.iter().any(|f| f.fact == "preferred_time");
        assert!(!listed(facts(&hits, None, true)), "a resolver found no window: no preferred time");
        assert!(listed(facts(&hits, None, false)), "without a resolver, the vocabulary's signal says it");
    }

    #[test]
    fn a_property_visit_is_not_also_an_appointment() {
        let mut b = brief(Disposition::Callback, UrgencyLevel::High, &["site_visit", "appointment_booking", "pricing"]);
        reconcile(&mut b);
        let codes: Vec<&str> = b.intents.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["site_visit", "pricing"]);
        let mut b = brief(Disposition::Callback, UrgencyLevel::High, &["appointment_booking"]);
        reconcile(&mut b);
        assert_eq!(b.intents.len(), 1, "an appointment alone stays");
    }
}
