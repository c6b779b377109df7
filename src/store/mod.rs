//! The store: every SQL statement of handoffd lives below this folder.
//!
//! [`Store`] is what the stages use; `sqlite.rs` implements it for the embedded default, and a
//! PostgreSQL implementation satisfies the same trait for several instances sharing the work.
//! Each method that moves work from one stage to the next does it in one transaction, so a
//! crash replays at most the last step.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod records;
pub mod sqlite;
mod time;

pub use records::*;
pub use time::{format_ts, parse_ts};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the database schema could not be brought up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a stored value is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // --- ingest -------------------------------------------------------------------------

    /// Commit raw events in one transaction (group commit); returns their inbox ids in order.
    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>>;

    /// Inbox rows not yet normalised, oldest first.
    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>>;

    /// Normalise inbox rows (inbox id, its interactions) in one transaction: for each, resolve or
    /// create customers, store new interactions (redeliveries are skipped by their dedup key),
    /// attach messages to the customer's open handoff or open one, and mark the row processed.
    /// One transaction for a round of rows: a flood costs a few commits, not one per webhook.
    async fn apply_interactions(&self, rows: &[(i64, NormalizedBatch)]) -> StoreResult<ApplySummary>;

    /// Keep a signed body that could not be parsed, and mark its inbox row processed.
    async fn quarantine(&self, inbox_id: i64, reason: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn list_quarantine(&self, limit: u32) -> StoreResult<Vec<QuarantineEntry>>;
    async fn get_quarantine(&self, id: i64) -> StoreResult<QuarantineEntry>;
    async fn drop_quarantine(&self, id: i64) -> StoreResult<()>;

    // --- conversation -------------------------------------------------------------------

    /// Handoffs whose burst is over (`ready_at <= now`), oldest first.
    async fn ready_handoffs(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<HandoffRow>>;

    /// The earliest `ready_at` of a collecting handoff, to sleep exactly until then.
    async fn next_ready_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// A handoff with its customer and its interactions in time order.
    async fn handoff_conversation(&self, handoff_id: &str) -> StoreResult<HandoffConversation>;

    /// [`Store::handoff_conversation`] for a round of handoffs, in their order, with a few queries for all.
    async fn handoff_conversations(&self, handoffs: &[HandoffRow]) -> StoreResult<Vec<HandoffConversation>>;

    /// Record the briefs of ready handoffs and queue (or refresh) their delivery jobs, in one
    /// transaction. A `job` of `None` means nothing to act on: the handoff is closed. A handoff
    /// that received a message since its conversation was read is left collecting.
    /// `rotation` (pool, positions handed out) advances that owner pool's round robin in the same
    /// transaction.
    async fn commit_briefs(&self, commits: &[BriefCommit], rotation: Option<(&str, u64)>) -> StoreResult<()>;
    async fn commit_brief(&self, commit: BriefCommit) -> StoreResult<()> {
        self.commit_briefs(std::slice::from_ref(&commit), None).await
    }

    /// Close handoffs whose task has been open longer than `reopen_after`.
    async fn expire_handoffs(&self, opened_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64>;

    /// The next position in an owner pool's rotation (round robin), as last committed.
    async fn rotation_position(&self, pool: &str) -> StoreResult<i64>;

    // --- deliver ------------------------------------------------------------------------

    /// Lease up to `limit` due jobs of one CRM account until `lease_until`. A job `worker` already holds is
    /// leased again (its round failed, or the worker's previous life was killed), unless it is in `busy`: the
    /// jobs of the worker's round still being written.
    async fn lease_jobs(
        &self,
        crm_id: &str,
        worker: &str,
        busy: &[i64],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxJob>>;

    /// How many jobs of one CRM account `worker` could lease now (at most `limit`, `busy` left out), and since
    /// when the oldest of them has been due.
    async fn outbox_due(
        &self,
        crm_id: &str,
        worker: &str,
        busy: &[i64],
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<DueJobs>;

    /// Count an attempt and mark the jobs in flight, committed before the CRM call.
    async fn mark_in_flight(&self, job_ids: &[i64]) -> StoreResult<()>;

    /// The CRM contacts known for customers in a CRM account: customer id -> contact id, for those that have one.
    async fn crm_contacts_of(&self, crm_id: &str, customer_ids: &[String]) -> StoreResult<HashMap<String, String>>;
    /// Remember the CRM contact of several customers (customer id, contact id) in one transaction.
    async fn set_crm_contacts(
        &self,
        crm_id: &str,
        contacts: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn set_crm_contact(
        &self,
        customer_id: &str,
        crm_id: &str,
        contact_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.set_crm_contacts(crm_id, &[(customer_id.to_owned(), contact_id.to_owned())], now).await
    }

    /// Tasks are in the CRM (job, task id), in one transaction: remember each task id, open the
    /// handoff, and finish the job unless a newer brief arrived meanwhile (then it stays queued,
    /// now as an update).
    async fn jobs_delivered(&self, delivered: &[(&OutboxJob, String)], now: DateTime<Utc>) -> StoreResult<()>;

    /// A retriable failure: release the lease and try again at `next_attempt_at`, with
    /// `attempts` made so far.
    async fn job_retry(
        &self,
        job_id: i64,
        attempts: u32,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        outcome_unknown: bool,
    ) -> StoreResult<()>;

    /// Give up: move the job to the dead-letter queue with its last error.
    async fn job_dead(&self, job: &OutboxJob, error: &str, now: DateTime<Utc>) -> StoreResult<()>;

    async fn list_dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>>;
    async fn get_dead_letter(&self, id: i64) -> StoreResult<DeadLetter>;
    /// Put a dead letter back in the outbox with a fresh attempt count.
    async fn replay_dead_letter(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    async fn drop_dead_letter(&self, id: i64) -> StoreResult<()>;

    // --- credentials and audit ----------------------------------------------------------

    async fn load_token(&self, connector_id: &str) -> StoreResult<Option<String>>;
    async fn save_token(&self, connector_id: &str, token: &str, now: DateTime<Utc>) -> StoreResult<()>;

    async fn audit(&self, entry: AuditEntry) -> StoreResult<()>;
    async fn audit_for_handoff(&self, handoff_id: &str) -> StoreResult<Vec<AuditEntry>>;

    // --- identity -----------------------------------------------------------------------

    /// The customer a match key belongs to (`phone:+9198...`, `email:...`).
    async fn customer_for_key(&self, match_key: &str) -> StoreResult<Option<String>>;
    /// A customer's (match key, raw key) pairs.
    async fn customer_keys(&self, customer_id: &str) -> StoreResult<Vec<(String, String)>>;
    /// [`Store::customer_keys`] for several customers: customer id -> its (match key, raw key) pairs.
    async fn keys_of_customers(&self, customer_ids: &[String]) -> StoreResult<HashMap<String, Vec<(String, String)>>>;
    /// Conflicts not resolved yet, most recent first.
    async fn identity_conflicts(&self, limit: u32) -> StoreResult<Vec<IdentityConflictRow>>;
    /// Recorded merges, most recent first.
    async fn list_merges(&self, limit: u32) -> StoreResult<Vec<MergeRow>>;
    /// Undo one merge in one transaction: the absorbed customer's keys that are still the
    /// survivor's go back to it, with the interactions and handoffs the merge moved.
    async fn split_merge(&self, merge_id: i64, now: DateTime<Utc>) -> StoreResult<SplitOutcome>;
    /// Interactions, handoffs and audit entries of a customer, in time order.
    async fn customer_timeline(&self, customer_id: &str) -> StoreResult<CustomerTimeline>;

    // --- CRM identity cache -------------------------------------------------------------

    /// Where the contact sync of a CRM account stands (`None`: never synced).
    async fn crm_sync_state(&self, crm_id: &str) -> StoreResult<Option<CrmSyncState>>;
    /// Store one page of the contact sync and, in the same transaction, advance the cursor to
    /// `next_cursor` (`None` keeps the stored cursor: the vendor had no next page).
    async fn store_sync_page(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        next_cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Cache contacts found by a search or created by handoffd (`origin`: `search`, `created`).
    async fn cache_contacts(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        origin: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// One cached contact by id.
    async fn cached_contact(&self, crm_id: &str, contact_id: &str) -> StoreResult<Option<CachedContact>>;
    /// Cached contacts holding any of `match_keys`, with the survivors of those the CRM merged.
    async fn cached_contacts(&self, crm_id: &str, match_keys: &[String]) -> StoreResult<Vec<CachedContact>>;

    /// Counts per pipeline stage, for metrics and `handoffd status`.
    async fn stage_counts(&self) -> StoreResult<StageCounts>;
}

/// Open the store a URL names and bring its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        anyhow::bail!("PostgreSQL is not supported yet (store.url `postgres://...`): use `sqlite://...` for now")
    } else {
        anyhow::bail!("store.url must start with `sqlite://` or `postgres://`")
    }
}
