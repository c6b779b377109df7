//! The history `handoffd backtest` replays (see `store::history`), on the shared pool.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::handoff_row;
use crate::store::{CustomerLabel, RecordedDecision, StoreError, StoreResult, UnroutedHandoff};

/// The handoff's columns, prefixed, and how the report names its customer.
const HANDOFF_AND_CUSTOMER: &str = "h.id, h.customer_id, h.state, h.opened_at, h.ready_at, h.ended_by, h.version, \
     h.crm_task_id, h.brief, c.display_name, \
     (SELECT raw FROM identities k WHERE k.customer_id = h.customer_id ORDER BY k.first_seen_at, k.match_key LIMIT 1) \
     AS first_key";

fn customer(row: &PgRow) -> CustomerLabel {
    CustomerLabel { id: row.get("customer_id"), name: row.get("display_name"), key: row.get("first_key") }
}

/// A stored brief, or `None` for none (and for the `null` an interpretation that failed leaves).
fn brief(row: &PgRow) -> Option<String> {
    row.get::<Option<String>, _>("brief").filter(|b| b.trim() != "null")
}

pub(super) async fn recorded_decisions(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<RecordedDecision>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT a.id AS audit_id, a.at AS decided_at, a.detail, {HANDOFF_AND_CUSTOMER} \
         FROM audit a JOIN handoffs h ON h.id = a.handoff_id JOIN customers c ON c.id = h.customer_id \
         WHERE a.event = 'routed' AND a.at >= $1 AND a.at < $2 AND a.id > $3 ORDER BY a.id LIMIT $4"
    )))
    .bind(since)
    .bind(until)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RecordedDecision {
                audit_id: row.get("audit_id"),
                at: row.get("decided_at"),
                detail: serde_json::from_str(row.get("detail"))
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                handoff: handoff_row(row)?,
                customer: customer(row),
                brief: brief(row),
            })
        })
        .collect()
}

pub(super) async fn count_recorded_decisions(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<u64> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE event = 'routed' AND at >= $1 AND at < $2")
        .bind(since)
        .bind(until)
        .fetch_one(pool)
        .await?;
    Ok(count.max(0) as u64)
}

pub(super) async fn unrouted_handoffs(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Vec<UnroutedHandoff>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {HANDOFF_AND_CUSTOMER} FROM handoffs h JOIN customers c ON c.id = h.customer_id \
         WHERE h.ready_at >= $1 AND h.ready_at < $2 AND (h.brief IS NULL OR h.brief = 'null') \
         AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.handoff_id = h.id AND a.event = 'routed') \
         ORDER BY h.ready_at, h.id"
    )))
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| Ok(UnroutedHandoff { handoff: handoff_row(row)?, customer: customer(row) })).collect()
}

#[async_trait::async_trait]
impl crate::store::HistoryStore for super::PostgresStore {
    async fn recorded_decisions(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedDecision>> {
        recorded_decisions(&self.pool, since, until, after, limit).await
    }

    async fn unrouted_handoffs(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<UnroutedHandoff>> {
        unrouted_handoffs(&self.pool, since, until).await
    }

    async fn count_recorded_decisions(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<u64> {
        count_recorded_decisions(&self.pool, since, until).await
    }
}
