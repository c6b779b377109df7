//! The inbox on PostgreSQL: one statement per group commit, on whichever instance the webhook
//! reached, which also queues the rows in `inbox_pending`; unprocessed rows handed out from that queue under a
//! claim, so instances normalise different rows.

use async_trait::async_trait;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::webhook::Verified;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::{PostgresStore, claim_for};
use crate::store::{InboxEvent, InboxSelection, InboxStore, NewInboxEvent, StoreError, StoreResult};

/// The group commit's statement: the rows as arrays, so one prepared text serves every group's size.
const INSERT_INBOX: &str = "WITH new AS (INSERT INTO inbox (connector_id, source, received_at, query, headers, body) \
       SELECT connector_id, source, received_at, query, headers, body \
       FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TIMESTAMPTZ[], $4::TEXT[], $5::TEXT[], $6::BYTEA[]) \
         WITH ORDINALITY AS e (connector_id, source, received_at, query, headers, body, n) \
       ORDER BY n RETURNING id), \
     queued AS (INSERT INTO inbox_pending (inbox_id) SELECT id FROM new) \
     SELECT id FROM new ORDER BY id";

#[async_trait]
impl InboxStore for PostgresStore {
    /// One statement on one of the writer's kept connections: the rows, as arrays (one statement text whatever the
    /// group's size, so it is prepared once), and their places in the normalisers' queue. A lone statement is its own
    /// transaction: no `BEGIN`/`COMMIT` round trips, and no pool checkout (which pings the connection first). A
    /// connection that failed is dropped and the next group opens a new one, so a failover costs the group that
    /// met it (answered 503, re-sent by the vendor), as it did through the pool.
    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut columns = InboxColumns::with_capacity(events.len());
        for new in events {
            columns.push(new);
        }
        // A free kept connection, else the first (the writer sends no more than there are connections).
        let mut kept = match self.inbox_connections.iter().find_map(|slot| slot.try_lock().ok()) {
            Some(free) => free,
            None => self.inbox_connections[0].lock().await,
        };
        if kept.is_none() {
            *kept = Some(super::connect_kept(&self.pool).await?);
        }
        let connection = kept.as_mut().expect("connected above");
        // Identity values are drawn in the insert's order, which ORDER BY n makes the events' order: the ids in
        // order are the events' ids in order.
        let inserted = sqlx::query_scalar(INSERT_INBOX)
            .bind(&columns.connector_ids)
            .bind(&columns.sources)
            .bind(&columns.received_at)
            .bind(&columns.queries)
            .bind(&columns.headers)
            .bind(&columns.bodies)
            .fetch_all(&mut *connection)
            .await;
        let ids: Vec<i64> = match inserted {
            Ok(ids) => ids,
            Err(error) => {
                *kept = None;
                return Err(error.into());
            }
        };
        drop(kept);
        // The normalisers of the other instances.
        self.notifier.wake(&[crate::store::Wakeup::Inbox]);
        Ok(ids)
    }

    fn inbox_commits_at_once(&self) -> usize {
        super::INBOX_COMMITS_AT_ONCE
    }

    fn inbox_linger(&self) -> std::time::Duration {
        super::INBOX_LINGER
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

/// A group's events as one array per column, bound to the group commit's one statement.
struct InboxColumns {
    connector_ids: Vec<String>,
    sources: Vec<String>,
    received_at: Vec<chrono::DateTime<chrono::Utc>>,
    queries: Vec<String>,
    headers: Vec<String>,
    bodies: Vec<Vec<u8>>,
}

impl InboxColumns {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            connector_ids: Vec::with_capacity(capacity),
            sources: Vec::with_capacity(capacity),
            received_at: Vec::with_capacity(capacity),
            queries: Vec::with_capacity(capacity),
            headers: Vec::with_capacity(capacity),
            bodies: Vec::with_capacity(capacity),
        }
    }

    fn push(&mut self, new: &NewInboxEvent) {
        self.connector_ids.push(new.connector_id.clone());
        self.sources.push(new.source.as_str().to_owned());
        self.received_at.push(new.event.received_at());
        self.queries.push(new.event.query().to_owned());
        self.headers.push(headers_json(new.event.headers()));
        self.bodies.push(new.event.body().to_vec());
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
