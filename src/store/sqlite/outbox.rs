//! Delivery in SQLite: the outbox's leases, in-flight marks and outcomes, the customers' CRM contacts, and the
//! dead letters. Delivery's writes take the urgent turn at the writer (see `turns`): they sit between CRM calls.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{SqliteStore, dead_letter, push_list};
use crate::store::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn lease_jobs(
        &self,
        crm_id: &str,
        worker: &str,
        busy: &[i64],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxJob>> {
        let _turn = self.turns.urgent();
        let now = format_ts(now);
        let mut tx = self.writer.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outbox SET locked_until = ?, locked_by = ? WHERE id IN (SELECT id FROM outbox WHERE crm_id = ? \
             AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ? OR locked_by = ?) \
             AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id",
        )
        .bind(format_ts(lease_until))
        .bind(worker)
        .bind(crm_id)
        .bind(&now)
        .bind(&now)
        // Our own leases too, but for the round still being written: a job leased to us and not busy was
        // left by a failed round or by our previous life (a crash, kill -9): take it back now rather than
        // after the lease expires.
        .bind(worker)
        .bind(serde_json::to_string(busy).unwrap_or_else(|_| "[]".to_owned()))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT o.id, o.handoff_id, h.customer_id, o.crm_id, o.payload, o.version, o.attempts, o.in_flight, \
             h.crm_task_id, h.ready_at FROM outbox o JOIN handoffs h ON h.id = o.handoff_id WHERE o.id IN (",
        );
        let mut list = query.separated(", ");
        for id in &ids {
            list.push_bind(id);
        }
        query.push(") ORDER BY o.next_attempt_at, o.id");
        let rows = query.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|row| OutboxJob {
                id: row.get("id"),
                handoff_id: row.get("handoff_id"),
                customer_id: row.get("customer_id"),
                crm_id: row.get("crm_id"),
                payload: row.get("payload"),
                version: row.get("version"),
                attempts: row.get::<i64, _>("attempts") as u32,
                in_flight: row.get::<i64, _>("in_flight") != 0,
                crm_task_id: row.get("crm_task_id"),
                ready_at: row.get::<Option<String>, _>("ready_at").as_deref().and_then(|t| parse_ts(t).ok()),
            })
            .collect())
    }

    async fn outbox_due(
        &self,
        crm_id: &str,
        worker: &str,
        busy: &[i64],
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<DueJobs> {
        let now = format_ts(now);
        let row = sqlx::query(
            "SELECT COUNT(*) AS count, MIN(next_attempt_at) AS oldest FROM (SELECT next_attempt_at FROM outbox \
             WHERE crm_id = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ? OR locked_by = ?) \
             AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY next_attempt_at LIMIT ?)",
        )
        .bind(crm_id)
        .bind(&now)
        .bind(&now)
        .bind(worker)
        .bind(serde_json::to_string(busy).unwrap_or_else(|_| "[]".to_owned()))
        .bind(limit)
        .fetch_one(&self.reader)
        .await?;
        let oldest: Option<String> = row.get("oldest");
        Ok(DueJobs { count: row.get::<i64, _>("count") as u32, oldest: oldest.as_deref().map(parse_ts).transpose()? })
    }

    async fn release_jobs_of_others(&self, crm_id: &str, worker: &str) -> StoreResult<u64> {
        let _turn = self.turns.urgent();
        let done =
            sqlx::query("UPDATE outbox SET locked_until = NULL, locked_by = NULL WHERE crm_id = ? AND locked_by <> ?")
                .bind(crm_id)
                .bind(worker)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected())
    }

    async fn mark_in_flight(&self, job_ids: &[i64]) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        if job_ids.is_empty() {
            return Ok(());
        }
        let mut query =
            QueryBuilder::<Sqlite>::new("UPDATE outbox SET attempts = attempts + 1, in_flight = 1 WHERE id IN (");
        let mut list = query.separated(", ");
        for id in job_ids {
            list.push_bind(id);
        }
        query.push(")");
        query.build().execute(&self.writer).await?;
        Ok(())
    }

    async fn crm_contacts_of(&self, crm_id: &str, customer_ids: &[String]) -> StoreResult<HashMap<String, String>> {
        let mut found = HashMap::new();
        for chunk in customer_ids.chunks(1000) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT customer_id, contact_id FROM crm_contacts WHERE crm_id = ");
            query.push_bind(crm_id).push(" AND customer_id IN (");
            push_list(&mut query, chunk);
            for row in query.build().fetch_all(&self.reader).await? {
                found.insert(row.get("customer_id"), row.get("contact_id"));
            }
        }
        Ok(found)
    }

    async fn set_crm_contacts(
        &self,
        crm_id: &str,
        contacts: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let now = format_ts(now);
        let mut tx = self.writer.begin().await?;
        for (customer_id, contact_id) in contacts {
            sqlx::query(
                "INSERT INTO crm_contacts (customer_id, crm_id, contact_id, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (customer_id, crm_id) DO UPDATE SET contact_id = excluded.contact_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(customer_id)
            .bind(crm_id)
            .bind(contact_id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn jobs_delivered(
        &self,
        delivered: &[(&OutboxJob, String)],
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        for (job, task_id) in delivered {
            job_delivered(&mut tx, job, task_id, transition, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job_retry(
        &self,
        job_id: i64,
        attempts: u32,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        outcome_unknown: bool,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        sqlx::query(
            "UPDATE outbox SET locked_until = NULL, locked_by = NULL, next_attempt_at = ?, last_error = ?, in_flight = ?, \
             attempts = ? WHERE id = ?",
        )
        .bind(format_ts(next_attempt_at))
        .bind(error)
        .bind(outcome_unknown as i64)
        .bind(attempts as i64)
        .bind(job_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn job_dead(
        &self,
        job: &OutboxJob,
        error: &str,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO dead_letters (handoff_id, crm_id, payload, version, attempts, last_error, failed_at) \
             SELECT handoff_id, crm_id, payload, version, MAX(attempts, ?), ?, ? FROM outbox WHERE id = ?",
        )
        .bind(job.attempts as i64 + 1)
        .bind(error)
        .bind(format_ts(now))
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM outbox WHERE id = ?").bind(job.id).execute(&mut *tx).await?;
        super::transition_handoff(&mut tx, &job.handoff_id, transition, &format_ts(now)).await?;
        super::insert_audit(
            &mut tx,
            &AuditEntry {
                at: now,
                handoff_id: Some(job.handoff_id.clone()),
                customer_id: Some(job.customer_id.clone()),
                event: "dead_lettered".to_owned(),
                detail: serde_json::json!({"crm": job.crm_id, "error": error}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for SqliteStore {
    async fn list_dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(dead_letter).collect()
    }

    async fn get_dead_letter(&self, id: i64) -> StoreResult<DeadLetter> {
        let row = sqlx::query("SELECT * FROM dead_letters WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
        dead_letter(&row)
    }

    async fn replay_dead_letter(&self, id: i64, transition: HandoffTransition, now: DateTime<Utc>) -> StoreResult<()> {
        let now = format_ts(now);
        let mut tx = self.writer.begin().await?;
        // in_flight = 1: the failed attempt may have reached the CRM, so look before writing.
        let moved = sqlx::query(
            "INSERT INTO outbox (handoff_id, crm_id, payload, version, attempts, next_attempt_at, in_flight, created_at) \
             SELECT handoff_id, crm_id, payload, version, 0, ?, 1, ? FROM dead_letters WHERE id = ? \
             ON CONFLICT (handoff_id) DO NOTHING",
        )
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let handoff_id: Option<String> =
            sqlx::query_scalar("DELETE FROM dead_letters WHERE id = ? RETURNING handoff_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(handoff_id) = handoff_id else {
            return Err(StoreError::NotFound(format!("dead letter {id}")));
        };
        if moved.rows_affected() > 0 {
            super::transition_handoff(&mut tx, &handoff_id, transition, &now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn drop_dead_letter(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM dead_letters WHERE id = ?").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("dead letter {id}")));
        }
        Ok(())
    }
}

/// One delivered job, inside the caller's transaction: remember the task, open the handoff, and
/// finish the job unless a newer brief arrived meanwhile.
async fn job_delivered(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    job: &OutboxJob,
    task_id: &str,
    transition: HandoffTransition,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE handoffs SET crm_task_id = ?, crm_id = ? WHERE id = ?")
        .bind(task_id)
        .bind(&job.crm_id)
        .bind(&job.handoff_id)
        .execute(&mut **tx)
        .await?;
    super::transition_handoff(tx, &job.handoff_id, transition, &format_ts(now)).await?;
    super::watch::watch_task(tx, job, task_id, now).await?;
    let finished = sqlx::query("DELETE FROM outbox WHERE id = ? AND version = ?")
        .bind(job.id)
        .bind(job.version)
        .execute(&mut **tx)
        .await?;
    if finished.rows_affected() == 0 {
        // A newer brief replaced the payload while this one was in flight: deliver it next,
        // as an update of the task just written.
        sqlx::query(
            "UPDATE outbox SET locked_until = NULL, locked_by = NULL, in_flight = 0, attempts = 0, last_error = NULL \
             WHERE id = ?",
        )
        .bind(job.id)
        .execute(&mut **tx)
        .await?;
    }
    let event = if job.crm_task_id.is_some() { "task_updated" } else { "task_created" };
    super::insert_audit(
        tx,
        &AuditEntry {
            at: now,
            handoff_id: Some(job.handoff_id.clone()),
            customer_id: Some(job.customer_id.clone()),
            event: event.to_owned(),
            detail: serde_json::json!({"crm": job.crm_id, "task_id": task_id, "version": job.version, "attempts": job.attempts + 1}),
        },
    )
    .await
}
