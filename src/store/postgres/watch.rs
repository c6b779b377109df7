//! The SLA watcher's rows in PostgreSQL: watched tasks, ladder progress, confirmations, opt-outs. Several
//! instances may share them: each ladder step is recorded by a compare-and-set, each confirmation claimed once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

use super::PostgresStore;
use crate::store::*;

#[async_trait]
impl WatchStore for PostgresStore {
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
             WHERE w.crm_id = $1 AND w.completed_at IS NULL AND h.state = $2 AND w.handoff_id > $3 \
             ORDER BY w.handoff_id LIMIT $4",
        )
        .bind(crm_id)
        .bind(HandoffState::Open.as_str())
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WatchedTask {
                    handoff_id: row.get("handoff_id"),
                    customer_id: row.get("customer_id"),
                    crm_id: row.get("crm_id"),
                    task_id: row.get("task_id"),
                    payload: row.get("payload"),
                    written_at: row.get("written_at"),
                    steps_done: row.get::<i64, _>("steps_done") as u32,
                    contact_id: row.get("contact_id"),
                    confirmation: row
                        .get::<Option<String>, _>("confirmation")
                        .map(|state| ConfirmationState::parse(&state))
                        .transpose()?,
                    last_inbound_at: row.get("last_inbound_at"),
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
        let mut tx = self.pool.begin().await?;
        for (handoff_id, audit) in completed {
            // Marked once: another instance that read the same answer records nothing more.
            let marked =
                sqlx::query("UPDATE watched_tasks SET completed_at = $1, checked_at = $1 WHERE handoff_id = $2 AND completed_at IS NULL")
                    .bind(now)
                    .bind(handoff_id)
                    .execute(&mut *tx)
                    .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            super::transition_handoff(&mut tx, handoff_id, transition, now).await?;
            super::insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_escalation(&self, record: &EscalationRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE watched_tasks SET steps_done = $1, checked_at = $2, payload = COALESCE($3, payload), \
             escalated_owner_id = COALESCE($6, escalated_owner_id), escalated_pool = COALESCE($7, escalated_pool), \
             escalated_priority = COALESCE($8, escalated_priority) \
             WHERE handoff_id = $4 AND steps_done = $5",
        )
        .bind(i64::from(record.steps_after))
        .bind(record.now)
        .bind(&record.payload)
        .bind(&record.handoff_id)
        .bind(i64::from(record.steps_before))
        .bind(record.reassigned.as_ref().map(|(owner, _)| owner))
        .bind(record.reassigned.as_ref().map(|(_, pool)| pool))
        .bind(record.raised_priority.map(priority_column))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some((owner_id, pool)) = &record.reassigned {
            sqlx::query(
                "INSERT INTO handoff_owners (handoff_id, owner_id, pool, assigned_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (handoff_id) DO UPDATE SET owner_id = excluded.owner_id, pool = excluded.pool, \
                 assigned_at = excluded.assigned_at",
            )
            .bind(&record.handoff_id)
            .bind(owner_id)
            .bind(pool)
            .bind(record.now)
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
            "INSERT INTO confirmations (handoff_id, customer_id, messenger_id, state, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (handoff_id) DO NOTHING",
        )
        .bind(handoff_id)
        .bind(customer_id)
        .bind(messenger_id)
        .bind(ConfirmationState::Sending.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn settle_confirmation(&self, settled: &ConfirmationSettled) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE confirmations SET state = $1, message_id = $2, detail = $3, at = $4 WHERE handoff_id = $5")
            .bind(settled.state.as_str())
            .bind(&settled.message_id)
            .bind(&settled.detail)
            .bind(settled.audit.at)
            .bind(&settled.handoff_id)
            .execute(&mut *tx)
            .await?;
        super::insert_audit(&mut tx, &settled.audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_confirmation(&self, handoff_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM confirmations WHERE handoff_id = $1 AND state = $2")
            .bind(handoff_id)
            .bind(ConfirmationState::Sending.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn opted_out(&self, customer_id: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "WITH RECURSIVE {MERGED} SELECT 1 FROM opt_outs WHERE customer_id IN (SELECT id FROM merged) LIMIT 1"
        )))
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

/// The customer bound to `$1` and every customer merged into it (see the SQLite store's `MERGED`).
const MERGED: &str = "merged(id) AS (SELECT $1::TEXT UNION \
     SELECT m.absorbed_id FROM merges m JOIN merged ON m.survivor_id = merged.id WHERE m.undone_at IS NULL)";

/// Tasks written for handoffs are watched from now on (in the delivery's transaction), in one statement; a task
/// written again (an update after a newer brief) keeps its ladder's progress. A handoff listed twice keeps its last.
pub(super) async fn watch_tasks(
    tx: &mut Transaction<'_, Postgres>,
    delivered: &[(&OutboxJob, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut last: Vec<&(&OutboxJob, String)> = Vec::with_capacity(delivered.len());
    for entry in delivered {
        match last.iter_mut().find(|kept| kept.0.handoff_id == entry.0.handoff_id) {
            Some(kept) => *kept = entry,
            None => last.push(entry),
        }
    }
    let delivered = last;
    let handoff_ids: Vec<&str> = delivered.iter().map(|(job, _)| job.handoff_id.as_str()).collect();
    let customer_ids: Vec<&str> = delivered.iter().map(|(job, _)| job.customer_id.as_str()).collect();
    let crm_ids: Vec<&str> = delivered.iter().map(|(job, _)| job.crm_id.as_str()).collect();
    let task_ids: Vec<&str> = delivered.iter().map(|(_, task_id)| task_id.as_str()).collect();
    let payloads: Vec<&str> = delivered.iter().map(|(job, _)| job.payload.as_str()).collect();
    sqlx::query(
        "INSERT INTO watched_tasks (handoff_id, customer_id, crm_id, task_id, payload, written_at) \
         SELECT handoff_id, customer_id, crm_id, task_id, payload, $6 \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) \
           AS w (handoff_id, customer_id, crm_id, task_id, payload) \
         ON CONFLICT (handoff_id) DO UPDATE SET crm_id = EXCLUDED.crm_id, \
         task_id = EXCLUDED.task_id, payload = EXCLUDED.payload, written_at = EXCLUDED.written_at, completed_at = NULL",
    )
    .bind(&handoff_ids)
    .bind(&customer_ids)
    .bind(&crm_ids)
    .bind(&task_ids)
    .bind(&payloads)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `PipelineTx::set_opt_out`, inside the pipeline's transaction.
pub(super) async fn set_opt_out(
    tx: &mut Transaction<'_, Postgres>,
    customer_id: &str,
    opted_out: bool,
    interaction_id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if opted_out {
        sqlx::query(
            "INSERT INTO opt_outs (customer_id, interaction_id, at) VALUES ($1, $2, $3) \
             ON CONFLICT (customer_id) DO UPDATE SET interaction_id = EXCLUDED.interaction_id, at = EXCLUDED.at",
        )
        .bind(customer_id)
        .bind(interaction_id)
        .bind(at)
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
