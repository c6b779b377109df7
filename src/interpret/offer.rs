//! Offers the customer accepts: "Would you like to visit the site this weekend?" "Yes, Saturday."
//!
//! The rules read intents in the customer's own words, but a customer who says yes to the AI's
//! offer of a visit, a demo or a brochure wants it as much as one who asked. The vocabulary
//! names which intents can be taken on this way (`offer_intents`) and what a yes sounds like
//! (`accept_replies`); a reply that names a time for the offer is a yes too. A call the AI
//! offered never becomes `callback_request` (the vocabulary refuses it).

use handoffd_contract::conversation::{Speaker, Turn};

use super::engine::{Hit, Hits, collect_intents};
use super::text::Folded;
use super::vocabulary::Vocabulary;

/// Add the intents of AI offers the next customer reply accepts (one hit per code, at the reply).
/// `folded`: each of `turns` folded.
pub fn add_accepted_offers(vocabulary: &Vocabulary, turns: &[Turn], folded: &[Folded<'_>], hits: &mut Hits) {
    if vocabulary.offer_intents.is_empty() {
        return;
    }
    let mut found = Vec::new();
    for (reply, pair) in turns.windows(2).enumerate().map(|(i, pair)| (i + 1, pair)) {
        let (offer, answer) = (&pair[0], &pair[1]);
        if offer.from == Speaker::Customer || answer.from != Speaker::Customer || !is_question(&offer.text) {
            continue;
        }
        if !accepts(vocabulary, &folded[reply], hits, reply) {
            continue;
        }
        let mut offered = Vec::new();
        collect_intents(vocabulary, &folded[reply - 1], reply - 1, &mut offered);
        for hit in offered {
            let known = hits.intents.iter().chain(&found).any(|h: &Hit| h.code == hit.code);
            // The offer is the question's: "visit" in "Visits are free. Your budget?" offers nothing.
            let asked = is_question(&hit.sentence);
            if asked && vocabulary.offer_intents.contains(&hit.code) && !known {
                found.push(Hit { turn: reply, evidence: format!("yes to the AI's \"{}\"", hit.evidence), ..hit });
            }
        }
    }
    if !found.is_empty() {
        hits.intents.extend(found);
        hits.intents.sort_by_key(|h| (h.turn, h.start));
    }
}

/// An offer is a question: a statement ("our agent will call you") asks nothing to accept.
fn is_question(text: &str) -> bool {
    text.contains('?') || text.contains('¿')
}

/// A yes at the start of the reply, or a time named for the offer: without a no before it, and
/// in a reply that neither objects nor asks for something else ("my husband decides; call next
/// week" names a time for a call, not for the visit).
fn accepts(vocabulary: &Vocabulary, folded: &Folded<'_>, hits: &Hits, turn: usize) -> bool {
    if vocabulary.accept_replies.as_ref().is_some_and(|yes| yes.is_match(folded.text.as_bytes())) {
        return true;
    }
    let first_word = folded.text.split(|c: char| !c.is_alphanumeric() && c != '\'').find(|w| !w.is_empty());
    let refuses =
        first_word.is_some_and(|w| vocabulary.negation_before.contains(w) || vocabulary.negation_after.contains(w));
    let elsewhere = hits.intents.iter().chain(&hits.objections).any(|h| h.turn == turn);
    !refuses && !elsewhere && hits.signals.iter().any(|h| h.turn == turn && h.code == "time_named")
}
