//! The seam between the escalation ladder and routing: who takes a task its owner let pass its due time.
//!
//! The ladder needs one question answered, so the seam is one method. Today's adapter, [`RouterReassigner`],
//! answers it over `crate::route::Router`'s owner list (round robin, one pool); routing's own
//! `Router::reassign` (pools, shifts, capacity) replaces the adapter, not the ladder.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use handoffd_contract::brief::OwnerChoice;

use crate::route::Router;

/// Picks another owner for a task.
pub trait Reassigner: Send + Sync {
    /// The next available owner of `pool` at `now`, none of `exclude` (the current owner first); `None` when
    /// nobody else can take it.
    fn reassign(&self, pool: &str, exclude: &[String], now: DateTime<Utc>) -> Option<OwnerChoice>;

    /// An owner's name, for messages and the audit trail.
    fn owner_name(&self, owner_id: &str) -> Option<String>;
}

/// [`Reassigner`] over today's router: the owners in their round-robin order, starting after the current owner.
pub struct RouterReassigner(pub Arc<Router>);

impl Reassigner for RouterReassigner {
    fn reassign(&self, pool: &str, exclude: &[String], _now: DateTime<Utc>) -> Option<OwnerChoice> {
        let owners = &self.0.owners;
        // After the current owner in the rotation, so a pool's late tasks spread over it instead of all
        // landing on its first owner.
        let start = exclude
            .first()
            .and_then(|current| owners.iter().position(|owner| &owner.id == current))
            .map_or(0, |i| i + 1);
        let owner = (0..owners.len())
            .map(|offset| &owners[(start + offset) % owners.len()])
            .find(|owner| !exclude.contains(&owner.id))?;
        Some(OwnerChoice {
            id: owner.id.clone(),
            name: owner.name.clone(),
            rule: pool.to_owned(),
            reason: format!("next in the rotation of {} owners after the task's owner", owners.len()),
        })
    }

    fn owner_name(&self, owner_id: &str) -> Option<String> {
        self.0.owners.iter().find(|owner| owner.id == owner_id).and_then(|owner| owner.name.clone())
    }
}
