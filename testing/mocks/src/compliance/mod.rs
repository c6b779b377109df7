//! The CRM compliance suite: what every CRM connector must do, checked through the contract's [`Crm`] trait against
//! the connector's own mock. A connector's tests run every check in [`CHECKS`], each on a fresh mock and connector:
//!
//! ```ignore
//! for check in handoffd_mocks::compliance::CHECKS {
//!     let mock = MockCrm::start(MockOptions::default(), listener).await;
//!     let crm: Arc<dyn Crm> = Arc::new(MyCrm::new(config_for(&mock)));
//!     (check.run)(&crm, &mock.hubspot()).await.unwrap_or_else(|e| panic!("{}: {e}", check.name));
//! }
//! ```
//!
//! A check talks to the connector only through the trait, and to the mock only through [`CrmMock`], so the same
//! checks serve every vendor whose mock implements it. Each returns `Err` with what went wrong, never panics.
//!
//! - `contacts`: create in batches, find by phone and email in batches, list owners.
//! - `tasks`: a task's owner, due time, priority and contact; a batch with one refused input; an update in place;
//!   task states read in a batch.
//! - `failures`: 429 with `Retry-After`, 5xx, a permanent 400 with the vendor's message, a lost answer found again
//!   by its external key and never written twice, an answer in a shape the vendor never documented.
//! - `budget`: an expired access token refreshed once and the call sent again; the daily budget spent: calls are
//!   refused as retriable with a time to wait, nothing is written or dropped, and the same write goes through once
//!   the budget is back.

mod budget;
mod contacts;
mod failures;
mod tasks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use handoffd_contract::crm::Crm;
use handoffd_contract::task::TaskPriority;

use crate::faults::FaultPlan;

/// A contact as the mock holds it, in vendor-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockedContact {
    pub id: String,
    /// Every phone property the contact has, as stored.
    pub phones: Vec<String>,
    pub emails: Vec<String>,
}

/// A task as the mock holds it, in vendor-neutral terms.
#[derive(Debug, Clone, PartialEq)]
pub struct MockedTask {
    pub id: String,
    /// The handoff id the task carries (HubSpot: the custom property `handoffd_handoff_id`).
    pub external_key: Option<String>,
    pub subject: Option<String>,
    pub owner_id: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// `None` when the task has no priority or one the contract does not name.
    pub priority: Option<TaskPriority>,
    /// The contacts the task is associated with.
    pub contact_ids: Vec<String>,
    pub completed: bool,
    /// When the CRM created the task (the benchmark's handoff latency ends there).
    pub created_at: Option<DateTime<Utc>>,
}

/// What a vendor mock shows the compliance suite: its state, its request count, and its fault switch.
pub trait CrmMock: Send + Sync {
    /// The vendor's name, for messages.
    fn vendor(&self) -> &'static str;
    /// Replaces the fault plan (its dice reseeded); [`FaultPlan::default`] turns faults off.
    fn set_faults(&self, plan: FaultPlan);
    /// Requests the vendor's routes received so far, refused and faulted ones included.
    fn requests_received(&self) -> u64;
    /// The ids of the users tasks may be assigned to.
    fn owner_ids(&self) -> Vec<String>;
    fn contacts(&self) -> Vec<MockedContact>;
    fn tasks(&self) -> Vec<MockedTask>;
    /// Marks a task done as its owner would in the CRM's own interface; `false` if there is no such task.
    fn complete_task(&self, task_id: &str) -> bool;
    /// Access tokens the vendor's token endpoint has issued so far.
    fn tokens_issued(&self) -> u64;
    /// Makes every access token issued so far expire now: the next call with one is refused as the vendor refuses
    /// an expired token.
    fn expire_access_tokens(&self);
    /// Spends the account's whole daily (or 24-hour) request budget: calls are refused as the vendor refuses them
    /// when it is spent, until [`CrmMock::reset_daily_budget`].
    fn exhaust_daily_budget(&self);
    /// A fresh daily budget, as when the vendor's day (or rolling 24 hours) moves on.
    fn reset_daily_budget(&self);
}

/// What a check returns: `Err` says what the connector did wrong.
pub type CheckResult = Result<(), String>;

/// A check in progress.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// One check of the suite.
#[derive(Clone, Copy)]
pub struct Check {
    /// Says what is checked, e.g. `contacts are created in batches`.
    pub name: &'static str,
    pub run: for<'a> fn(&'a Arc<dyn Crm>, &'a dyn CrmMock) -> CheckFuture<'a>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Every check, in the order a connector's tests should run them (each on a fresh mock).
pub const CHECKS: &[Check] = &[
    Check { name: "set-up can be repeated", run: contacts::prepare_twice },
    Check { name: "contacts are created in batches, one result per input in input order", run: contacts::create_batch },
    Check {
        name: "contacts are found by phone and email in one batched search",
        run: contacts::find_by_phone_and_email,
    },
    Check { name: "owners are listed", run: contacts::list_owners },
    Check { name: "a task carries its owner, due time, priority, contact and external key", run: tasks::create_one },
    Check { name: "a batch with one refused task writes the others and names the refusal", run: tasks::partial_batch },
    Check { name: "an open task is updated in place", run: tasks::update_open },
    Check { name: "task states are read in one batch", run: tasks::read_states },
    Check { name: "a 429 is reported retriable with the vendor's Retry-After", run: failures::rate_limited },
    Check { name: "a 5xx is reported retriable and writes nothing", run: failures::server_error },
    Check { name: "a 400 is reported permanent with the vendor's message", run: failures::rejected },
    Check { name: "a lost answer is found again by external key, never written twice", run: failures::lost_answer },
    Check {
        name: "an answer in an undocumented shape is a protocol error that keeps the body",
        run: failures::undocumented_answer,
    },
    Check { name: "an expired access token is refreshed once and the call sent again", run: budget::expired_token },
    Check {
        name: "a spent daily budget pauses calls with a time to wait, and drops nothing",
        run: budget::daily_budget_spent,
    },
];

/// Runs every check on a fresh subject from `fresh` and returns the failures as `name: what went wrong` lines.
/// The subject's mock server must live as long as the check: `fresh` hands over whatever keeps it running as the
/// third element (dropped after the check).
pub async fn run_all<F, Fut, M, Keep>(mut fresh: F) -> Vec<String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Arc<dyn Crm>, M, Keep)>,
    M: CrmMock,
{
    let mut failures = Vec::new();
    for check in CHECKS {
        let (crm, mock, keep) = fresh().await;
        if let Err(error) = (check.run)(&crm, &mock).await {
            failures.push(format!("{} ({}): {error}", check.name, mock.vendor()));
        }
        drop(keep);
    }
    failures
}

/// `Err(message)` unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}
pub(crate) use ensure;

/// A name unique to this run, so that checks never meet each other's data.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The mock's requests made by `call`.
pub(crate) async fn requests_during<T>(mock: &dyn CrmMock, call: impl Future<Output = T>) -> (T, u64) {
    let before = mock.requests_received();
    let result = call.await;
    (result, mock.requests_received().saturating_sub(before))
}
