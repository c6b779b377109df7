//! A handoff's life: which state follows which, and how a message attaches to the customer's open handoff
//! or opens one. The store applies the transitions named here; it decides none of them.
//!
//! ```text
//! (message) ──▶ collecting ──brief, actionable──▶ queued ──task written──▶ open ──reopen_after, or the CRM
//!                                                                                 reports the task done──▶ closed
//!                   ▲  └──brief, nothing to act on──▶ closed     └──dead-lettered──▶ failed ──replayed──▶ queued
//!                   └──── a later message, while collecting, queued or open ────┘
//! ```

use chrono::{DateTime, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::interaction::{Call, CallOutcome, Message};

use crate::store::HandoffState::{Closed, Collecting, Failed, Open, Queued};
use crate::store::{
    ApplySummary, HandoffState, HandoffTouch, HandoffTransition, NewHandoff, PipelineTx, StoreResult, new_record_id,
};

/// A message of the customer's while its handoff is still open (its task not done) brings it back to
/// collecting: the brief is made again and updates the task.
pub const MESSAGE_ARRIVED: HandoffTransition = HandoffTransition { from: &[Collecting, Queued, Open], to: Collecting };
/// A brief with something to act on: its task is queued.
pub const BRIEFED: HandoffTransition = HandoffTransition { from: &[Collecting], to: Queued };
/// A brief with nothing to act on closes the handoff.
pub const NOTHING_TO_ACT_ON: HandoffTransition = HandoffTransition { from: &[Collecting], to: Closed };
/// The task is in the CRM. A handoff collecting again meanwhile stays collecting.
pub const TASK_WRITTEN: HandoffTransition = HandoffTransition { from: &[Queued], to: Open };
/// Its delivery exhausted its retries.
pub const DEAD_LETTERED: HandoffTransition = HandoffTransition { from: &[Queued], to: Failed };
/// `handoffd dlq replay` put its job back in the outbox.
pub const REPLAYED: HandoffTransition = HandoffTransition { from: &[Failed], to: Queued };
/// The CRM reports the task completed (the SLA watcher): a later message starts a new handoff.
pub const TASK_COMPLETED: HandoffTransition = HandoffTransition { from: &[Open], to: Closed };
/// Open longer than `conversation.reopen_after`: a later message starts a new handoff.
pub const EXPIRED: HandoffTransition = HandoffTransition { from: &[Open], to: Closed };

/// How far back a new handoff adopts the customer's unattached AI/agent messages (the AI's
/// opening message before the customer's first reply).
pub const ADOPT_ORPHANS_WITHIN: chrono::Duration = chrono::Duration::hours(24);

/// Why a finished call is no handoff, or `None` when it is one: a call that did not connect
/// (voicemail, a failed dial, no answer, busy) or in which the customer never spoke has nothing
/// for a human to follow up. Such a call joins the customer's history and is counted, but opens
/// or touches no handoff (and is never adopted into one).
pub fn call_without_handoff(call: &Call) -> Option<&'static str> {
    match call.outcome {
        CallOutcome::Connected if call.turns.iter().any(|turn| turn.from == Speaker::Customer) => None,
        CallOutcome::Connected => Some("customer_silent"),
        other => Some(other.as_str()),
    }
}

/// Why a customer's message is no handoff, or `None` when it may be one: a lone emoji reaction
/// (to a business message, or taking one back), a message type the vendor could not deliver
/// (WhatsApp `unsupported`, nothing readable) or a system notice carries no request for a human.
/// Like a call without a handoff, it joins the customer's history and is counted, but opens or
/// touches no handoff (and is never adopted into one). The AI's and agents' messages are not
/// judged here: they never open a handoff on their own.
pub fn message_without_handoff(message: &Message) -> Option<&'static str> {
    if message.from != Speaker::Customer {
        return None;
    }
    match message.kind.as_str() {
        "reaction" => Some("reaction"),
        "unsupported" if message.text.as_deref().is_none_or(|t| t.trim().is_empty()) && message.media.is_empty() => {
            Some("unsupported")
        }
        "system" => Some("system"),
        _ => None,
    }
}

/// What a stored message brings to the customer's handoffs.
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    pub interaction_id: i64,
    pub customer_id: &'a str,
    /// Whether the customer spoke (not the AI or an agent).
    pub from_customer: bool,
    /// This message ends the conversation at once (handoff marker, call ended).
    pub end_signal: Option<&'a str>,
    pub received_at: DateTime<Utc>,
    pub quiet_period: chrono::Duration,
    pub reopen_after: chrono::Duration,
}

/// Attach a stored message to the customer's open handoff, or open one. The AI or an agent writing first
/// opens nothing: the message is kept, and the customer's reply opens the handoff and adopts it.
pub async fn attach_to_handoff(
    tx: &mut dyn PipelineTx,
    arrival: &Arrival<'_>,
    summary: &mut ApplySummary,
) -> StoreResult<()> {
    let received = arrival.received_at;
    let ready_at = match arrival.end_signal {
        Some(_) => received,
        None => received + arrival.quiet_period,
    };
    let open = tx.open_handoff_of(arrival.customer_id, MESSAGE_ARRIVED.from, received - arrival.reopen_after).await?;
    let handoff_id = match open {
        Some(id) => {
            let touch = HandoffTouch {
                state: MESSAGE_ARRIVED.to,
                last_activity_at: received,
                ready_at,
                ended_by: arrival.end_signal,
            };
            tx.touch_handoff(&id, &touch).await?;
            id
        }
        None if arrival.from_customer || arrival.end_signal.is_some() => {
            let id = new_record_id();
            tx.insert_handoff(&NewHandoff {
                id: &id,
                customer_id: arrival.customer_id,
                state: HandoffState::Collecting,
                opened_at: received,
                ready_at,
                ended_by: arrival.end_signal,
            })
            .await?;
            tx.adopt_interactions(&id, arrival.customer_id, received - ADOPT_ORPHANS_WITHIN).await?;
            summary.handoffs_opened += 1;
            id
        }
        None => return Ok(()),
    };
    tx.attach_interaction(arrival.interaction_id, &handoff_id).await
}

/// The transition a brief makes: queued when there is something to act on, else closed.
pub fn after_brief(actionable: bool) -> HandoffTransition {
    if actionable { BRIEFED } else { NOTHING_TO_ACT_ON }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_leaves_its_target_state() {
        for transition in [
            MESSAGE_ARRIVED,
            BRIEFED,
            NOTHING_TO_ACT_ON,
            TASK_WRITTEN,
            DEAD_LETTERED,
            REPLAYED,
            EXPIRED,
            TASK_COMPLETED,
        ] {
            assert!(!transition.from.is_empty(), "{transition:?} applies to no state");
            if transition != MESSAGE_ARRIVED {
                assert!(!transition.applies_to(transition.to), "{transition:?} would loop");
            }
        }
    }

    #[test]
    fn reactions_unreadable_messages_and_notices_are_no_handoff() {
        let message = |kind: &str, text: Option<&str>, from: Speaker| Message {
            from,
            kind: kind.into(),
            text: text.map(str::to_owned),
            ..Message::default()
        };
        assert_eq!(
            message_without_handoff(&message("reaction", Some("Reacted 👍 to a message"), Speaker::Customer)),
            Some("reaction")
        );
        assert_eq!(message_without_handoff(&message("unsupported", None, Speaker::Customer)), Some("unsupported"));
        assert_eq!(
            message_without_handoff(&message("system", Some("changed number"), Speaker::Customer)),
            Some("system")
        );
        // What a person can read is a message: text, a newer type with a body, a button.
        assert_eq!(message_without_handoff(&message("text", Some("👍"), Speaker::Customer)), None);
        assert_eq!(message_without_handoff(&message("poll_vote", Some("Voted: Saturday"), Speaker::Customer)), None);
        assert_eq!(message_without_handoff(&message("unsupported", Some("Saturday works"), Speaker::Customer)), None);
        assert_eq!(message_without_handoff(&message("reaction", Some("Reacted 👍"), Speaker::Ai)), None);
    }

    #[test]
    fn a_closed_or_failed_handoff_takes_no_more_messages() {
        assert!(!MESSAGE_ARRIVED.applies_to(Closed));
        assert!(!MESSAGE_ARRIVED.applies_to(Failed));
        assert_eq!(after_brief(true).to, Queued);
        assert_eq!(after_brief(false).to, Closed);
    }
}
