//! The inbox on PostgreSQL: one multi-row `INSERT` per group commit, on whichever instance the webhook
//! reached; unprocessed rows handed out under a claim, so instances normalise different rows.

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
            let mut query = QueryBuilder::<Postgres>::new(
                "INSERT INTO inbox (connector_id, source, received_at, query, headers, body) ",
            );
            query.push_values(chunk, |mut row, new| {
                row.push_bind(&new.connector_id)
                    .push_bind(new.source.as_str().to_owned())
                    .push_bind(new.event.received_at())
                    .push_bind(new.event.query().to_owned())
                    .push_bind(headers_json(new.event.headers()))
                    .push_bind(new.event.body().to_vec());
            });
            // RETURNING follows the VALUES list's order, and identity values are drawn in that order.
            query.push(" RETURNING id");
            let rows = query.build().fetch_all(&mut *tx).await?;
            ids.extend(rows.iter().map(|row| row.get::<i64, _>(0)));
        }
        // The normalisers of the other instances.
        super::wakeups::notify(&mut tx, &self.schema, crate::store::Wakeup::Inbox).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims the rows it hands out until [`super::CLAIM_FOR`] from now: rows another live instance claimed
    /// are skipped, rows this store claimed before (a round that failed) are handed out again, and a dead
    /// instance's claims lapse.
    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>> {
        let mut tx = self.pool.begin().await?;
        // Rows being claimed by another instance right now are locked: SKIP LOCKED passes them by. A claim
        // committed between this statement's snapshot and its lock can still be missed: then two instances
        // normalise one row, which costs time, not correctness (a round applied again changes nothing).
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT i.id FROM inbox i LEFT JOIN inbox_claims c ON c.inbox_id = i.id \
             WHERE NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id) \
             AND (c.inbox_id IS NULL OR c.claimed_by = $1 OR c.claimed_until < clock_timestamp()) \
             ORDER BY i.id LIMIT $2 FOR UPDATE OF i SKIP LOCKED",
        )
        .bind(&self.instance)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        sqlx::query(
            "INSERT INTO inbox_claims (inbox_id, claimed_by, claimed_until) \
             SELECT id, $2, clock_timestamp() + make_interval(secs => $3) FROM UNNEST($1::BIGINT[]) AS id \
             ON CONFLICT (inbox_id) DO UPDATE SET claimed_by = excluded.claimed_by, \
             claimed_until = excluded.claimed_until",
        )
        .bind(&ids)
        .bind(&self.instance)
        .bind(claim_for())
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT id, connector_id, source, received_at, query, headers, body FROM inbox \
             WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        // Claims go too: another instance takes the rows at once, not after a stale claim expires.
        for table in ["inbox_processed", "quarantine", "inbox_claims"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE inbox_id = ANY($1)")))
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
