//! The seam between the backtest and routing: everything the backtest asks of a router goes through
//! this file, so pointing the backtest at another routing API changes this file only.
//!
//! The router is today's [`Router`] (one pool in round robin, every owner on business hours). A
//! backtest must not move the stored rotation: [`Rotations`] keeps the positions in memory, and a
//! decision never commits anything.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use handoffd_contract::brief::Brief;

use crate::config::Config;
use crate::interpret::when::BusinessHours;
use crate::route::{Rotation, Router};
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

/// The router a configuration describes (its `routing` and `business` sections).
pub fn router(config: &Config, store: Arc<dyn PipelineStore>) -> anyhow::Result<Router> {
    let timezone = config.business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
    let hours = BusinessHours::parse(&config.business.hours).map_err(|e| anyhow::anyhow!("business.hours: {e}"))?;
    Ok(Router { owners: config.routing.owners.clone(), due: config.routing.due.clone(), timezone, hours, store })
}

/// Round-robin positions, in memory only.
#[derive(Clone, Copy, Debug)]
pub struct Rotations {
    rotation: Rotation,
}

impl Rotations {
    /// Start from the stored position (read, never written), or, when `first_owner` (the owner the first
    /// recorded decision of the period went to) is one of the router's owners, from that owner: replaying the
    /// running rules then gives the recorded owners again, and a candidate's changes are its own.
    pub async fn start(router: &Router, first_owner: Option<&str>) -> anyhow::Result<Self> {
        let mut rotation = router.rotation().await?;
        if let Some(index) = first_owner.and_then(|id| router.owners.iter().position(|o| o.id == id)) {
            rotation.next = index as i64;
        }
        Ok(Self { rotation })
    }
}

/// Route `brief` at `at` as `router` would, taking the next positions of `rotations`.
pub fn decide(router: &Router, brief: &Brief, at: DateTime<Utc>, rotations: &mut Rotations) -> Decision {
    let mut routed = brief.clone();
    routed.recommended_owner = None;
    routed.due = None;
    let mut rotation = rotations.rotation;
    router.route(&mut routed, at, &mut rotation);
    rotations.rotation = Rotation { next: rotation.next + rotation.used as i64, used: 0, ..rotation };
    let owner = routed.recommended_owner.as_ref().map(|o| OwnerRef { id: o.id.clone(), name: o.name.clone() });
    let due = routed.due.as_ref().map(|d| d.at.with_timezone(&Utc));
    let flags = assess(router, owner.as_ref().map(|o| o.id.as_str()), at, due);
    let (rule, reason) = routed.recommended_owner.map(|o| (o.rule, o.reason)).unwrap_or_default();
    Decision { owner, rule, reason, due, flags }
}

/// The flags of a decision already made (a recorded one), judged by `router`'s owners and hours.
pub fn assess(router: &Router, owner: Option<&str>, at: DateTime<Utc>, due: Option<DateTime<Utc>>) -> Flags {
    let on_shift = |instant: DateTime<Utc>| {
        let local = instant.with_timezone(&router.timezone);
        router.hours.next_open(local) == local
    };
    Flags {
        unassigned: owner.is_none(),
        // Today every owner works the business's hours.
        off_shift: owner.is_some() && !on_shift(at),
        // A due time at the closing minute is the shift's last moment, not outside it.
        due_outside_hours: due.is_some_and(|due| !on_shift(due) && !on_shift(due - chrono::Duration::seconds(1))),
    }
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
    let mut scratch = *rotations;
    decide(router, &unasked, at, &mut scratch).due
}

/// The name `router`'s configuration gives an owner id.
pub fn owner_name(router: &Router, id: &str) -> Option<String> {
    router.owners.iter().find(|o| o.id == id).and_then(|o| o.name.clone())
}
