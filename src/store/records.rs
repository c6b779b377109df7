//! The rows the stages exchange through the store.

use super::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use handoffd_contract::crm::CrmContact;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::interaction::Interaction;
use handoffd_contract::webhook::Verified;
use serde::{Deserialize, Serialize};

/// A verified event, to be committed before the vendor gets its answer.
#[derive(Clone, Debug)]
pub struct NewInboxEvent {
    pub connector_id: String,
    /// Which door of the connector it came through (its webhook, or one of its routes).
    pub source: InboxSource,
    /// What parsing needs: when it arrived, its query string, the headers its connector keeps, the body.
    pub event: Verified,
}

/// A committed inbox row. Its [`Verified`] event is rebuilt by the store alone (the row was verified before
/// it was written), so reading the inbox is the only way back to a parsable event.
#[derive(Clone, Debug)]
pub struct InboxEvent {
    pub id: i64,
    pub connector_id: String,
    pub source: InboxSource,
    pub event: Verified,
}

impl InboxEvent {
    pub fn received_at(&self) -> DateTime<Utc> {
        self.event.received_at()
    }
}

/// The interactions one inbox row became, with their identity keys resolved to match keys.
#[derive(Clone, Debug)]
pub struct NormalizedBatch {
    pub connector_id: String,
    pub received_at: DateTime<Utc>,
    /// How long the customer must be quiet before the burst is handed off.
    pub quiet_period: chrono::Duration,
    /// How long a handoff stays open for later messages.
    pub reopen_after: chrono::Duration,
    pub interactions: Vec<NormalizedInteraction>,
}

#[derive(Clone, Debug)]
pub struct NormalizedInteraction {
    pub interaction: Interaction,
    /// Every key of the customer as (match key, raw key); the first is the primary.
    pub keys: Vec<(String, String)>,
    /// This interaction ends the conversation at once (handoff marker, call ended).
    pub end_signal: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub stored: usize,
    /// Redeliveries skipped by their dedup key.
    pub duplicates: usize,
    pub customers_created: usize,
    pub handoffs_opened: usize,
}

#[derive(Clone, Debug)]
pub struct QuarantineEntry {
    pub id: i64,
    pub inbox_id: i64,
    pub connector_id: String,
    pub received_at: DateTime<Utc>,
    pub reason: String,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct HandoffRow {
    pub id: String,
    pub customer_id: String,
    pub state: HandoffState,
    pub opened_at: DateTime<Utc>,
    pub ready_at: DateTime<Utc>,
    pub ended_by: Option<String>,
    pub version: i64,
    pub crm_task_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StoredInteraction {
    pub connector_id: String,
    pub channel: String,
    pub direction: String,
    pub speaker: Option<String>,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub text: Option<String>,
    pub interaction: Interaction,
}

#[derive(Clone, Debug)]
pub struct CustomerRecord {
    pub id: String,
    pub display_name: Option<String>,
    /// Raw keys as connectors reported them, with their match keys.
    pub keys: Vec<(String, String)>,
    /// The reasons of unresolved identity conflicts that name this customer, oldest first.
    pub open_conflicts: Vec<String>,
    /// Per CRM account whose identity cache holds any of the customer's keys (by account id): the cached
    /// contacts claiming the customer, with the survivors of those the CRM merged.
    pub cached_contacts: Vec<(String, Vec<CrmContact>)>,
}

#[derive(Clone, Debug)]
pub struct HandoffConversation {
    pub handoff: HandoffRow,
    pub customer: CustomerRecord,
    pub interactions: Vec<StoredInteraction>,
    /// Interactions of the same customer before this handoff (for channel history).
    pub earlier: Vec<StoredInteraction>,
}

/// The outcome of interpreting a ready handoff.
#[derive(Clone, Debug)]
pub struct BriefCommit {
    pub handoff_id: String,
    /// The brief as JSON.
    pub brief: String,
    /// The job to queue: `None` closes the handoff (nothing to act on).
    pub job: Option<NewJob>,
    pub audit: Vec<AuditEntry>,
    pub now: DateTime<Utc>,
    /// Who the task goes to, when the brief was routed.
    pub assignment: Option<Assignment>,
}

/// A routed handoff's owner (the CRM owner id; `None` when it went out unassigned) and pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    pub owner_id: Option<String>,
    pub pool: Option<String>,
    /// The matched rule's `confirm` flag (`None`: no rule matched, or the rule set none): whether the SLA
    /// watcher confirms the handoff to its customer, kept with the routing so a restart decides the same.
    pub confirm: Option<bool>,
}

/// The outcome of [`super::PipelineStore::claim_rotation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationClaim {
    /// The turns are this router's.
    Taken,
    /// Another router took turns first: the pool's position is now `current`.
    Moved { current: i64 },
}

/// What the SLA watcher changed on a handoff's task, which a later brief's update of the same handoff keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeptEscalation {
    /// The owner (CRM id) and pool a `reassign` step moved the task to.
    pub owner: Option<(String, String)>,
    /// The priority a `remind` step raised the task to.
    pub priority: Option<handoffd_contract::task::TaskPriority>,
}

#[derive(Clone, Debug)]
pub struct NewJob {
    pub crm_id: String,
    /// The TaskWrite as JSON.
    pub payload: String,
}

#[derive(Clone, Debug)]
pub struct OutboxJob {
    pub id: i64,
    pub handoff_id: String,
    pub customer_id: String,
    pub crm_id: String,
    pub payload: String,
    pub version: i64,
    /// Attempts made before this lease.
    pub attempts: u32,
    /// A previous attempt's outcome is unknown: look the task up before writing.
    pub in_flight: bool,
    /// The task already in the CRM for this handoff: update it instead of creating one.
    pub crm_task_id: Option<String>,
    /// When the handoff's burst ended (quiet period over or end signal): the start of its
    /// handoff latency (`handoffd_handoff_latency_seconds`).
    pub ready_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub id: i64,
    pub handoff_id: String,
    pub crm_id: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub handoff_id: Option<String>,
    pub customer_id: Option<String>,
    /// e.g. `classified`, `routed`, `task_created`, `task_updated`, `dead_lettered`.
    pub event: String,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StageCounts {
    pub inbox_total: i64,
    pub inbox_unprocessed: i64,
    pub quarantined: i64,
    pub handoffs_collecting: i64,
    pub outbox_pending: i64,
    /// Of those, jobs no worker holds: ready handoffs waiting for a delivery round (or retries for their time).
    pub outbox_unleased: i64,
    pub dead_letters: i64,
    /// Interactions stored (redeliveries deduplicated).
    pub interactions: i64,
    /// Handoffs whose task the CRM accepted (its task id is known).
    pub handoffs_with_task: i64,
    /// Interactions in those handoffs: what reached a task. With `interactions`, the exact count of what did not.
    pub interactions_with_task: i64,
}

// --- identity ------------------------------------------------------------------------------

/// Customers whose keys met in one interaction but were not merged: an owner must decide.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityConflictRow {
    pub id: i64,
    pub customers: Vec<String>,
    /// Where the interactions went meanwhile.
    pub attach_to: String,
    /// (match key, customer id) of the interaction that last showed the conflict.
    pub evidence: Vec<(String, String)>,
    pub reason: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub times_seen: i64,
}

/// One recorded merge.
#[derive(Clone, Debug, Serialize)]
pub struct MergeRow {
    pub id: i64,
    pub survivor_id: String,
    pub absorbed_id: String,
    /// The record's sentence ("customer 4 merged into 9: ... were seen together").
    pub explanation: String,
    pub merged_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// What `split_merge` moved back.
#[derive(Clone, Debug, Serialize)]
pub struct SplitOutcome {
    pub merge_id: i64,
    /// The customer that exists again.
    pub customer_id: String,
    pub survivor_id: String,
    pub restored_keys: Vec<String>,
    /// Keys the merge moved that have moved on since (left where they are).
    pub skipped_keys: Vec<String>,
    pub interactions_moved: u64,
    pub handoffs_moved: u64,
}

/// Where a cached contact came from: what `crm_identities.origin` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactOrigin {
    /// The scheduled contact sync.
    Sync,
    /// Found by a delivery's search.
    Search,
    /// Created by handoffd.
    Created,
}

impl ContactOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Search => "search",
            Self::Created => "created",
        }
    }
}

/// A CRM contact in the identity cache, with the match keys its phones and emails normalise to.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedContact {
    pub contact: CrmContact,
    pub match_keys: Vec<String>,
}

/// Where a CRM account's contact sync stands.
#[derive(Clone, Debug, Serialize)]
pub struct CrmSyncState {
    pub cursor: Option<String>,
    pub pages: i64,
    pub synced_at: DateTime<Utc>,
    /// Contacts in the cache for this account.
    pub contacts: i64,
}

/// One line of a customer's timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    /// `interaction`, `handoff` or `audit`.
    pub source: String,
    /// The channel of an interaction, the state of a handoff, the event of an audit entry.
    pub label: String,
    pub summary: String,
}

/// Everything that happened to one customer, in time order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomerTimeline {
    pub customer_id: String,
    pub display_name: Option<String>,
    /// Set when this customer was merged into another (its timeline now lives there).
    pub merged_into: Option<String>,
    /// (match key, raw key).
    pub keys: Vec<(String, String)>,
    pub events: Vec<TimelineEvent>,
}

/// Jobs of one CRM account a worker could lease now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueJobs {
    /// How many (capped at the limit asked for).
    pub count: u32,
    /// Since when the oldest has been due; `None` when there are none.
    pub oldest: Option<DateTime<Utc>>,
}

// --- handoff states ----------------------------------------------------------------------------

/// Where a handoff stands, stored as its [`HandoffState::as_str`] text. Which state follows which is
/// the conversation stage's rule (`conversation::lifecycle`); the store only applies the
/// [`HandoffTransition`]s it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffState {
    /// Waiting for the quiet period (or an end signal) to end the burst.
    Collecting,
    /// Brief made, task in the outbox.
    Queued,
    /// Task in the CRM.
    Open,
    /// Done, expired, or nothing to act on.
    Closed,
    /// Its delivery was dead-lettered.
    Failed,
}

impl HandoffState {
    pub const ALL: [HandoffState; 5] = [Self::Collecting, Self::Queued, Self::Open, Self::Closed, Self::Failed];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Collecting => "collecting",
            Self::Queued => "queued",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, super::StoreError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| super::StoreError::Corrupt(format!("unknown handoff state `{text}`")))
    }
}

impl std::fmt::Display for HandoffState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move of a handoff from any of `from` to `to`; a handoff in another state is left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffTransition {
    pub from: &'static [HandoffState],
    pub to: HandoffState,
}

impl HandoffTransition {
    pub fn applies_to(&self, state: HandoffState) -> bool {
        self.from.contains(&state)
    }
}

// --- the pipeline's transactional primitives' rows ------------------------------------------

/// A new record id: UUID v7 text, so ids sort by creation in every database.
pub fn new_record_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A customer as the identity rules name it: its text id (every table's key) and its number (what
/// merge records and their sentences call it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomerRef {
    pub id: String,
    pub number: i64,
}

/// A match key and the customer that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    pub match_key: String,
    pub customer: CustomerRef,
}

/// What the merge rules weigh about a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerFacts {
    pub created_at: Option<DateTime<Utc>>,
    /// One CRM contact stands for the customer, `crm_id:contact_id`; with several CRM accounts, that of the
    /// first account by id.
    pub crm_contact: Option<String>,
    /// Every match key the customer holds, sorted.
    pub match_keys: Vec<String>,
}

/// Customers whose keys met but were not merged, as seen in one interaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictSighting {
    /// Sorted: one conflict per set of customers, however often it recurs.
    pub customers: Vec<String>,
    pub attach_to: String,
    /// (match key, customer id) of this interaction.
    pub evidence: Vec<(String, String)>,
    pub reason: String,
}

/// A recorded merge as stored (`identity::resolve` explains and splits it).
#[derive(Clone, Debug)]
pub struct StoredMerge {
    pub id: i64,
    pub survivor_id: String,
    pub absorbed_id: String,
    /// The keys seen together, as JSON.
    pub evidence: String,
    /// The `identity::MergeRecord` JSON; `None` for merges recorded before keys were kept.
    pub record: Option<String>,
    pub merged_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// What a split moved back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowsMoved {
    pub interactions: u64,
    pub handoffs: u64,
}

/// An interaction to store, with the columns the stages query by.
#[derive(Clone, Debug)]
pub struct NewInteraction<'a> {
    pub connector_id: &'a str,
    pub inbox_id: i64,
    pub customer_id: &'a str,
    /// `customer`, `ai` or `agent`; `None` for statuses and system events.
    pub speaker: Option<&'a str>,
    pub kind: String,
    pub text: Option<String>,
    pub received_at: DateTime<Utc>,
    pub interaction: &'a Interaction,
}

/// A handoff opened by a customer's message (or an end signal).
#[derive(Clone, Debug)]
pub struct NewHandoff<'a> {
    pub id: &'a str,
    pub customer_id: &'a str,
    pub state: HandoffState,
    pub opened_at: DateTime<Utc>,
    pub ready_at: DateTime<Utc>,
    pub ended_by: Option<&'a str>,
}

/// A later message in an open handoff.
#[derive(Clone, Debug)]
pub struct HandoffTouch<'a> {
    pub state: HandoffState,
    pub last_activity_at: DateTime<Utc>,
    pub ready_at: DateTime<Utc>,
    pub ended_by: Option<&'a str>,
}

/// A poller's stored position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollCursor {
    pub connector_id: String,
    /// Where the next poll resumes; `None`: the connector's own start (a bounded look-back).
    pub cursor: Option<String>,
    pub holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// When the last poll succeeded (its page committed, the cursor moved).
    pub polled_at: Option<DateTime<Utc>>,
}

// --- leases ------------------------------------------------------------------------------------

/// What taking a lease gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseTake {
    /// The lease is the taker's until the time it asked. `previous` is another holder it passed from, with
    /// when that holder's lease ended (released or expired): its work may have gone on until then.
    Granted { previous: Option<(String, DateTime<Utc>)> },
    /// Another holder has it, until `until`.
    Held { holder: String, until: DateTime<Utc> },
}

impl LeaseTake {
    /// Whether `holder` may take a lease now held by `current` (holder, until): free, expired or its own.
    /// The rule of the primitive, the same in every backend.
    pub fn decide(current: Option<(String, DateTime<Utc>)>, holder: &str, now: DateTime<Utc>) -> Self {
        match current {
            None => LeaseTake::Granted { previous: None },
            Some((current, _)) if current == holder => LeaseTake::Granted { previous: None },
            Some((current, until)) if until <= now => LeaseTake::Granted { previous: Some((current, until)) },
            Some((current, until)) => LeaseTake::Held { holder: current, until },
        }
    }

    pub fn granted(&self) -> bool {
        matches!(self, LeaseTake::Granted { .. })
    }
}

// --- the SLA watcher ---------------------------------------------------------------------------

/// An open handoff's task in the CRM, as the SLA watcher reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedTask {
    pub handoff_id: String,
    pub customer_id: String,
    pub crm_id: String,
    pub task_id: String,
    /// The delivery payload the task was last written with (JSON).
    pub payload: String,
    pub written_at: DateTime<Utc>,
    /// Ladder steps already run for it.
    pub steps_done: u32,
    /// The customer's contact in the CRM account, when known.
    pub contact_id: Option<String>,
    /// Where the customer's confirmation of this handoff stands (`None`: not tried yet).
    pub confirmation: Option<ConfirmationState>,
    /// The customer's last message, for the messenger's reply window.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The owner pool routing (or the last reassignment) gave the handoff to.
    pub pool: Option<String>,
    /// The matched rule's `confirm` flag, as routed (`None`: `sla.confirm` decides).
    pub confirm: Option<bool>,
}

/// Ladder steps that ran for one handoff, to record once.
#[derive(Clone, Debug)]
pub struct EscalationRecord {
    pub handoff_id: String,
    /// The count of steps done when the steps were decided.
    pub steps_before: u32,
    pub steps_after: u32,
    /// The payload the task was written with by the steps, when they wrote it.
    pub payload: Option<String>,
    /// The owner (id) and pool a `reassign` step moved the handoff to: its assignment is replaced, so open
    /// handoffs per owner (capacity, `least_open_tasks`) follow the task.
    pub reassigned: Option<(String, String)>,
    /// The priority a `remind` step raised the task to: kept by later briefs' updates, as the owner is.
    pub raised_priority: Option<handoffd_contract::task::TaskPriority>,
    pub audit: Vec<AuditEntry>,
    pub now: DateTime<Utc>,
}

/// Where a customer's confirmation of a handoff stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationState {
    /// Claimed before the send: the send is under way, or its outcome was lost (never sent again).
    Sending,
    Sent,
    /// Not sent, and never will be (the customer opted out, no address to send to).
    Skipped,
    /// The vendor refused it (unknown template, bad number).
    Refused,
}

impl ConfirmationState {
    pub const ALL: [ConfirmationState; 4] = [Self::Sending, Self::Sent, Self::Skipped, Self::Refused];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Result<Self, super::StoreError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| super::StoreError::Corrupt(format!("unknown confirmation state `{text}`")))
    }
}

/// What became of a confirmation.
#[derive(Clone, Debug)]
pub struct ConfirmationSettled {
    pub handoff_id: String,
    pub state: ConfirmationState,
    /// The vendor's id of the message sent.
    pub message_id: Option<String>,
    pub detail: String,
    pub audit: AuditEntry,
}

/// A [`KeptEscalation`] from its stored columns (both backends store them alike).
pub(crate) fn kept_escalation(
    handoff_id: String,
    owner_id: Option<String>,
    pool: Option<String>,
    priority: Option<String>,
) -> StoreResult<(String, KeptEscalation)> {
    use handoffd_contract::task::TaskPriority;
    let priority = priority
        .map(|p| match p.as_str() {
            "low" => Ok(TaskPriority::Low),
            "medium" => Ok(TaskPriority::Medium),
            "high" => Ok(TaskPriority::High),
            other => Err(StoreError::Corrupt(format!("watched_tasks.escalated_priority `{other}`"))),
        })
        .transpose()?;
    let owner = owner_id.map(|id| (id, pool.unwrap_or_default()));
    Ok((handoff_id, KeptEscalation { owner, priority }))
}

/// How a priority is stored (`watched_tasks.escalated_priority`).
pub(crate) fn priority_column(priority: handoffd_contract::task::TaskPriority) -> &'static str {
    use handoffd_contract::task::TaskPriority;
    match priority {
        TaskPriority::Low => "low",
        TaskPriority::Medium => "medium",
        TaskPriority::High => "high",
    }
}
