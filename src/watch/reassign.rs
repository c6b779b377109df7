//! The seam between the escalation ladder and routing: who takes a task its owner let pass its due time.
//!
//! The ladder needs one question answered, so the seam is one method. [`RouterReassigner`] answers it with
//! routing's own [`Router::reassign`]: the pool's available owners (on shift, not away, under capacity,
//! known to the CRM), the fewest open handoffs first, then the default pool's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::brief::OwnerChoice;

use crate::route::{PoolManager, Router};

/// Another owner for a task, and the pool they were found in (the task's own, or the default pool).
#[derive(Clone, Debug)]
pub struct Reassignment {
    pub owner: OwnerChoice,
    pub pool: String,
}

/// Picks another owner for a task.
#[async_trait]
pub trait Reassigner: Send + Sync {
    /// The next available owner of `pool` at `now`, none of `exclude` (the current owner first); `None` when
    /// nobody else can take it.
    async fn reassign(&self, pool: &str, exclude: &[String], now: DateTime<Utc>) -> Option<Reassignment>;

    /// An owner's name, for messages and the audit trail.
    fn owner_name(&self, owner_id: &str) -> Option<String>;

    /// The manager of `pool` and how to reach them (`routing.managers`, their owner entry's `notify`).
    fn manager_of(&self, pool: &str) -> Option<PoolManager> {
        let _ = pool;
        None
    }
}

/// [`Reassigner`] over the router the daemon routes with.
pub struct RouterReassigner {
    /// The router to ask, read afresh for each question: a reload swaps it for new handoffs and for the
    /// watcher at once.
    current: Box<dyn Fn() -> Arc<Router> + Send + Sync>,
}

impl RouterReassigner {
    /// Always the same router (tests, tools).
    pub fn fixed(router: Arc<Router>) -> Self {
        Self { current: Box::new(move || router.clone()) }
    }

    /// Whatever router `current` gives at the time: the daemon's is the running brief maker's
    /// (`Shared<BriefMaker>`), so a reload's routing (owners, pools, managers) reaches reassignments and
    /// manager notices without a restart.
    pub fn following(current: impl Fn() -> Arc<Router> + Send + Sync + 'static) -> Self {
        Self { current: Box::new(current) }
    }

    fn router(&self) -> Arc<Router> {
        (self.current)()
    }
}

#[async_trait]
impl Reassigner for RouterReassigner {
    async fn reassign(&self, pool: &str, exclude: &[String], now: DateTime<Utc>) -> Option<Reassignment> {
        let decision = match self.router().reassign(pool, exclude, now).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "Could not read the routing state to reassign a task.");
                return None;
            }
        };
        let chosen = decision.owner.as_ref()?;
        let reason = decision.owner_reason()?;
        let owner = OwnerChoice {
            id: if chosen.id.is_empty() { chosen.key.clone() } else { chosen.id.clone() },
            name: chosen.name.clone(),
            rule: decision.rule.clone(),
            reason,
        };
        Some(Reassignment { owner, pool: chosen.pool.clone() })
    }

    fn owner_name(&self, owner_id: &str) -> Option<String> {
        self.router()
            .owners
            .iter()
            .find(|o| o.key == owner_id || o.configured_id.as_deref() == Some(owner_id))
            .and_then(|owner| owner.name.clone())
    }

    fn manager_of(&self, pool: &str) -> Option<PoolManager> {
        self.router().manager_of(pool)
    }
}
