//! Delivery on PostgreSQL: the outbox's leases (taken with `FOR UPDATE SKIP LOCKED`, so two instances never
//! lease one job), in-flight marks and outcomes, the customers' CRM contacts, and the dead letters.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

use super::{PostgresStore, dead_letter};
use crate::store::*;

/// Jobs `worker` may lease: due, and unleased, or leased past their expiry, or its own but not `busy`.
const LEASABLE: &str = "crm_id = $1 AND next_attempt_at <= $2 \
     AND (locked_until IS NULL OR locked_until < $2 OR locked_by = $3) AND NOT (id = ANY($4))";

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn lease_jobs(
        &self,
        crm_id: &str,
        worker: &str,
        busy: &[i64],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxJob>> {
        // Our own leases count too, but for the round still being written: a job leased to us and not busy
        // was left by a failed round or by our previous life (kill -9); take it back now rather than later.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH leased AS (UPDATE outbox SET locked_until = $5, locked_by = $3 WHERE id IN \
             (SELECT id FROM outbox WHERE {LEASABLE} ORDER BY next_attempt_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
             RETURNING id, handoff_id, crm_id, payload, version, attempts, in_flight, next_attempt_at) \
             SELECT l.id, l.handoff_id, h.customer_id, l.crm_id, l.payload, l.version, l.attempts, l.in_flight, \
             h.crm_task_id, h.ready_at FROM leased l JOIN handoffs h ON h.id = l.handoff_id ORDER BY l.next_attempt_at, l.id"
        )))
        .bind(crm_id)
        .bind(now)
        .bind(worker)
        .bind(busy)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
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
                in_flight: row.get("in_flight"),
                crm_task_id: row.get("crm_task_id"),
                ready_at: row.get("ready_at"),
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS count, MIN(next_attempt_at) AS oldest FROM (SELECT next_attempt_at FROM outbox \
             WHERE {LEASABLE} ORDER BY next_attempt_at LIMIT $5) AS due"
        )))
        .bind(crm_id)
        .bind(now)
        .bind(worker)
        .bind(busy)
        .bind(i64::from(limit))
        .fetch_one(&self.pool)
        .await?;
        Ok(DueJobs { count: row.get::<i64, _>("count") as u32, oldest: row.get("oldest") })
    }

    async fn release_jobs_of_others(&self, crm_id: &str, worker: &str) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE outbox SET locked_until = NULL, locked_by = NULL WHERE crm_id = $1 AND locked_by <> $2",
        )
        .bind(crm_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn mark_in_flight(&self, job_ids: &[i64]) -> StoreResult<()> {
        if job_ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, in_flight = TRUE WHERE id = ANY($1)")
            .bind(job_ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn crm_contacts_of(&self, crm_id: &str, customer_ids: &[String]) -> StoreResult<HashMap<String, String>> {
        let rows =
            sqlx::query("SELECT customer_id, contact_id FROM crm_contacts WHERE crm_id = $1 AND customer_id = ANY($2)")
                .bind(crm_id)
                .bind(customer_ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|row| (row.get("customer_id"), row.get("contact_id"))).collect())
    }

    async fn set_crm_contacts(
        &self,
        crm_id: &str,
        contacts: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        // The last of a customer listed twice wins, as one statement per contact would have it.
        let mut latest: Vec<(&str, &str)> = Vec::new();
        for (customer, contact) in contacts {
            match latest.iter_mut().find(|(c, _)| c == customer) {
                Some(entry) => entry.1 = contact,
                None => latest.push((customer, contact)),
            }
        }
        let (customers, contact_ids): (Vec<&str>, Vec<&str>) = latest.into_iter().unzip();
        sqlx::query(
            "INSERT INTO crm_contacts (customer_id, crm_id, contact_id, updated_at) \
             SELECT c.customer_id, $3, c.contact_id, $4 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS c (customer_id, contact_id) \
             ON CONFLICT (customer_id, crm_id) DO UPDATE SET contact_id = excluded.contact_id, \
             updated_at = excluded.updated_at",
        )
        .bind(&customers)
        .bind(&contact_ids)
        .bind(crm_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn jobs_delivered(
        &self,
        delivered: &[(&OutboxJob, String)],
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if delivered.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        jobs_delivered(&mut tx, delivered, transition, now).await?;
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
        sqlx::query(
            "UPDATE outbox SET locked_until = NULL, locked_by = NULL, next_attempt_at = $1, last_error = $2, \
             in_flight = $3, attempts = $4 WHERE id = $5",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(outcome_unknown)
        .bind(i64::from(attempts))
        .bind(job_id)
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO dead_letters (handoff_id, crm_id, payload, version, attempts, last_error, failed_at) \
             SELECT handoff_id, crm_id, payload, version, GREATEST(attempts, $1), $2, $3 FROM outbox WHERE id = $4",
        )
        .bind(i64::from(job.attempts) + 1)
        .bind(error)
        .bind(now)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM outbox WHERE id = $1").bind(job.id).execute(&mut *tx).await?;
        super::transition_handoff(&mut tx, &job.handoff_id, transition, now).await?;
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
impl DeadLetterStore for PostgresStore {
    async fn list_dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM dead_letters ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dead_letter).collect()
    }

    async fn get_dead_letter(&self, id: i64) -> StoreResult<DeadLetter> {
        let row = sqlx::query("SELECT * FROM dead_letters WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
        dead_letter(&row)
    }

    async fn replay_dead_letter(&self, id: i64, transition: HandoffTransition, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // in_flight: the failed attempt may have reached the CRM, so look before writing.
        let moved = sqlx::query(
            "INSERT INTO outbox (handoff_id, crm_id, payload, version, attempts, next_attempt_at, in_flight, created_at) \
             SELECT handoff_id, crm_id, payload, version, 0, $1, TRUE, $1 FROM dead_letters WHERE id = $2 \
             ON CONFLICT (handoff_id) DO NOTHING",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let handoff_id: Option<String> =
            sqlx::query_scalar("DELETE FROM dead_letters WHERE id = $1 RETURNING handoff_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(handoff_id) = handoff_id else {
            return Err(StoreError::NotFound(format!("dead letter {id}")));
        };
        if moved.rows_affected() > 0 {
            super::transition_handoff(&mut tx, &handoff_id, transition, now).await?;
        }
        tx.commit().await?;
        if moved.rows_affected() > 0 {
            // `handoffd dlq replay` runs apart from the daemons: wake their delivery.
            super::wakeups::notify(&self.pool, &self.schema, &[Wakeup::Outbox]).await;
        }
        Ok(())
    }

    async fn drop_dead_letter(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM dead_letters WHERE id = $1").bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("dead letter {id}")));
        }
        Ok(())
    }
}

/// Delivered jobs, inside the caller's transaction: remember each task, open each handoff, and finish each job
/// unless a newer brief arrived meanwhile. A few statements for the whole batch, not five a job: the normaliser's
/// rounds touch the same handoffs, and each statement held their rows longer. The handoffs are locked first, in id
/// order (as a normaliser's round locks the handoffs it touches), so two transactions never wait on each other's
/// rows in opposite orders.
async fn jobs_delivered(
    tx: &mut Transaction<'_, Postgres>,
    delivered: &[(&OutboxJob, String)],
    transition: HandoffTransition,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let handoff_ids: Vec<&str> = delivered.iter().map(|(job, _)| job.handoff_id.as_str()).collect();
    let task_ids: Vec<&str> = delivered.iter().map(|(_, task_id)| task_id.as_str()).collect();
    let crm_ids: Vec<&str> = delivered.iter().map(|(job, _)| job.crm_id.as_str()).collect();
    sqlx::query("SELECT id FROM handoffs WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&handoff_ids)
        .execute(&mut **tx)
        .await?;
    // The task id, and `transition` where the handoff is in one of its states (`transition_handoff`, per row).
    sqlx::query(
        "UPDATE handoffs h SET crm_task_id = d.task_id, crm_id = d.crm_id, \
         state = CASE WHEN h.state = ANY($4) THEN $5 ELSE h.state END, \
         closed_at = CASE WHEN h.state = ANY($4) AND $6 THEN $7 ELSE h.closed_at END \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS d (handoff_id, task_id, crm_id) WHERE h.id = d.handoff_id",
    )
    .bind(&handoff_ids)
    .bind(&task_ids)
    .bind(&crm_ids)
    .bind(super::pipeline::states(transition.from))
    .bind(transition.to.as_str())
    .bind(transition.to == HandoffState::Closed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    super::watch::watch_tasks(tx, delivered, now).await?;
    let job_ids: Vec<i64> = delivered.iter().map(|(job, _)| job.id).collect();
    let versions: Vec<i64> = delivered.iter().map(|(job, _)| job.version).collect();
    let finished: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM outbox o USING UNNEST($1::BIGINT[], $2::BIGINT[]) AS d (id, version) \
         WHERE o.id = d.id AND o.version = d.version RETURNING o.id",
    )
    .bind(&job_ids)
    .bind(&versions)
    .fetch_all(&mut **tx)
    .await?;
    // A newer brief replaced these payloads while they were in flight: deliver them next, as updates.
    let replaced: Vec<i64> = job_ids.iter().copied().filter(|id| !finished.contains(id)).collect();
    if !replaced.is_empty() {
        sqlx::query(
            "UPDATE outbox SET locked_until = NULL, locked_by = NULL, in_flight = FALSE, attempts = 0, \
             last_error = NULL WHERE id = ANY($1)",
        )
        .bind(&replaced)
        .execute(&mut **tx)
        .await?;
    }
    let entries: Vec<AuditEntry> = delivered
        .iter()
        .map(|(job, task_id)| AuditEntry {
            at: now,
            handoff_id: Some(job.handoff_id.clone()),
            customer_id: Some(job.customer_id.clone()),
            event: if job.crm_task_id.is_some() { "task_updated" } else { "task_created" }.to_owned(),
            detail: serde_json::json!({"crm": job.crm_id, "task_id": task_id, "version": job.version, "attempts": job.attempts + 1}),
        })
        .collect();
    super::insert_audits(tx, &entries).await
}
