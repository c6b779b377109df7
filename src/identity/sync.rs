//! The CRM identity cache sync: the one part of `identity` that does I/O.
//!
//! On a cron schedule (and once at start), read the contacts changed in the CRM since the
//! stored cursor, page by page. Each page is stored with the cursor that follows it in one
//! transaction, so the cursor advances only after its page is stored and a crash re-reads at
//! most one page. A vendor that ends with no next cursor (HubSpot on its last page) leaves the
//! stored cursor where it was: the next sync resumes from the last page it read.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use handoffd_contract::crm::Crm;
use tokio_util::sync::CancellationToken;

use super::contact_match_keys;
use crate::store::{CachedContact, Store};

/// Pages read in one sync at most: a first sync of a huge CRM continues at the next tick
/// rather than holding the loop for hours.
const MAX_PAGES_PER_SYNC: usize = 10_000;

pub struct CrmSync {
    pub store: Arc<dyn Store>,
    pub crm: Arc<dyn Crm>,
    pub schedule: cron::Schedule,
    /// The CRM connector's `default_region`, for phones typed without a country code.
    pub default_region: Option<String>,
}

/// What one sync read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub pages: usize,
    pub contacts: usize,
}

/// Parse an `identity.crm_sync` expression, saying which key is wrong.
pub fn parse_schedule(expression: &str) -> anyhow::Result<cron::Schedule> {
    cron::Schedule::from_str(expression)
        .map_err(|e| anyhow::anyhow!("identity.crm_sync `{expression}` is not a cron expression with seconds: {e}"))
}

impl CrmSync {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.sync_once().await {
                Ok(summary) => tracing::info!(
                    crm = %self.crm.id(), pages = summary.pages, contacts = summary.contacts,
                    "Synced the CRM identity cache."
                ),
                Err(error) => tracing::warn!(
                    crm = %self.crm.id(), error = %format!("{error:#}"),
                    "Syncing the CRM identity cache failed; it resumes from its cursor at the next tick."
                ),
            }
            let wait = self
                .schedule
                .upcoming(Utc)
                .next()
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(300));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Read every page changed since the stored cursor.
    pub async fn sync_once(&self) -> anyhow::Result<SyncSummary> {
        let crm_id = self.crm.id().to_owned();
        let mut cursor = self.store.crm_sync_state(&crm_id).await?.and_then(|state| state.cursor);
        let mut summary = SyncSummary::default();
        for _ in 0..MAX_PAGES_PER_SYNC {
            let page = self.crm.contacts_changed_since(cursor.as_deref()).await?;
            let contacts: Vec<CachedContact> = page
                .contacts
                .into_iter()
                .map(|contact| CachedContact {
                    match_keys: contact_match_keys(&contact, self.default_region.as_deref()),
                    contact,
                })
                .collect();
            self.store.store_sync_page(&crm_id, &contacts, page.next_cursor.as_deref(), Utc::now()).await?;
            summary.pages += 1;
            summary.contacts += contacts.len();
            match page.next_cursor {
                // A cursor that does not move would read the same page forever.
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => break,
            }
        }
        metrics::counter!("handoffd_crm_contacts_synced_total", "crm" => crm_id).increment(summary.contacts as u64);
        Ok(summary)
    }
}
