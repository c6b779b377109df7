//! The rows the stages exchange through the store.

use chrono::{DateTime, Utc};
use handoffd_contract::crm::CrmContact;
use handoffd_contract::interaction::Interaction;
use serde::{Deserialize, Serialize};

/// A raw event as it arrived, to be committed before the vendor gets its answer.
#[derive(Clone, Debug)]
pub struct NewInboxEvent {
    pub connector_id: String,
    /// `webhook`, `turn` or `proxied_send`.
    pub source: String,
    pub received_at: DateTime<Utc>,
    /// JSON object of headers worth keeping (never credentials).
    pub headers: String,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct InboxEvent {
    pub id: i64,
    pub connector_id: String,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub body: Vec<u8>,
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
    pub state: String,
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
    /// What the owner should know about this customer's identity, for the brief's `notes`: an
    /// unreadable phone kept as written, an unresolved identity conflict, several CRM contacts in
    /// the identity cache claiming the customer (and which one delivery uses).
    pub notes: Vec<String>,
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
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    /// `interaction`, `handoff` or `audit`.
    pub source: String,
    /// The channel of an interaction, the state of a handoff, the event of an audit entry.
    pub label: String,
    pub summary: String,
}

/// Everything that happened to one customer, in time order.
#[derive(Clone, Debug, Serialize)]
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
