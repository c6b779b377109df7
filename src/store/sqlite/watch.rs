//! The SLA watcher's rows in SQLite: watched tasks, ladder progress, confirmations, opt-outs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::SqliteStore;
use crate::store::*;

#[async_trait]
impl WatchStore for SqliteStore {
    async fn watched_tasks(&self, crm_id: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<WatchedTask>> {
        // The handoff's customer, not the row's: a merge since the task was written moved the handoff.
        let rows = sqlx::query(
            "SELECT w.handoff_id, h.customer_id, w.crm_id, w.task_id, w.payload, w.written_at, w.steps_done, \
             cc.contact_id, c.state AS confirmation, \
             (SELECT MAX(i.at) FROM interactions i WHERE i.customer_id = h.customer_id AND i.speaker = 'customer') \
               AS last_inbound_at, ho.pool, ho.confirm \
             FROM watched_tasks w JOIN handoffs h ON h.id = w.handoff_id \
             LEFT JOIN handoff_owners ho ON ho.handoff_id = w.handoff_id \
             LEFT JOIN crm_contacts cc ON cc.customer_id = h.customer_id AND cc.crm_id = w.crm_id \
             LEFT JOIN confirmations c ON c.handoff_id = w.handoff_id \
             WHERE w.crm_id = ? AND w.completed_at IS NULL AND h.state = ? AND w.handoff_id > ? \
             ORDER BY w.handoff_id LIMIT ?",
        )
        .bind(crm_id)
        .bind(HandoffState::Open.as_str())
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WatchedTask {
                    handoff_id: row.get("handoff_id"),
                    customer_id: row.get("customer_id"),
                    crm_id: row.get("crm_id"),
                    task_id: row.get("task_id"),
                    payload: row.get("payload"),
                    written_at: parse_ts(row.get("written_at"))?,
                    steps_done: row.get::<i64, _>("steps_done") as u32,
                    contact_id: row.get("contact_id"),
                    confirmation: row
                        .get::<Option<String>, _>("confirmation")
                        .map(|state| ConfirmationState::parse(&state))
                        .transpose()?,
                    last_inbound_at: row
                        .get::<Option<String>, _>("last_inbound_at")
                        .map(|at| parse_ts(&at))
                        .transpose()?,
                    pool: row.get("pool"),
                    confirm: row.get("confirm"),
                })
            })
            .collect()
    }

    async fn tasks_completed(
        &self,
        completed: &[(String, AuditEntry)],
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let at = format_ts(now);
        for (handoff_id, audit) in completed {
            // Marked once: an answer read again records nothing more.
            let marked = sqlx::query(
                "UPDATE watched_tasks SET completed_at = ?, checked_at = ? WHERE handoff_id = ? AND completed_at IS NULL",
            )
            .bind(&at)
            .bind(&at)
            .bind(handoff_id)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            super::transition_handoff(&mut tx, handoff_id, transition, &at).await?;
            super::insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_escalation(&self, record: &EscalationRecord) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE watched_tasks SET steps_done = ");
        query.push_bind(record.steps_after as i64);
        query.push(", checked_at = ").push_bind(format_ts(record.now));
        if let Some(payload) = &record.payload {
            query.push(", payload = ").push_bind(payload.clone());
        }
        if let Some((owner_id, pool)) = &record.reassigned {
            query.push(", escalated_owner_id = ").push_bind(owner_id.clone());
            query.push(", escalated_pool = ").push_bind(pool.clone());
        }
        if let Some(priority) = record.raised_priority {
            query.push(", escalated_priority = ").push_bind(priority_column(priority));
        }
        query.push(" WHERE handoff_id = ").push_bind(record.handoff_id.clone());
        query.push(" AND steps_done = ").push_bind(record.steps_before as i64);
        if query.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some((owner_id, pool)) = &record.reassigned {
            sqlx::query(
                "INSERT INTO handoff_owners (handoff_id, owner_id, pool, assigned_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (handoff_id) DO UPDATE SET owner_id = excluded.owner_id, pool = excluded.pool, \
                 assigned_at = excluded.assigned_at",
            )
            .bind(&record.handoff_id)
            .bind(owner_id)
            .bind(pool)
            .bind(format_ts(record.now))
            .execute(&mut *tx)
            .await?;
        }
        for entry in &record.audit {
            super::insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_confirmation(
        &self,
        handoff_id: &str,
        customer_id: &str,
        messenger_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let claimed = sqlx::query(
            "INSERT INTO confirmations (handoff_id, customer_id, messenger_id, state, at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (handoff_id) DO NOTHING",
        )
        .bind(handoff_id)
        .bind(customer_id)
        .bind(messenger_id)
        .bind(ConfirmationState::Sending.as_str())
        .bind(format_ts(now))
        .execute(&self.writer)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn settle_confirmation(&self, settled: &ConfirmationSettled) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE confirmations SET state = ?, message_id = ?, detail = ?, at = ? WHERE handoff_id = ?")
            .bind(settled.state.as_str())
            .bind(&settled.message_id)
            .bind(&settled.detail)
            .bind(format_ts(settled.audit.at))
            .bind(&settled.handoff_id)
            .execute(&mut *tx)
            .await?;
        super::insert_audit(&mut tx, &settled.audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_confirmation(&self, handoff_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM confirmations WHERE handoff_id = ? AND state = ?")
            .bind(handoff_id)
            .bind(ConfirmationState::Sending.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn opted_out(&self, customer_id: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "WITH RECURSIVE {MERGED} SELECT 1 FROM opt_outs WHERE customer_id IN (SELECT id FROM merged) LIMIT 1"
        )))
        .bind(customer_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }
}

/// The customer bound to the first parameter and every customer merged into it (merges not undone, merges of
/// merges too): a consent given under any of them is the merged customer's.
const MERGED: &str = "merged(id) AS (SELECT ? UNION \
     SELECT m.absorbed_id FROM merges m JOIN merged ON m.survivor_id = merged.id WHERE m.undone_at IS NULL)";

/// A task written for a handoff is watched from now on (in the delivery's transaction); a task written again
/// (an update after a newer brief) keeps its ladder's progress.
pub(super) async fn watch_task(
    tx: &mut Transaction<'_, Sqlite>,
    job: &OutboxJob,
    task_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO watched_tasks (handoff_id, customer_id, crm_id, task_id, payload, written_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (handoff_id) DO UPDATE SET crm_id = excluded.crm_id, \
         task_id = excluded.task_id, payload = excluded.payload, written_at = excluded.written_at, completed_at = NULL",
    )
    .bind(&job.handoff_id)
    .bind(&job.customer_id)
    .bind(&job.crm_id)
    .bind(task_id)
    .bind(&job.payload)
    .bind(format_ts(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `PipelineTx::set_opt_out`, inside the pipeline's transaction.
pub(super) async fn set_opt_out(
    tx: &mut Transaction<'_, Sqlite>,
    customer_id: &str,
    opted_out: bool,
    interaction_id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if opted_out {
        sqlx::query(
            "INSERT INTO opt_outs (customer_id, interaction_id, at) VALUES (?, ?, ?) \
             ON CONFLICT (customer_id) DO UPDATE SET interaction_id = excluded.interaction_id, at = excluded.at",
        )
        .bind(customer_id)
        .bind(interaction_id)
        .bind(format_ts(at))
        .execute(&mut **tx)
        .await?;
    } else {
        // START from the merged customer lifts a STOP sent under any customer merged into it.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH RECURSIVE {MERGED} DELETE FROM opt_outs WHERE customer_id IN (SELECT id FROM merged)"
        )))
        .bind(customer_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
