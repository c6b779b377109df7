//! The inbox on PostgreSQL: one multi-row `INSERT` per group commit, on whichever instance the webhook
//! reached, which also queues the rows in `inbox_pending`; unprocessed rows handed out from that queue under a
//! claim, so instances normalise different rows.

use async_trait::async_trait;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::webhook::Verified;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::{PostgresStore, claim_for};
use crate::store::{InboxEvent, InboxSelection, InboxStore, NewInboxEvent, StoreError, StoreResult};

/// Rows per `INSERT` (PostgreSQL binds at most 65,535 parameters; six per row).
const CHUNK: usize = 5000;

#[async_trait]
impl InboxStore for PostgresStore {
    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(events.len());
        for chunk in events.chunks(CHUNK) {
            // The rows and their places in the normalisers' queue, in one statement.
            let mut query = QueryBuilder::<Postgres>::new(
                "WITH new AS (INSERT INTO inbox (connector_id, source, received_at, query, headers, body) ",
            );
            query.push_values(chunk, |mut row, new| {
                row.push_bind(&new.connector_id)
                    .push_bind(new.source.as_str().to_owned())
                    .push_bind(new.event.received_at())
                    .push_bind(new.event.query().to_owned())
                    .push_bind(headers_json(new.event.headers()))
                    .push_bind(new.event.body().to_vec());
            });
            // Identity values are drawn in the VALUES list's order: the ids in order are the events' ids in order.
            query.push(
                " RETURNING id), queued AS (INSERT INTO inbox_pending (inbox_id) SELECT id FROM new) \
                 SELECT id FROM new ORDER BY id",
            );
            let rows = query.build().fetch_all(&mut *tx).await?;
            ids.extend(rows.iter().map(|row| row.get::<i64, _>(0)));
        }
        tx.commit().await?;
        // The normalisers of the other instances.
        super::wakeups::notify(&self.pool, &self.schema, &[crate::store::Wakeup::Inbox]).await;
        Ok(ids)
    }

    /// Claims the rows it hands out until [`super::CLAIM_FOR`] from now: rows another live instance claimed
    /// are skipped, rows this store claimed before (a round that failed) are handed out again, and a dead
    /// instance's claims lapse. The queue is `inbox_pending` (the rows not yet processed), never the whole inbox.
    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>> {
        // One statement. A row another instance is claiming right now is locked: SKIP LOCKED passes it by; one
        // whose claim committed after this statement's snapshot is re-read when locked, and fails the condition.
        let rows = sqlx::query(
            "WITH claimed AS (UPDATE inbox_pending SET claimed_by = $1, \
               claimed_until = clock_timestamp() + make_interval(secs => $3) \
               WHERE inbox_id IN (SELECT inbox_id FROM inbox_pending \
                 WHERE claimed_by IS NULL OR claimed_by = $1 OR claimed_until < clock_timestamp() \
                 ORDER BY inbox_id LIMIT $2 FOR UPDATE SKIP LOCKED) \
               RETURNING inbox_id) \
             SELECT i.id, i.connector_id, i.source, i.received_at, i.query, i.headers, i.body \
             FROM inbox i JOIN claimed c ON c.inbox_id = i.id ORDER BY i.id",
        )
        .bind(&self.instance)
        .bind(i64::from(limit))
        .bind(claim_for())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    async fn requeue_inbox(&self, selection: &InboxSelection) -> StoreResult<u64> {
        let mut query = QueryBuilder::<Postgres>::new("SELECT id FROM inbox WHERE TRUE");
        if let Some(since) = selection.since {
            query.push(" AND received_at >= ").push_bind(since);
        }
        if let Some(until) = selection.until {
            query.push(" AND received_at < ").push_bind(until);
        }
        if let Some(connector) = &selection.connector_id {
            query.push(" AND connector_id = ").push_bind(connector.clone());
        }
        if selection.quarantined_only {
            query.push(" AND id IN (SELECT inbox_id FROM quarantine)");
        }
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = query.build_query_scalar().fetch_all(&mut *tx).await?;
        for table in ["inbox_processed", "quarantine"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE inbox_id = ANY($1)")))
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
        }
        // Back in the queue, unclaimed: another instance takes the rows at once, not after a stale claim expires.
        sqlx::query(
            "INSERT INTO inbox_pending (inbox_id) SELECT UNNEST($1::BIGINT[]) \
             ON CONFLICT (inbox_id) DO UPDATE SET claimed_by = NULL, claimed_until = NULL",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        super::wakeups::notify(&self.pool, &self.schema, &[crate::store::Wakeup::Inbox]).await;
        Ok(ids.len() as u64)
    }
}

/// A row as the verified event it was committed as.
fn event(row: &PgRow) -> Result<InboxEvent, StoreError> {
    let id: i64 = row.get("id");
    let headers = parse_headers(row.get("headers"))
        .map_err(|error| StoreError::Corrupt(format!("inbox row {id}: headers: {error}")))?;
    let event = Verified::from_inbox_row(row.get("received_at"), row.get("query"), headers, row.get("body"));
    Ok(InboxEvent {
        id,
        connector_id: row.get("connector_id"),
        source: InboxSource::from_stored(row.get("source")),
        event,
    })
}

/// Kept headers as a JSON object (name -> value), as on SQLite.
fn headers_json(headers: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str()))).collect();
    serde_json::Value::Object(object).to_string()
}

fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    object
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(value) => Ok((name, value)),
            other => Err(format!("`{name}` is {other}, not a string")),
        })
        .collect()
}
