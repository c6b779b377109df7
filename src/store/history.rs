//! What `handoffd backtest` reads: the routing decisions recorded in a period, with the handoffs they were made
//! for, and the handoffs of the period that have no brief to go by. Reads only: a backtest never writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{HandoffRow, StoreResult};

/// One `routed` audit entry with what the backtest needs of its handoff.
#[derive(Clone, Debug)]
pub struct RecordedDecision {
    /// The audit entry's id: decisions replay in this order, the order the daemon made them in.
    pub audit_id: i64,
    /// When the decision was made.
    pub at: DateTime<Utc>,
    /// The audit entry's detail: `{owner, rule, reason, due: {at, reason}}` as the handoff maker wrote it.
    pub detail: serde_json::Value,
    pub handoff: HandoffRow,
    pub customer: CustomerLabel,
    /// The handoff's latest stored brief (JSON); `None` when none is stored.
    pub brief: Option<String>,
}

/// How a report names a customer: the name it gave, else the first key it was seen with.
#[derive(Clone, Debug, Default)]
pub struct CustomerLabel {
    pub id: String,
    pub name: Option<String>,
    /// The first raw key (a phone or an email) the customer was seen with.
    pub key: Option<String>,
}

/// A handoff of the period with no routing decision and no brief (its interpretation failed, or it was never
/// made): the backtest interprets its conversation again.
#[derive(Clone, Debug)]
pub struct UnroutedHandoff {
    pub handoff: HandoffRow,
    pub customer: CustomerLabel,
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// `routed` audit entries made in `[since, until)` with an id above `after`, in id order, at most `limit`.
    async fn recorded_decisions(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedDecision>>;

    /// Handoffs ready in `[since, until)` that have no `routed` audit entry and no brief (none stored, or the
    /// `null` of an interpretation that failed), oldest first.
    async fn unrouted_handoffs(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<UnroutedHandoff>>;

    /// How many routing decisions were recorded in `[since, until)`, for a progress bar's length.
    async fn count_recorded_decisions(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<u64>;
}
