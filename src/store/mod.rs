//! The store: every SQL statement of handoffd lives below this folder.
//!
//! One trait per stage that uses the store ([`InboxStore`], [`PipelineStore`] with its
//! [`PipelineTx`], [`OutboxStore`], ...); [`Store`] is all of them, what [`open`] hands out.
//! `sqlite.rs` implements them for the embedded default; `postgres.rs` implements the same traits for
//! several instances sharing the work. A backend is only SQL: the rules (which customer
//! a key belongs to, how a burst attaches to a handoff, which state follows which) live in the
//! stages and drive a backend through [`PipelineTx`]. Each method that moves work from one stage
//! to the next does it in one transaction, so a crash replays at most the last step;
//! [`conformance`] checks every backend against those contracts.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "store-conformance"))]
pub mod conformance;
mod history;
pub mod postgres;
mod records;
pub mod sqlite;
mod time;

pub use history::*;
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
    #[error("not supported by this store: {0}")]
    Unsupported(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Raw events in, unprocessed ones out (ingest). The inbox has its own file and writer, so a
/// webhook's group commit never waits for the stages after it.
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Commit raw events in one transaction (group commit); returns their inbox ids in order.
    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>>;

    /// How many `insert_inbox` calls may usefully run at once: a store whose commits queue for a disk flush
    /// other writers share (PostgreSQL with several instances) takes the next group while one waits; a store with
    /// one writer (SQLite) takes one at a time, so each group is as large as it can be.
    fn inbox_commits_at_once(&self) -> usize {
        1
    }

    /// The longest a small group may wait for more events before it is sent, when the commit before it was small
    /// and waited (see `ingest::inbox_writer::Linger`): zero for a store whose commits cost little beside their
    /// rows (SQLite, whose one writer's groups already gather while a commit runs).
    fn inbox_linger(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Inbox rows not yet normalised, oldest first.
    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>>;

    /// Mark the selected raw events unprocessed again (`handoffd replay`), quarantined ones
    /// included (their quarantine entries go: a row that still cannot be parsed is quarantined
    /// again). Normalising a row twice is a no-op for what it already produced (dedup keys).
    /// Returns how many rows were queued.
    async fn requeue_inbox(&self, selection: &InboxSelection) -> StoreResult<u64> {
        let _ = selection;
        Err(StoreError::Unsupported("replaying stored events".into()))
    }
}

/// Which stored raw events `handoffd replay` runs through the pipeline again.
#[derive(Clone, Debug, Default)]
pub struct InboxSelection {
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    pub connector_id: Option<String>,
    /// Only the rows that were quarantined.
    pub quarantined_only: bool,
}

/// Signed bodies that could not be parsed (normalize writes them, `handoffd quarantine` reads them).
#[async_trait]
pub trait QuarantineStore: Send + Sync {
    /// Keep a signed body that could not be parsed, and mark its inbox row processed.
    async fn quarantine(&self, inbox_id: i64, reason: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn list_quarantine(&self, limit: u32) -> StoreResult<Vec<QuarantineEntry>>;
    async fn get_quarantine(&self, id: i64) -> StoreResult<QuarantineEntry>;
    async fn drop_quarantine(&self, id: i64) -> StoreResult<()>;
}

/// Normalize, identity and conversation: customers, interactions and handoffs. Their rules live in
/// those stages (`ingest::apply_interactions`, `identity::resolve`, `conversation::lifecycle`),
/// written once against [`PipelineTx`]; what is here is reads.
#[async_trait]
pub trait PipelineStore: Send + Sync {
    /// A write transaction of the pipeline's tables. A round of rows goes in one transaction: a
    /// flood costs a few commits, not one per webhook.
    async fn begin(&self) -> StoreResult<Box<dyn PipelineTx + '_>>;

    /// Handoffs whose burst is over (collecting, `ready_at <= now`), oldest first.
    async fn ready_handoffs(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<HandoffRow>>;

    /// The earliest `ready_at` of a collecting handoff that `ready_handoffs` could hand out now or later, to sleep
    /// exactly until then: a handoff another live instance has claimed is left out (a store shared by instances).
    async fn next_ready_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// A handoff with its customer and its interactions in time order.
    async fn handoff_conversation(&self, handoff_id: &str) -> StoreResult<HandoffConversation>;

    /// [`PipelineStore::handoff_conversation`] for a round of handoffs, in their order, with a few queries for all.
    async fn handoff_conversations(&self, handoffs: &[HandoffRow]) -> StoreResult<Vec<HandoffConversation>>;

    /// Apply `transition` to handoffs opened before `opened_before` (handoffs kept open too long);
    /// returns how many moved.
    async fn expire_handoffs(
        &self,
        opened_before: DateTime<Utc>,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The next position in an owner pool's rotation (round robin), as last committed.
    async fn rotation_position(&self, pool: &str) -> StoreResult<i64>;

    /// Take turns of a pool's rotation: move its position from `expected` to `next` only if it is still at
    /// `expected` (a compare-and-set, committed at once), so two instances routing at the same instant never
    /// hand out the same turn. [`RotationClaim::Moved`] carries the position another router moved it to.
    async fn claim_rotation(&self, pool: &str, expected: i64, next: i64) -> StoreResult<RotationClaim>;

    /// Handoffs still to act on (queued or open) per CRM owner id they were assigned to.
    async fn open_handoffs_by_owner(&self) -> StoreResult<HashMap<String, u32>>;

    /// What the SLA watcher changed on these handoffs' tasks (a reassignment, a raised priority), for those it
    /// changed: a later brief's task update keeps it.
    async fn kept_escalations(&self, handoff_ids: &[String]) -> StoreResult<HashMap<String, KeptEscalation>>;

    /// The CRM's owners as last synced (empty: never synced).
    async fn crm_owners(&self, crm_id: &str) -> StoreResult<Vec<handoffd_contract::crm::CrmOwner>>;

    /// Replace the stored owners of `crm_id` with `owners`, in one transaction.
    async fn replace_crm_owners(
        &self,
        crm_id: &str,
        owners: &[handoffd_contract::crm::CrmOwner],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// The transactional primitives the pipeline's rules are written against. Nothing here decides:
/// each call reads or writes rows as asked. Dropped without [`PipelineTx::commit`], none of its
/// writes are kept.
#[async_trait]
pub trait PipelineTx: Send {
    // --- customers (identity) ---------------------------------------------------------------

    /// The customers holding any of `match_keys`, one entry per key held.
    async fn customers_by_keys(&mut self, match_keys: &[String]) -> StoreResult<Vec<KeyOwner>>;
    /// What the merge rules weigh about a customer.
    async fn customer_facts(&mut self, customer_id: &str) -> StoreResult<CustomerFacts>;
    /// Create a customer with the id given.
    async fn insert_customer(&mut self, id: &str, display_name: Option<&str>, now: DateTime<Utc>) -> StoreResult<()>;
    /// Bind (match key, raw key) pairs to a customer; a key bound already stays where it is.
    async fn add_keys(
        &mut self,
        customer_id: &str,
        keys: &[(String, String)],
        connector_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Give a customer a name, if it has none yet.
    async fn name_customer(&mut self, customer_id: &str, name: &str) -> StoreResult<()>;
    /// Record a merge (its record is `identity::MergeRecord` JSON, `evidence` its keys seen together) and move
    /// every key, interaction and handoff of `absorbed_id` to `survivor_id`, remembering which rows moved;
    /// returns the merge id.
    async fn merge_customers(
        &mut self,
        survivor_id: &str,
        absorbed_id: &str,
        evidence: &[String],
        record: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Record customers whose keys met but were not merged: one row per set of customers, counted each time.
    async fn record_conflict(&mut self, sighting: &ConflictSighting, now: DateTime<Utc>) -> StoreResult<()>;
    /// One recorded merge.
    async fn merge(&mut self, merge_id: i64) -> StoreResult<Option<StoredMerge>>;
    /// match key -> the customer holding it, for those of `match_keys` held.
    async fn key_owners(&mut self, match_keys: &[String]) -> StoreResult<HashMap<String, String>>;
    /// Undo a merge's moves: `restore` keys go back to the absorbed customer (those still the survivor's),
    /// with the interactions and handoffs the merge moved; the absorbed customer stands alone again and the
    /// merge is marked undone.
    async fn undo_merge(
        &mut self,
        merge: &StoredMerge,
        restore: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<RowsMoved>;

    // --- interactions and handoffs (conversation) ------------------------------------------

    /// Store an interaction unless its connector stored its dedup key already; its id, or `None` for a
    /// redelivery.
    async fn insert_interaction(&mut self, new: &NewInteraction<'_>) -> StoreResult<Option<i64>>;
    /// The customer's most recently opened handoff in one of `states`, opened after `opened_after`.
    async fn open_handoff_of(
        &mut self,
        customer_id: &str,
        states: &[HandoffState],
        opened_after: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    async fn insert_handoff(&mut self, new: &NewHandoff<'_>) -> StoreResult<()>;
    async fn touch_handoff(&mut self, handoff_id: &str, touch: &HandoffTouch<'_>) -> StoreResult<()>;
    /// Attach the customer's unattached interactions that have a speaker, received after `received_after`,
    /// to a handoff; returns how many.
    async fn adopt_interactions(
        &mut self,
        handoff_id: &str,
        customer_id: &str,
        received_after: DateTime<Utc>,
    ) -> StoreResult<u64>;
    async fn attach_interaction(&mut self, interaction_id: i64, handoff_id: &str) -> StoreResult<()>;
    /// The inbox row's effects are in (or it is quarantined); a row marked again keeps its first time.
    async fn mark_processed(&mut self, inbox_id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    // --- briefs (conversation) ---------------------------------------------------------------

    /// Store a handoff's brief and apply `transition`, bumping its version, only if the handoff is in
    /// `transition.from` and its `ready_at` is not after `now` (no message since its conversation was read);
    /// the new version, or `None` when it was left alone. A handoff moved to `closed` gets `closed_at`.
    async fn record_brief(
        &mut self,
        handoff_id: &str,
        brief: &str,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
    /// Queue a handoff's delivery job at `version`, or refresh the one queued (payload, version, CRM).
    async fn queue_job(&mut self, handoff_id: &str, job: &NewJob, version: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// Advance an owner pool's rotation by `used` positions.
    async fn advance_rotation(&mut self, pool: &str, used: u64) -> StoreResult<()>;
    /// Record who a handoff's task goes to (`None`: unassigned), in which pool, and the matched rule's
    /// `confirm` flag, replacing an earlier assignment.
    async fn assign_owner(&mut self, handoff_id: &str, assignment: &Assignment, now: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;

    // --- consent (watch) ----------------------------------------------------------------------

    /// Record that a customer asked not to be messaged (`opted_out`, by interaction `interaction_id`), or
    /// asked to be messaged again (the record goes).
    async fn set_opt_out(
        &mut self,
        customer_id: &str,
        opted_out: bool,
        interaction_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Delivery: jobs leased per CRM account, written, retried or dead-lettered, and the CRM contact of
/// each customer.
#[async_trait]
pub trait OutboxStore: Send + Sync {
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

    /// Release the leases workers other than `worker` hold on one CRM account's jobs (the account's new lease
    /// holder takes a dead worker's jobs at once); returns how many.
    async fn release_jobs_of_others(&self, crm_id: &str, worker: &str) -> StoreResult<u64>;

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

    /// Tasks are in the CRM (job, task id), in one transaction: remember each task id, apply `transition` to
    /// the handoff, and finish the job unless a newer brief arrived meanwhile (then it stays queued, now as an
    /// update).
    async fn jobs_delivered(
        &self,
        delivered: &[(&OutboxJob, String)],
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

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

    /// Give up: move the job to the dead-letter queue with its last error, and apply `transition` to its
    /// handoff.
    async fn job_dead(
        &self,
        job: &OutboxJob,
        error: &str,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Deliveries that exhausted their retries (`handoffd dlq`).
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    async fn list_dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>>;
    async fn get_dead_letter(&self, id: i64) -> StoreResult<DeadLetter>;
    /// Put a dead letter back in the outbox with a fresh attempt count (marked in flight: the failed attempt
    /// may have landed), and apply `transition` to its handoff.
    async fn replay_dead_letter(&self, id: i64, transition: HandoffTransition, now: DateTime<Utc>) -> StoreResult<()>;
    async fn drop_dead_letter(&self, id: i64) -> StoreResult<()>;
}

/// Customers as `handoffd identity` and `handoffd audit` show them, and delivery reads their keys.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The customer a match key belongs to (`phone:+9198...`, `email:...`).
    async fn customer_for_key(&self, match_key: &str) -> StoreResult<Option<String>>;
    /// A customer's (match key, raw key) pairs.
    async fn customer_keys(&self, customer_id: &str) -> StoreResult<Vec<(String, String)>>;
    /// [`IdentityStore::customer_keys`] for several customers: customer id -> its (match key, raw key) pairs.
    async fn keys_of_customers(&self, customer_ids: &[String]) -> StoreResult<HashMap<String, Vec<(String, String)>>>;
    /// Conflicts not resolved yet, most recent first.
    async fn identity_conflicts(&self, limit: u32) -> StoreResult<Vec<IdentityConflictRow>>;
    /// Recorded merges, most recent first (`identity::resolve::list_merges` explains them).
    async fn list_merges(&self, limit: u32) -> StoreResult<Vec<StoredMerge>>;
    /// Interactions, handoffs and audit entries of a customer, in time order.
    async fn customer_timeline(&self, customer_id: &str) -> StoreResult<CustomerTimeline>;
}

/// The CRM identity cache: contacts synced, searched or created, by match key.
#[async_trait]
pub trait IdentityCacheStore: Send + Sync {
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
    /// Cache contacts found by a search or created by handoffd.
    async fn cache_contacts(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        origin: ContactOrigin,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// One cached contact by id.
    async fn cached_contact(&self, crm_id: &str, contact_id: &str) -> StoreResult<Option<CachedContact>>;
    /// Cached contacts holding any of `match_keys`, with the survivors of those the CRM merged.
    async fn cached_contacts(&self, crm_id: &str, match_keys: &[String]) -> StoreResult<Vec<CachedContact>>;
}

/// The audit trail and the connectors' refreshed credentials.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn audit(&self, entry: AuditEntry) -> StoreResult<()>;
    async fn audit_for_handoff(&self, handoff_id: &str) -> StoreResult<Vec<AuditEntry>>;

    async fn load_token(&self, connector_id: &str) -> StoreResult<Option<String>>;
    async fn save_token(&self, connector_id: &str, token: &str, now: DateTime<Utc>) -> StoreResult<()>;
}

/// The pollers' cursors, each leased to one holder at a time (ingest's poll host). A holder
/// claims a cursor for a lease, commits each page to the inbox, then advances the cursor while
/// it still holds the lease; an expired lease may be claimed by another instance.
#[async_trait]
pub trait PollCursorStore: Send + Sync {
    /// Claim `connector_id`'s cursor for `holder` until `lease_until`, when nobody else holds an
    /// unexpired lease on it (the holder renews its own). `None`: another holder has it.
    async fn claim_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<PollCursor>>;
    /// Move the cursor (`None`: start over) and record a successful poll, only while `holder`
    /// holds the lease; `false` when it no longer does (nothing is written).
    async fn advance_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Give the lease up (at shutdown), so another instance need not wait for it to expire.
    async fn release_poll_cursor(&self, connector_id: &str, holder: &str) -> StoreResult<()>;
    /// Every cursor, for `/metrics`.
    async fn poll_cursors(&self) -> StoreResult<Vec<PollCursor>>;
}

/// Connectors an admin paused (`handoffd connector pause ID`): kept in the store so that a pause
/// survives a restart and reaches every instance (each reads them on a short schedule).
#[async_trait]
pub trait ConnectorPauseStore: Send + Sync {
    /// Pause (`true`) or resume (`false`) `connector_id`; `false` when it was so already.
    async fn set_connector_paused(&self, connector_id: &str, paused: bool, now: DateTime<Utc>) -> StoreResult<bool>;
    /// The paused connectors, sorted.
    async fn paused_connectors(&self) -> StoreResult<Vec<String>>;
}

/// The SLA watcher (`crate::watch`): open handoffs' tasks, the escalation ladder's progress, confirmations to
/// customers. Which step runs when, and what it does, is the watcher's; the store keeps each step once.
#[async_trait]
pub trait WatchStore: Send + Sync {
    /// Tasks of CRM account `crm_id` whose handoff is open and which the CRM has not reported completed, in
    /// handoff id order after `after` (a page), at most `limit`.
    async fn watched_tasks(&self, crm_id: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<WatchedTask>>;

    /// The CRM reported these tasks completed (handoff id, its audit entry): in one transaction, each is marked
    /// completed, `transition` is applied to its handoff, and its entry is audited.
    async fn tasks_completed(
        &self,
        completed: &[(String, AuditEntry)],
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Record ladder steps that ran for one handoff, only if its count of steps done is still
    /// `record.steps_before` (so each step is recorded once, whichever instance ran it): the new count, the
    /// payload the task was written with (when it changed) and the audit entries, in one transaction. Whether it
    /// was recorded.
    async fn record_escalation(&self, record: &EscalationRecord) -> StoreResult<bool>;

    /// Claim the confirmation of a handoff before sending it; `false` when it was claimed (or settled) before.
    async fn claim_confirmation(
        &self,
        handoff_id: &str,
        customer_id: &str,
        messenger_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// What became of a claimed confirmation, with its audit entry, in one transaction.
    async fn settle_confirmation(&self, settled: &ConfirmationSettled) -> StoreResult<()>;

    /// Give a claim up when the send surely did not happen (the vendor was unavailable): it is tried again.
    async fn release_confirmation(&self, handoff_id: &str) -> StoreResult<()>;

    /// Whether the customer asked not to be messaged.
    async fn opted_out(&self, customer_id: &str) -> StoreResult<bool>;
}

/// How many of the newest inbox rows [`StatusStore::queue_ages`] looks at.
pub const QUEUE_INBOX_WINDOW: i64 = 100_000;

/// One stage's queue (a bounded `stage` label: `inbox`, `handoffs`, `outbox`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueAge {
    pub stage: &'static str,
    /// Rows waiting: raw events not yet normalised; handoffs whose quiet period is over but
    /// whose brief is not made; deliveries not yet written.
    pub depth: i64,
    /// When the oldest of them started waiting (received; quiet period over; queued).
    pub oldest: Option<DateTime<Utc>>,
}

/// Health and counts, for `/readyz`, `/metrics` and the bench.
#[async_trait]
pub trait StatusStore: Send + Sync {
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Counts per pipeline stage, for metrics and `handoffd status`.
    async fn stage_counts(&self) -> StoreResult<StageCounts>;
    /// Each stage's queue as of `now`: how much waits and since when the oldest has waited
    /// (`handoffd_queue_depth`, `handoffd_queue_oldest_age_seconds`). Cheap: indexed, and the
    /// inbox is looked at through its newest [`QUEUE_INBOX_WINDOW`] rows only (older rows are
    /// normalised in all but a broken pipeline, which the window's own age shows).
    async fn queue_ages(&self, now: DateTime<Utc>) -> StoreResult<Vec<QueueAge>>;
    /// A consistent copy of the store's files into `dir` (which must not hold them yet), made
    /// while the daemon runs; the files written, to copy back to restore. A backend whose
    /// server has its own backup tools (PostgreSQL: `pg_dump`) says so instead.
    async fn backup_into(&self, dir: &std::path::Path) -> StoreResult<Vec<std::path::PathBuf>> {
        let _ = dir;
        Err(StoreError::Unsupported("this store is backed up with its own server's tools (e.g. pg_dump)".into()))
    }
}

/// Named leases with an expiry: which instance does work that only one may do at a time (a CRM account's
/// delivery, so its rate limit stays exact; a scheduled job). Taking a lease is the primitive; when to take,
/// renew or give it up, and what a takeover means, is the caller's (`crate::lease`).
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take lease `name` for `holder` until `until`, if it is free, expired at `now`, released, or already
    /// `holder`'s (a renewal).
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<LeaseTake>;
    /// Give lease `name` up at `now`, if `holder` has it, so the next holder need not wait for it to expire.
    async fn release_lease(&self, name: &str, holder: &str, now: DateTime<Utc>) -> StoreResult<()>;
}

/// Wake-ups across instances: work committed on one instance wakes the stage that takes it on the others.
/// Polling stays the fallback (a wake-up lost while a connection is re-established is found by the next poll).
#[async_trait]
pub trait WakeupStore: Send + Sync {
    /// Listen for wake-ups; `None` when no other instance can commit work (SQLite: one instance, whose stages
    /// wake each other in process). Subscribe before the stages first look for work, so no wake-up is lost.
    async fn subscribe(&self) -> StoreResult<Option<Box<dyn Wakeups>>>;
}

/// A subscription to wake-ups.
#[async_trait]
pub trait Wakeups: Send {
    /// The next wake-up (waiting for it; a lost connection is re-established on the next call).
    async fn next(&mut self) -> StoreResult<Wakeup>;
}

/// Which work another instance committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// Raw events in the inbox (normalize).
    Inbox,
    /// Interactions stored: a handoff may be ready sooner (conversation).
    Handoffs,
    /// Jobs queued in the outbox (deliver).
    Outbox,
}

impl Wakeup {
    pub const ALL: [Wakeup; 3] = [Wakeup::Inbox, Wakeup::Handoffs, Wakeup::Outbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Wakeup::Inbox => "inbox",
            Wakeup::Handoffs => "handoffs",
            Wakeup::Outbox => "outbox",
        }
    }
}

/// Every stage's side of one backend: what [`open`] hands out. A stage that needs one side takes
/// that trait (`Arc<dyn Store>` coerces to any of them).
pub trait Store:
    InboxStore
    + QuarantineStore
    + PipelineStore
    + OutboxStore
    + DeadLetterStore
    + IdentityStore
    + IdentityCacheStore
    + AuditStore
    + StatusStore
    + PollCursorStore
    + ConnectorPauseStore
    + LeaseStore
    + WakeupStore
    + HistoryStore
    + WatchStore
    + 'static
{
}

impl<T> Store for T where
    T: InboxStore
        + QuarantineStore
        + PipelineStore
        + OutboxStore
        + DeadLetterStore
        + IdentityStore
        + IdentityCacheStore
        + AuditStore
        + StatusStore
        + PollCursorStore
        + ConnectorPauseStore
        + LeaseStore
        + WakeupStore
        + HistoryStore
        + WatchStore
        + 'static
{
}

/// Open the store a URL names and bring its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PostgresStore::open(url).await?))
    } else {
        anyhow::bail!("store.url must start with `sqlite://` or `postgres://`")
    }
}
