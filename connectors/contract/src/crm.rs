//! The CRM side of the contract: contacts, tasks, owners, and the vendor's limits.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::IdentityKey;
use crate::task::{TaskRef, TaskState, TaskWrite};

/// A contact as the CRM holds it, with the keys we can match on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmContact {
    pub id: String,
    pub name: Option<String>,
    /// Phones as the CRM stores them (raw: the identity stage normalises).
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// The contact's current owner, for sticky routing.
    pub owner_id: Option<String>,
    /// Last activity or modification, to pick among contacts that claim the same key.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the CRM merged this contact into another, the survivor's id.
    pub merged_into: Option<String>,
}

/// A contact to create.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewContact {
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Where the customer came from (e.g. "whatsapp", "vapi:inbound-sales").
    pub source: Option<String>,
}

/// A CRM user who can own tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmOwner {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
}

/// One page of contacts changed since a cursor (for the identity cache sync).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactPage {
    pub contacts: Vec<CrmContact>,
    /// Pass back to get the next page; `None` when this was the last page for now.
    pub next_cursor: Option<String>,
}

/// The result of one task write in a batch, in the order of the inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskWriteOutcome {
    Written(TaskRef),
    /// The CRM refused this one (e.g. an unknown owner id): retrying will not help.
    Rejected {
        message: String,
    },
}

/// A vendor's published request limits: the defaults a limiter starts from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimitPolicy {
    /// Requests allowed per `window` for the account (e.g. HubSpot: 190 per 10 s).
    pub requests: u32,
    pub window: Duration,
    /// The daily budget, where the vendor has one.
    pub daily: Option<u32>,
    /// A separate, stricter limit for search endpoints (HubSpot: 4 per second).
    pub search_requests: Option<u32>,
    pub search_window: Option<Duration>,
    /// Largest batch the task endpoints take.
    pub max_batch: usize,
    /// Calls allowed in flight at once, where that is the vendor's short-term limit (Zoho: 10 on the Standard
    /// edition). Delivery keeps more rounds in flight for such a CRM, so that the cap, not the time its rounds
    /// spend between calls, sets the pace.
    pub concurrency: Option<u32>,
}

/// What the vendor's last response said about the remaining budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveBudget {
    pub window_remaining: Option<u32>,
    pub daily_remaining: Option<u32>,
}

/// Why a CRM call failed, classified so the deliverer knows what to do.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrmError {
    /// 429: wait (`retry_after` when the vendor said how long) and try again.
    #[error("rate limited by the CRM{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration>, message: String },
    /// 5xx, connection refused, DNS: the request was not applied; try again later.
    #[error("the CRM is unavailable: {0}")]
    Unavailable(String),
    /// A write timed out or the connection dropped after sending: it may or may not have been
    /// applied. Look it up by external key before writing again.
    #[error("the CRM's answer was lost, the write may have been applied: {0}")]
    OutcomeUnknown(String),
    /// 401/403 or a token that cannot be refreshed: an admin must act.
    #[error("the CRM refused our credentials: {0}")]
    Auth(String),
    /// 4xx other than 429: the request itself is wrong; retrying will not help.
    #[error("the CRM rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The answer did not have the shape the vendor documents.
    #[error("unexpected answer from the CRM: {0}")]
    Protocol(String),
}

impl CrmError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_) | Self::OutcomeUnknown(_))
    }

    /// How long the vendor asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A CRM account. Implementations own their HTTP client, authentication (refreshing tokens),
/// the vendor's request limiter and wire formats; they hold no pipeline state.
#[async_trait]
pub trait Crm: Send + Sync {
    /// The connector id from the config.
    fn id(&self) -> &str;

    /// The vendor's published limits, after any overrides from the config.
    fn limits(&self) -> RateLimitPolicy;

    /// The budget the vendor reported on its last answer.
    fn live_budget(&self) -> LiveBudget;

    /// Another instance held this account until a moment now past (it was killed, or it stopped) and may have
    /// spent the account's whole budget by then. Make the limiter count its burst as spent now, and say `true`:
    /// the previous holder's calls were a sequence that the same limiter allowed, so calls that continue from a
    /// spent burst stay within the vendor's limit in every window, and nobody need wait a whole window. A
    /// connector whose limiter cannot be preset says `false` (the default): the caller then waits one rate
    /// window after the previous holder's last use.
    async fn assume_budget_spent(&self) -> bool {
        false
    }

    /// One-time set-up before the first write (e.g. create the custom property that holds
    /// the external key). Safe to call at every start.
    async fn prepare(&self) -> Result<(), CrmError> {
        Ok(())
    }

    /// Find contacts by phone (E.164) or email, batching several keys in one search where the
    /// vendor allows. Returns every contact that matched any key.
    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError>;

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError>;

    /// Create several contacts: one result per input, in input order. Vendors with a batch endpoint override this
    /// one-by-one default. After a failure that is not about the contact itself (429, 5xx), the rest are not sent
    /// and carry that error, so the caller backs off once.
    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        let mut results = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let result = self.create_contact(contact).await;
            let stop = match &result {
                Err(CrmError::Rejected { .. }) | Ok(_) => None,
                Err(error) => Some(error.clone()),
            };
            results.push(result);
            if let Some(error) = stop {
                results.resize_with(contacts.len(), || Err(error.clone()));
                break;
            }
        }
        results
    }

    /// Contacts modified since `cursor` (`None`: from the beginning), one page.
    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError>;

    /// The change feed without this connector's own new contacts: one page of every contact that changed at or
    /// after `since`, except those this connector created since then (which the caller cached when it created
    /// them). `page` is `None` for the first page, then the page's `next_cursor`.
    ///
    /// What it is for: a backlog of new customers. Read through the plain feed, the contacts we create come back
    /// a page per hundred, as many searches as looking the customers up; without them, a read is one search
    /// shared by every delivery round, and the caller may treat a customer absent from an up-to-date cache as
    /// new. A contact we created and someone else changed within the same read may be left out (the connector
    /// cannot tell who changed it): the caller accepts that as it accepts a contact created between a search
    /// and its create.
    ///
    /// `Ok(None)`: the connector cannot tell its own contacts apart (the default, or the marker is not
    /// configured); the caller looks every new customer up.
    async fn contacts_changed_elsewhere(
        &self,
        since: DateTime<Utc>,
        page: Option<&str>,
    ) -> Result<Option<ContactPage>, CrmError> {
        let _ = (since, page);
        Ok(None)
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError>;

    /// Create tasks, associated with their contacts, in as few calls as the vendor allows
    /// (at most `limits().max_batch` per call). One outcome per input, in input order.
    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError>;

    /// Update existing tasks (`task_id`, new content). One outcome per input, in input order.
    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError>;

    /// Find tasks by their external keys (handoff ids): used only when a write's outcome is
    /// unknown. Keys with no task are absent from the answer.
    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError>;

    /// The current state of tasks, for the SLA watcher.
    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError>;
}
