//! The seam between the backtest and routing: everything the backtest asks of a router goes through
//! this file, so pointing the backtest at another routing API changes this file only.
//!
//! The router is [`Router`] with its rules, pools and owners' calendars. A backtest must not move
//! the stored rotations: [`Rotations`] keeps a [`RoutingRound`] in memory (read once from the store:
//! rotation positions, open handoffs per owner, the synced CRM owners), and a decision never commits
//! anything. Rules that look at the channel see the last channel of the brief's history; the
//! contact's CRM owner (for `sticky`) is not replayed, so sticky rules fall back to their round robin.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use handoffd_contract::brief::Brief;

use crate::config::Config;
use crate::route::{RouteFacts, Router, RoutingRound};
use crate::store::PipelineStore;

/// Who a router would give a handoff to, by which rule, due when, and what is wrong with that.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// `None`: nobody could take it (the task is still written, unassigned).
    pub owner: Option<OwnerRef>,
    pub rule: String,
    pub reason: String,
    pub due: Option<DateTime<Utc>>,
    pub flags: Flags,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub id: String,
    pub name: Option<String>,
}

/// What the backtest reports about a decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// No owner was chosen.
    pub unassigned: bool,
    /// The owner is not on shift when the handoff is routed.
    pub off_shift: bool,
    /// At the due time no owner of the configuration is on shift.
    pub due_outside_hours: bool,
}

/// The router a configuration describes (its `routing`, `business` and `delivery` sections).
pub fn router(config: &Config, store: Arc<dyn PipelineStore>) -> anyhow::Result<Router> {
    Router::from_config(config, Some(store))
}

/// Round-robin positions and open-handoff counts, in memory only.
#[derive(Clone, Debug)]
pub struct Rotations {
    round: RoutingRound,
}

impl Rotations {
    /// Start from the stored positions (read, never written); when `first_owner` (the owner the first
    /// recorded decision of the period went to) is in a pool, that pool starts from that owner:
    /// replaying the running rules then gives the recorded owners again, and a candidate's changes are
    /// its own.
    pub async fn start(router: &Router, first_owner: Option<&str>) -> anyhow::Result<Self> {
        let mut round = router.round().await?;
        if let Some(first) = first_owner {
            for (pool, members) in &router.pools {
                let named = |&i: &usize| {
                    let owner = &router.owners[i];
                    owner.key == first || owner.configured_id.as_deref() == Some(first)
                };
                if let Some(index) = members.iter().position(named) {
                    round.positions.insert(pool.clone(), index as i64);
                }
            }
        }
        Ok(Self { round })
    }
}

/// Route `brief` at `at` as `router` would, taking the next positions of `rotations`.
pub fn decide(router: &Router, brief: &Brief, at: DateTime<Utc>, rotations: &mut Rotations) -> Decision {
    let mut routed = brief.clone();
    routed.recommended_owner = None;
    routed.due = None;
    let facts = RouteFacts {
        channel: brief.channel_history.last().map(|event| event.channel.clone()),
        language: brief.language.clone(),
        ..RouteFacts::default()
    };
    let decision = router.route(&mut routed, &facts, at, &mut rotations.round);
    // What the round handed out becomes its next positions: the next decision continues from there.
    for (pool, used) in rotations.round.advances() {
        *rotations.round.positions.entry(pool).or_insert(0) += used as i64;
    }
    rotations.round.used.clear();
    if let Some(chosen) = &decision.owner {
        *rotations.round.open.entry(chosen.key.clone()).or_insert(0) += 1;
    }
    let owner = decision
        .owner
        .as_ref()
        .map(|o| OwnerRef { id: if o.id.is_empty() { o.key.clone() } else { o.id.clone() }, name: o.name.clone() });
    let due = decision.due.as_ref().map(|d| d.at.with_timezone(&Utc));
    let flags = assess(router, owner.as_ref().map(|o| o.id.as_str()), at, due);
    let reason = routed.recommended_owner.map(|o| o.reason).or(decision.unassigned.clone()).unwrap_or_default();
    Decision { owner, rule: decision.rule, reason, due, flags }
}

/// The flags of a decision already made (a recorded one), judged by `router`'s owners and calendars.
pub fn assess(router: &Router, owner: Option<&str>, at: DateTime<Utc>, due: Option<DateTime<Utc>>) -> Flags {
    let owner_on_shift =
        |id: &str, instant: DateTime<Utc>| find(router, id).is_none_or(|o| o.unavailable(instant).is_none());
    // A due time at the closing minute is the shift's last moment, not outside it.
    let anyone_on_shift = |instant: DateTime<Utc>| {
        router.owners.iter().any(|o| {
            o.unavailable(instant).is_none() || o.unavailable(instant - chrono::Duration::seconds(1)).is_none()
        })
    };
    Flags {
        unassigned: owner.is_none(),
        off_shift: owner.is_some_and(|id| !owner_on_shift(id, at)),
        due_outside_hours: due.is_some_and(|due| !anyone_on_shift(due)),
    }
}

fn find<'a>(router: &'a Router, id: &str) -> Option<&'a crate::route::owners::Owner> {
    router
        .owners
        .iter()
        .find(|o| o.key == id || o.configured_id.as_deref() == Some(id) || o.email.as_deref() == Some(id))
}

/// The latest due time `router`'s urgency policy allows for `brief` routed at `at`: its due time with the
/// customer's requested window left out. The rotation it takes is thrown away.
pub fn policy_deadline(
    router: &Router,
    brief: &Brief,
    at: DateTime<Utc>,
    rotations: &Rotations,
) -> Option<DateTime<Utc>> {
    let mut unasked = brief.clone();
    unasked.requested_window = None;
    let mut scratch = rotations.clone();
    decide(router, &unasked, at, &mut scratch).due
}

/// The name `router`'s configuration gives an owner id.
pub fn owner_name(router: &Router, id: &str) -> Option<String> {
    find(router, id).and_then(|o| o.name.clone())
}
