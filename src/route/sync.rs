//! The CRM's owners (users), fetched on a schedule and kept in the store, so routing resolves
//! owners named by email to CRM ids and notices one deleted or deactivated between syncs.
//!
//! On a cron schedule (hourly by default, and once at start) the holder of the `owner_sync` lease
//! lists the CRM's owners and replaces the stored list in one statement batch. Each configured
//! owner the CRM does not know, or knows as inactive, is logged as a warning; routing excludes
//! them with that reason in the audit. `handoffd check --online` runs the same comparison.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::crm::{Crm, CrmOwner};
use tokio_util::sync::CancellationToken;

use super::Router;
use super::owners::{OwnerDirectory, resolve_id};
use crate::daemon::supervisor::catch_round;
use crate::lease::{Holding, Lease};
use crate::store::PipelineStore;

/// `routing.owner_sync` when unset: at the top of every hour.
pub const DEFAULT_SCHEDULE: &str = "0 0 * * * *";
/// How long the sync's lease holds (it is renewed at each tick while its holder lives).
pub const OWNER_SYNC_LEASE: Duration = Duration::from_secs(2 * 3600);

pub fn parse_schedule(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression).map_err(|e| {
        format!("`{expression}` is not a cron expression with seconds (sec min hour day month weekday): {e}")
    })
}

/// Fetch the CRM's owners and keep them in the store; returns them.
pub async fn sync_owners(
    crm: &dyn Crm,
    store: &dyn PipelineStore,
    crm_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<CrmOwner>> {
    let owners = crm.list_owners().await?;
    store.replace_crm_owners(crm_id, &owners, now).await?;
    metrics::gauge!("handoffd_crm_owners", "crm" => crm_id.to_owned()).set(owners.len() as f64);
    Ok(owners)
}

/// Each configured owner the CRM's list refuses, as (index under `routing.owners`, key, why).
pub fn unresolved(router: &Router, listed: &[CrmOwner]) -> Vec<(usize, String, String)> {
    let directory = OwnerDirectory::new(listed.iter().cloned());
    router
        .owners
        .iter()
        .enumerate()
        .filter_map(|(i, owner)| {
            let key = if owner.configured_id.is_some() { "id" } else { "email" };
            resolve_id(owner, Some(&directory)).err().map(|why| (i, key.to_owned(), why))
        })
        .collect()
}

/// The scheduled job: one instance at a time (the lease) syncs, at start and then on schedule.
pub struct OwnerSync {
    pub store: Arc<dyn PipelineStore>,
    pub crm: Arc<dyn Crm>,
    pub crm_id: String,
    pub router: crate::daemon::shared::Shared<crate::conversation::BriefMaker>,
    pub schedule: cron::Schedule,
    pub lease: Lease,
}

impl OwnerSync {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.lease.hold(Utc::now()).await {
                Ok(Holding::Held { .. }) => match catch_round("owner_sync", self.once()).await {
                    Ok(count) => tracing::info!(crm = %self.crm_id, owners = count, "Synced the CRM's owners."),
                    Err(error) => tracing::warn!(
                        crm = %self.crm_id, error = %format!("{error:#}"),
                        "Syncing the CRM's owners failed; routing keeps the last list until the next tick."
                    ),
                },
                Ok(Holding::Elsewhere { .. }) => {
                    tracing::debug!(crm = %self.crm_id, "Another instance syncs the CRM's owners.")
                }
                Err(error) => tracing::warn!(crm = %self.crm_id, %error, "Taking the owner sync's lease failed."),
            }
            let wait = self
                .schedule
                .upcoming(Utc)
                .next()
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(error) = self.lease.release(Utc::now()).await {
            tracing::warn!(crm = %self.crm_id, %error, "Releasing the owner sync's lease failed; it expires.");
        }
    }

    async fn once(&self) -> anyhow::Result<usize> {
        let owners = sync_owners(self.crm.as_ref(), self.store.as_ref(), &self.crm_id, Utc::now()).await?;
        let briefs = self.router.get();
        for (i, key, why) in unresolved(&briefs.router, &owners) {
            tracing::warn!(
                owner = %briefs.router.owners[i].key, "routing.owners[{i}].{key}: {why}; routing passes this owner over."
            );
        }
        Ok(owners.len())
    }
}
