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

use chrono::{DateTime, Utc};
use handoffd_contract::crm::Crm;
use tokio_util::sync::CancellationToken;

use super::contact_match_keys;
use crate::daemon::supervisor::catch_round;
use crate::lease::{Holding, Lease};
use crate::store::{CachedContact, Store};

/// Pages read in one sync at most: a first sync of a huge CRM continues at the next tick
/// rather than holding the loop for hours.
const MAX_PAGES_PER_SYNC: usize = 10_000;
/// How long the sync's lease holds: the instance that runs a tick keeps it for the next ones while it lives;
/// when it dies, another instance takes the sync over at the first tick after this.
pub const SYNC_LEASE: Duration = Duration::from_secs(600);

pub struct CrmSync {
    pub store: Arc<dyn Store>,
    pub crm: Arc<dyn Crm>,
    pub schedule: cron::Schedule,
    /// The CRM connector's `default_region`, for phones typed without a country code.
    pub default_region: Option<String>,
    /// Exactly one instance runs each tick: the one holding this lease.
    pub lease: Lease,
}

/// What one sync read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub pages: usize,
    pub contacts: usize,
}

/// Parse an `identity.crm_sync` expression, saying which key is wrong.
/// `identity.crm_sync` as a schedule; the error names the expression, the caller names the key.
pub fn parse_schedule(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression).map_err(|e| {
        format!("`{expression}` is not a cron expression with seconds (sec min hour day month weekday): {e}")
    })
}

impl CrmSync {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.lease.hold(Utc::now()).await {
                Ok(Holding::Held { .. }) => match catch_round("crm_sync", self.sync_once()).await {
                    Ok(summary) => tracing::info!(
                        crm = %self.crm.id(), pages = summary.pages, contacts = summary.contacts,
                        "Synced the CRM identity cache."
                    ),
                    Err(error) => tracing::warn!(
                        crm = %self.crm.id(), error = %format!("{error:#}"),
                        "Syncing the CRM identity cache failed; it resumes from its cursor at the next tick."
                    ),
                },
                Ok(Holding::Elsewhere { .. }) => {
                    tracing::debug!(crm = %self.crm.id(), "Another instance syncs the CRM identity cache.")
                }
                Err(error) => tracing::warn!(
                    crm = %self.crm.id(), %error,
                    "Taking the CRM sync's lease failed; the sync waits for the next tick."
                ),
            }
            let wait = self
                .schedule
                .upcoming(Utc)
                .next()
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(300));
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(error) = self.lease.release(Utc::now()).await {
            tracing::warn!(crm = %self.crm.id(), %error, "Releasing the CRM sync's lease failed; it expires.");
        }
    }

    /// Read every page changed since the stored cursor.
    pub async fn sync_once(&self) -> anyhow::Result<SyncSummary> {
        let (summary, _) = catch_up(self.store.as_ref(), self.crm.as_ref(), self.default_region.as_deref()).await?;
        Ok(summary)
    }
}

/// Reads the change feed from the stored cursor, page by page, each page stored with the cursor after it. Also
/// says when the read of the feed's last page began, if it reached the end (not stopped by
/// [`MAX_PAGES_PER_SYNC`]): every contact changed before then (and searchable by then) is in the cache.
pub async fn catch_up(
    store: &dyn Store,
    crm: &dyn Crm,
    default_region: Option<&str>,
) -> anyhow::Result<(SyncSummary, Option<DateTime<Utc>>)> {
    let crm_id = crm.id().to_owned();
    let mut cursor = store.crm_sync_state(&crm_id).await?.and_then(|state| state.cursor);
    let mut summary = SyncSummary::default();
    let mut caught_up = None;
    for _ in 0..MAX_PAGES_PER_SYNC {
        let read_at = Utc::now();
        let page = crm.contacts_changed_since(cursor.as_deref()).await?;
        let contacts: Vec<CachedContact> = page
            .contacts
            .into_iter()
            .map(|contact| CachedContact { match_keys: contact_match_keys(&contact, default_region), contact })
            .collect();
        store.store_sync_page(&crm_id, &contacts, page.next_cursor.as_deref(), Utc::now()).await?;
        summary.pages += 1;
        summary.contacts += contacts.len();
        match page.next_cursor {
            // A cursor that does not move would read the same page forever.
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => {
                caught_up = Some(read_at);
                break;
            }
        }
    }
    metrics::counter!("handoffd_crm_contacts_synced_total", "crm" => crm_id).increment(summary.contacts as u64);
    Ok((summary, caught_up))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use handoffd_contract::crm::{
        ContactPage, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
    };
    use handoffd_contract::identity::IdentityKey;
    use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

    use super::*;

    /// Pages `a`, `b`, then the last page `c` (no next cursor); fails once where told to.
    struct PagedCrm {
        fail_at: Mutex<Option<String>>,
        asked: Mutex<Vec<Option<String>>>,
    }

    fn contact(id: &str, phone: &str) -> CrmContact {
        CrmContact {
            id: id.into(),
            name: None,
            phones: vec![phone.into()],
            emails: vec![],
            owner_id: None,
            updated_at: None,
            merged_into: None,
        }
    }

    #[async_trait]
    impl Crm for PagedCrm {
        fn id(&self) -> &str {
            "crm"
        }
        fn limits(&self) -> RateLimitPolicy {
            unreachable!("the sync does not ask")
        }
        fn live_budget(&self) -> LiveBudget {
            LiveBudget::default()
        }
        async fn find_contacts(&self, _: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
            unreachable!("the sync does not search")
        }
        async fn create_contact(&self, _: &NewContact) -> Result<CrmContact, CrmError> {
            unreachable!("the sync does not write")
        }
        async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
            self.asked.lock().unwrap().push(cursor.map(str::to_owned));
            let mut fail_at = self.fail_at.lock().unwrap();
            if fail_at.as_deref() == cursor.or(Some("start")) {
                *fail_at = None;
                return Err(CrmError::Unavailable("connection reset".into()));
            }
            let (contacts, next) = match cursor {
                None => (vec![contact("1", "09820012345")], Some("a")),
                Some("a") => (vec![contact("2", "+5511987654321")], Some("b")),
                Some("b") => (vec![contact("3", "+14155552671")], None),
                Some(other) => panic!("unexpected cursor {other}"),
            };
            Ok(ContactPage { contacts, next_cursor: next.map(str::to_owned) })
        }
        async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
            Ok(vec![])
        }
        async fn create_tasks(&self, _: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("the sync does not write")
        }
        async fn update_tasks(&self, _: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("the sync does not write")
        }
        async fn find_tasks_by_external_keys(&self, _: &[String]) -> Result<Vec<TaskRef>, CrmError> {
            unreachable!("the sync does not read tasks")
        }
        async fn task_states(&self, _: &[String]) -> Result<Vec<TaskState>, CrmError> {
            unreachable!("the sync does not read tasks")
        }
    }

    #[tokio::test]
    async fn the_cursor_advances_only_after_a_page_is_stored_and_the_last_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::open(&url).await.unwrap();
        let crm = Arc::new(PagedCrm { fail_at: Mutex::new(Some("b".into())), asked: Mutex::new(vec![]) });
        let sync = CrmSync {
            store: store.clone(),
            crm: crm.clone(),
            schedule: parse_schedule("0 */5 * * * *").unwrap(),
            default_region: Some("IN".into()),
            lease: Lease::new(store.clone(), "crm_sync:crm", "test", SYNC_LEASE),
        };
        // Page `b` fails: the pages before it are stored, the cursor stays where `b` starts.
        assert!(sync.sync_once().await.is_err());
        let state = store.crm_sync_state("crm").await.unwrap().unwrap();
        assert_eq!((state.cursor.as_deref(), state.contacts), (Some("b"), 2));
        let cached = store.cached_contacts("crm", &["phone:+919820012345".into()]).await.unwrap();
        assert_eq!(cached.len(), 1, "the national number was read with the CRM's region");

        // The next sync resumes at `b`; the last page has no next cursor, so `b` is kept.
        let summary = sync.sync_once().await.unwrap();
        assert_eq!(summary, SyncSummary { pages: 1, contacts: 1 });
        let state = store.crm_sync_state("crm").await.unwrap().unwrap();
        assert_eq!((state.cursor.as_deref(), state.contacts), (Some("b"), 3));
        assert_eq!(
            *crm.asked.lock().unwrap(),
            vec![None, Some("a".into()), Some("b".into()), Some("b".into())],
            "no page is skipped"
        );
        assert!(parse_schedule("every five minutes").is_err());
    }

    /// Two instances on one PostgreSQL store, each with its own connection to the CRM: only the lease holder syncs;
    /// when it stops, the other takes the sync over at its next tick and resumes from the holder's cursor (the
    /// cursor and the cache are rows of the shared store, not the instance's).
    #[tokio::test]
    async fn on_postgres_one_instance_syncs_and_the_other_resumes_from_its_cursor() {
        let Some((store, _schema)) = crate::store::postgres::scratch::store("one_instance_syncs").await else {
            return;
        };
        let store: Arc<dyn Store> = store;
        let instance = |who: &str| {
            let crm = Arc::new(PagedCrm { fail_at: Mutex::new(Some("b".into())), asked: Mutex::new(vec![]) });
            let sync = CrmSync {
                store: store.clone(),
                crm: crm.clone(),
                // Every second: both instances tick many times while the test waits.
                schedule: parse_schedule("* * * * * *").unwrap(),
                default_region: Some("IN".into()),
                lease: Lease::new(store.clone(), "crm_sync:crm", who, SYNC_LEASE),
            };
            (sync, crm)
        };
        let (first, first_crm) = instance("a");
        let (second, second_crm) = instance("b");
        let (stop_first, stop_second) = (CancellationToken::new(), CancellationToken::new());
        let first = tokio::spawn(first.run(stop_first.clone()));
        // Started a moment later, so that the first holds the lease.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = tokio::spawn(second.run(stop_second.clone()));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(second_crm.asked.lock().unwrap().is_empty(), "only the holder syncs");
        // The holder's first sync failed at page `b`; its next ticks resumed there and kept `b`.
        let asked = first_crm.asked.lock().unwrap().clone();
        assert_eq!(asked[..3], [None, Some("a".into()), Some("b".into())], "{asked:?}");

        // The holder stops (its lease is given back): the other syncs at its next tick, from the shared cursor.
        stop_first.cancel();
        first.await.unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let taken_over = second_crm.asked.lock().unwrap().clone();
        assert_eq!(taken_over.first(), Some(&Some("b".to_owned())), "resumed from the cursor: {taken_over:?}");
        stop_second.cancel();
        second.await.unwrap();
        let state = store.crm_sync_state("crm").await.unwrap().unwrap();
        assert_eq!(state.cursor.as_deref(), Some("b"));
        let cached = store.cached_contacts("crm", &["phone:+919820012345".into()]).await.unwrap();
        assert_eq!(cached.len(), 1, "the cache the first instance filled is the second's");
    }
}
