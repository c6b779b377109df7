//! The embedded default store: SQLite in WAL mode.
//!
//! SQLite has one writer at a time per file, so every write goes through a one-connection pool: no
//! transaction ever waits on a lock upgrade (`SQLITE_BUSY`), and batching (one transaction for
//! many rows) is what makes it fast. Reads use a separate pool and never block the writer.
//!
//! Two files: the inbox (`handoffd-inbox.db` beside `handoffd.db`) has its own writer, so a webhook's
//! group commit never queues behind a transaction of the stages after it; the pipeline's connections attach
//! it to read raw events, and record which are normalised in their own file, atomically with the effects.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::interaction::{Content, Interaction};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::*;

mod conversations;
mod identity;
mod turns;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static INBOX_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite-inbox");

/// How far back a new handoff adopts the customer's unattached AI/agent messages (the AI's
/// opening message before the customer's first reply).
const ADOPT_ORPHANS_WITHIN: chrono::Duration = chrono::Duration::hours(24);

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The inbox's own file and writer (see `migrations/sqlite-inbox`); the pipeline's connections attach it
    /// as [`INBOX_SCHEMA`] to read it.
    inbox_writer: SqlitePool,
    /// No inbox row below this id is unprocessed: where the search for unprocessed rows starts.
    inbox_low_water: std::sync::atomic::AtomicI64,
    /// Delivery's writes go before the bulk rounds of the stages before it.
    turns: turns::WriterTurns,
}

/// `?, ?, ...)`: the rest of an `IN (` list.
fn push_list(query: &mut QueryBuilder<Sqlite>, values: &[impl AsRef<str>]) {
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value.as_ref().to_owned());
    }
    query.push(")");
}

/// The name the pipeline's connections give the attached inbox file.
const INBOX_SCHEMA: &str = "inbox_db";

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (url, synchronous) = split_synchronous(url)?;
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let path = options.get_filename().to_owned();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Corrupt(format!("cannot create `{}`: {e}", parent.display())))?;
        }
        let inbox_path = inbox_file(&path);
        let inbox_writer =
            SqlitePoolOptions::new().max_connections(1).connect_with(options.clone().filename(&inbox_path)).await?;
        INBOX_MIGRATOR.run(&inbox_writer).await?;

        let attach = |options: SqlitePoolOptions, connect: SqliteConnectOptions| {
            let inbox_path = inbox_path.clone();
            options
                .after_connect(move |connection, _| {
                    let inbox_path = inbox_path.to_string_lossy().into_owned();
                    Box::pin(async move {
                        sqlx::query(sqlx::AssertSqlSafe(format!("ATTACH DATABASE ? AS {INBOX_SCHEMA}")))
                            .bind(inbox_path)
                            .execute(connection)
                            .await?;
                        Ok(())
                    })
                })
                .connect_with(connect)
        };
        let writer = attach(SqlitePoolOptions::new().max_connections(1), options.clone()).await?;
        move_legacy_inbox(&writer).await?;
        MIGRATOR.run(&writer).await?;
        let reader = attach(SqlitePoolOptions::new().max_connections(4), options.read_only(true)).await?;
        Ok(Self { writer, reader, inbox_writer, inbox_low_water: Default::default(), turns: Default::default() })
    }
}

/// `handoffd.db` -> `handoffd-inbox.db`, in the same folder.
fn inbox_file(path: &std::path::Path) -> std::path::PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "handoffd".to_owned());
    let name = match path.extension() {
        Some(extension) => format!("{stem}-inbox.{}", extension.to_string_lossy()),
        None => format!("{stem}-inbox"),
    };
    path.with_file_name(name)
}

/// A store made before the inbox had its own file keeps its raw events in the pipeline's file: copy them to
/// the inbox file (same ids) before migration 0003 drops that table. Copying again after a crash in between
/// changes nothing.
async fn move_legacy_inbox(writer: &SqlitePool) -> Result<(), StoreError> {
    let legacy: Option<String> =
        sqlx::query_scalar("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = 'inbox'")
            .fetch_optional(writer)
            .await?;
    if legacy.is_some() {
        let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT OR IGNORE INTO {INBOX_SCHEMA}.inbox (id, connector_id, source, received_at, headers, body) \
             SELECT id, connector_id, source, received_at, headers, body FROM main.inbox"
        )))
        .execute(writer)
        .await?;
        if moved.rows_affected() > 0 {
            tracing::info!(rows = moved.rows_affected(), "Moved the inbox's raw events to the inbox's own file.");
        }
    }
    Ok(())
}

/// `?synchronous=normal` in `store.url` (sqlx does not read it). FULL by default: an
/// acknowledged webhook survives a power cut, not only a crash; group commit keeps it fast (one
/// fsync per batch). NORMAL in WAL mode survives a crash of handoffd but may lose the last
/// commits on a power cut.
fn split_synchronous(url: &str) -> Result<(String, SqliteSynchronous), StoreError> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), SqliteSynchronous::Full)) };
    let mut synchronous = SqliteSynchronous::Full;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", value)) => {
                synchronous = SqliteSynchronous::from_str(value)
                    .map_err(|_| StoreError::Corrupt(format!("store.url: unknown synchronous mode `{value}`")))?;
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, synchronous))
}

fn speaker_of(interaction: &Interaction) -> Option<&'static str> {
    match &interaction.content {
        Content::Message(m) => Some(match m.from {
            handoffd_contract::conversation::Speaker::Customer => "customer",
            handoffd_contract::conversation::Speaker::Ai => "ai",
            handoffd_contract::conversation::Speaker::Agent => "agent",
        }),
        Content::Call(_) => Some("customer"),
        Content::Status(_) | Content::System(_) => None,
    }
}

fn kind_of(interaction: &Interaction) -> String {
    match &interaction.content {
        Content::Message(m) => m.kind.clone(),
        Content::Call(_) => "call".to_owned(),
        Content::Status(s) => format!("status.{}", s.status),
        Content::System(s) => format!("system.{}", s.kind),
    }
}

fn text_of(interaction: &Interaction) -> Option<String> {
    match &interaction.content {
        Content::Message(m) => m.text.clone(),
        Content::Call(c) => {
            let lines: Vec<String> = c.turns.iter().map(|t| t.text.clone()).collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        }
        Content::Status(_) => None,
        Content::System(s) => s.text.clone(),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialise to JSON")
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Attach a stored message to the customer's open handoff, or open one.
async fn attach_to_handoff(
    tx: &mut Transaction<'_, Sqlite>,
    interaction_id: i64,
    customer_id: &str,
    item: &NormalizedInteraction,
    batch: &NormalizedBatch,
    summary: &mut ApplySummary,
) -> Result<(), StoreError> {
    let received = batch.received_at;
    let received_s = format_ts(received);
    let ready_at = match &item.end_signal {
        Some(_) => received_s.clone(),
        None => format_ts(received + batch.quiet_period),
    };
    let open_since = format_ts(received - batch.reopen_after);
    let open: Option<String> = sqlx::query_scalar(
        "SELECT id FROM handoffs WHERE customer_id = ? AND state IN ('collecting', 'queued', 'open') \
         AND opened_at > ? ORDER BY opened_at DESC LIMIT 1",
    )
    .bind(customer_id)
    .bind(&open_since)
    .fetch_optional(&mut **tx)
    .await?;

    let is_customer = speaker_of(&item.interaction) == Some("customer");
    let handoff_id = match open {
        Some(id) => {
            sqlx::query(
                "UPDATE handoffs SET state = 'collecting', last_activity_at = ?, ready_at = ?, \
                 ended_by = ? WHERE id = ?",
            )
            .bind(&received_s)
            .bind(&ready_at)
            .bind(&item.end_signal)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
            id
        }
        None if is_customer || item.end_signal.is_some() => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO handoffs (id, customer_id, state, opened_at, last_activity_at, ready_at, ended_by) \
                 VALUES (?, ?, 'collecting', ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(customer_id)
            .bind(&received_s)
            .bind(&received_s)
            .bind(&ready_at)
            .bind(&item.end_signal)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE interactions SET handoff_id = ? WHERE customer_id = ? AND handoff_id IS NULL AND speaker IS NOT NULL AND received_at > ?")
                .bind(&id)
                .bind(customer_id)
                .bind(format_ts(received - ADOPT_ORPHANS_WITHIN))
                .execute(&mut **tx)
                .await?;
            summary.handoffs_opened += 1;
            id
        }
        // The AI or an agent wrote first: keep the message; the customer's reply opens the
        // handoff and adopts it.
        None => return Ok(()),
    };
    sqlx::query("UPDATE interactions SET handoff_id = ? WHERE id = ?")
        .bind(&handoff_id)
        .bind(interaction_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn handoff_row(row: &sqlx::sqlite::SqliteRow) -> Result<HandoffRow, StoreError> {
    Ok(HandoffRow {
        id: row.get("id"),
        customer_id: row.get("customer_id"),
        state: row.get("state"),
        opened_at: parse_ts(row.get("opened_at"))?,
        ready_at: parse_ts(row.get("ready_at"))?,
        ended_by: row.get("ended_by"),
        version: row.get("version"),
        crm_task_id: row.get("crm_task_id"),
    })
}

const HANDOFF_COLUMNS: &str = "id, customer_id, state, opened_at, ready_at, ended_by, version, crm_task_id";

fn stored_interaction(row: &sqlx::sqlite::SqliteRow) -> Result<StoredInteraction, StoreError> {
    let content: String = row.get("content");
    Ok(StoredInteraction {
        connector_id: row.get("connector_id"),
        channel: row.get("channel"),
        direction: row.get("direction"),
        speaker: row.get("speaker"),
        at: parse_ts(row.get("at"))?,
        kind: row.get("kind"),
        text: row.get("text"),
        interaction: serde_json::from_str(&content)
            .map_err(|e| StoreError::Corrupt(format!("interaction content: {e}")))?,
    })
}

const INTERACTION_COLUMNS: &str = "connector_id, channel, direction, speaker, at, kind, text, content";

fn dead_letter(row: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: row.get("id"),
        handoff_id: row.get("handoff_id"),
        crm_id: row.get("crm_id"),
        payload: row.get("payload"),
        attempts: row.get::<i64, _>("attempts") as u32,
        last_error: row.get("last_error"),
        failed_at: parse_ts(row.get("failed_at"))?,
    })
}

fn quarantine_entry(row: &sqlx::sqlite::SqliteRow) -> Result<QuarantineEntry, StoreError> {
    Ok(QuarantineEntry {
        id: row.get("id"),
        inbox_id: row.get("inbox_id"),
        connector_id: row.get("connector_id"),
        received_at: parse_ts(row.get("received_at"))?,
        reason: row.get("reason"),
        body: row.get("body"),
    })
}

async fn insert_audit(tx: &mut Transaction<'_, Sqlite>, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (at, handoff_id, customer_id, event, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(format_ts(entry.at))
        .bind(&entry.handoff_id)
        .bind(&entry.customer_id)
        .bind(&entry.event)
        .bind(entry.detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.inbox_writer.begin().await?;
        let mut ids = Vec::with_capacity(events.len());
        // One multi-row INSERT per chunk (SQLite binds at most 32766 parameters).
        for chunk in events.chunks(1000) {
            let mut query =
                QueryBuilder::<Sqlite>::new("INSERT INTO inbox (connector_id, source, received_at, headers, body) ");
            query.push_values(chunk, |mut row, event| {
                row.push_bind(&event.connector_id)
                    .push_bind(&event.source)
                    .push_bind(format_ts(event.received_at))
                    .push_bind(&event.headers)
                    .push_bind(&event.body);
            });
            query.push(" RETURNING id");
            let rows = query.build().fetch_all(&mut *tx).await?;
            ids.extend(rows.iter().map(|row| row.get::<i64, _>(0)));
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>> {
        use std::sync::atomic::Ordering;
        let low_water = self.inbox_low_water.load(Ordering::Relaxed);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, connector_id, source, received_at, body FROM {INBOX_SCHEMA}.inbox i WHERE id >= ? \
             AND NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id) ORDER BY id LIMIT ?"
        )))
        .bind(low_water)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        // Every row below the first unprocessed one is processed (ids only grow, and a processed row stays so).
        if let Some(first) = rows.first() {
            self.inbox_low_water.fetch_max(first.get("id"), Ordering::Relaxed);
        }
        rows.iter()
            .map(|row| {
                Ok(InboxEvent {
                    id: row.get("id"),
                    connector_id: row.get("connector_id"),
                    source: row.get("source"),
                    received_at: parse_ts(row.get("received_at"))?,
                    body: row.get("body"),
                })
            })
            .collect()
    }

    async fn apply_interactions(&self, rows: &[(i64, NormalizedBatch)]) -> StoreResult<ApplySummary> {
        let _turn = self.turns.bulk().await;
        let mut summary = ApplySummary::default();
        let mut tx = self.writer.begin().await?;
        for (inbox_id, batch) in rows {
            apply_row(&mut tx, *inbox_id, batch, &mut summary).await?;
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn quarantine(&self, inbox_id: i64, reason: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let now = format_ts(now);
        let mut tx = self.writer.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO quarantine (inbox_id, connector_id, received_at, reason, body, created_at) \
             SELECT id, connector_id, received_at, ?, body, ? FROM {INBOX_SCHEMA}.inbox WHERE id = ?"
        )))
        .bind(reason)
        .bind(&now)
        .bind(inbox_id)
        .execute(&mut *tx)
        .await?;
        mark_processed(&mut tx, inbox_id, &now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_quarantine(&self, limit: u32) -> StoreResult<Vec<QuarantineEntry>> {
        let rows = sqlx::query("SELECT * FROM quarantine ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(quarantine_entry).collect()
    }

    async fn get_quarantine(&self, id: i64) -> StoreResult<QuarantineEntry> {
        let row = sqlx::query("SELECT * FROM quarantine WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("quarantine entry {id}")))?;
        quarantine_entry(&row)
    }

    async fn drop_quarantine(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM quarantine WHERE id = ?").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("quarantine entry {id}")));
        }
        Ok(())
    }

    async fn ready_handoffs(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<HandoffRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE state = 'collecting' AND ready_at <= ? ORDER BY ready_at LIMIT ?"
        )))
        .bind(format_ts(now))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(handoff_row).collect()
    }

    async fn next_ready_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar("SELECT MIN(ready_at) FROM handoffs WHERE state = 'collecting'")
            .fetch_one(&self.reader)
            .await?;
        next.as_deref().map(parse_ts).transpose()
    }

    async fn handoff_conversation(&self, handoff_id: &str) -> StoreResult<HandoffConversation> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = ?")))
            .bind(handoff_id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("handoff {handoff_id}")))?;
        let mut read = self.handoff_conversations(&[handoff_row(&row)?]).await?;
        read.pop().ok_or_else(|| StoreError::NotFound(format!("handoff {handoff_id}")))
    }

    async fn handoff_conversations(&self, handoffs: &[HandoffRow]) -> StoreResult<Vec<HandoffConversation>> {
        conversations::read(&self.reader, handoffs).await
    }

    async fn commit_briefs(&self, commits: &[BriefCommit], rotation: Option<(&str, u64)>) -> StoreResult<()> {
        let _turn = self.turns.bulk().await;
        let mut tx = self.writer.begin().await?;
        for commit in commits {
            commit_brief(&mut tx, commit).await?;
        }
        if let Some((pool, used)) = rotation.filter(|(_, used)| *used > 0) {
            sqlx::query(
                "INSERT INTO owner_rotation (pool, next_index) VALUES (?, ?) \
                 ON CONFLICT (pool) DO UPDATE SET next_index = next_index + excluded.next_index",
            )
            .bind(pool)
            .bind(used as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn expire_handoffs(&self, opened_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        let _turn = self.turns.bulk().await;
        let done =
            sqlx::query("UPDATE handoffs SET state = 'closed', closed_at = ? WHERE state = 'open' AND opened_at < ?")
                .bind(format_ts(now))
                .bind(format_ts(opened_before))
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected())
    }

    async fn rotation_position(&self, pool: &str) -> StoreResult<i64> {
        let next: Option<i64> = sqlx::query_scalar("SELECT next_index FROM owner_rotation WHERE pool = ?")
            .bind(pool)
            .fetch_optional(&self.reader)
            .await?;
        Ok(next.unwrap_or(0))
    }

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
             h.crm_task_id FROM outbox o JOIN handoffs h ON h.id = o.handoff_id WHERE o.id IN (",
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

    async fn jobs_delivered(&self, delivered: &[(&OutboxJob, String)], now: DateTime<Utc>) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        for (job, task_id) in delivered {
            job_delivered(&mut tx, job, task_id, now).await?;
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

    async fn job_dead(&self, job: &OutboxJob, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
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
        sqlx::query("UPDATE handoffs SET state = 'failed' WHERE id = ? AND state = 'queued'")
            .bind(&job.handoff_id)
            .execute(&mut *tx)
            .await?;
        insert_audit(
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

    async fn replay_dead_letter(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
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
            sqlx::query("UPDATE handoffs SET state = 'queued' WHERE id = ? AND state = 'failed'")
                .bind(&handoff_id)
                .execute(&mut *tx)
                .await?;
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

    async fn load_token(&self, connector_id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT token FROM oauth_tokens WHERE connector_id = ?")
            .bind(connector_id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn save_token(&self, connector_id: &str, token: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_tokens (connector_id, token, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (connector_id) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at",
        )
        .bind(connector_id)
        .bind(token)
        .bind(format_ts(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_for_handoff(&self, handoff_id: &str) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, handoff_id, customer_id, event, detail FROM audit WHERE handoff_id = ? ORDER BY id",
        )
        .bind(handoff_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: parse_ts(row.get("at"))?,
                    handoff_id: row.get("handoff_id"),
                    customer_id: row.get("customer_id"),
                    event: row.get("event"),
                    detail: serde_json::from_str(row.get("detail"))
                        .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                })
            })
            .collect()
    }

    async fn customer_for_key(&self, match_key: &str) -> StoreResult<Option<String>> {
        identity::customer_for_key(&self.reader, match_key).await
    }

    async fn customer_keys(&self, customer_id: &str) -> StoreResult<Vec<(String, String)>> {
        identity::customer_keys(&self.reader, customer_id).await
    }

    async fn keys_of_customers(&self, customer_ids: &[String]) -> StoreResult<HashMap<String, Vec<(String, String)>>> {
        let mut keys: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for chunk in customer_ids.chunks(1000) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT customer_id, match_key, raw FROM identities WHERE customer_id IN (",
            );
            push_list(&mut query, chunk);
            query.push(" ORDER BY first_seen_at, match_key");
            for row in query.build().fetch_all(&self.reader).await? {
                keys.entry(row.get("customer_id")).or_default().push((row.get("match_key"), row.get("raw")));
            }
        }
        Ok(keys)
    }

    async fn identity_conflicts(&self, limit: u32) -> StoreResult<Vec<IdentityConflictRow>> {
        identity::identity_conflicts(&self.reader, limit).await
    }

    async fn list_merges(&self, limit: u32) -> StoreResult<Vec<MergeRow>> {
        identity::list_merges(&self.reader, limit).await
    }

    async fn split_merge(&self, merge_id: i64, now: DateTime<Utc>) -> StoreResult<SplitOutcome> {
        identity::split_merge(&self.writer, merge_id, now).await
    }

    async fn customer_timeline(&self, customer_id: &str) -> StoreResult<CustomerTimeline> {
        identity::customer_timeline(&self.reader, customer_id).await
    }

    async fn crm_sync_state(&self, crm_id: &str) -> StoreResult<Option<CrmSyncState>> {
        identity::crm_sync_state(&self.writer, crm_id).await
    }

    async fn store_sync_page(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        next_cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.bulk().await;
        identity::store_sync_page(&self.writer, crm_id, contacts, next_cursor, now).await
    }

    async fn cache_contacts(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        origin: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        identity::write_contacts(&mut tx, crm_id, contacts, origin, &format_ts(now)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cached_contact(&self, crm_id: &str, contact_id: &str) -> StoreResult<Option<CachedContact>> {
        identity::cached_contact_by_id(&self.reader, crm_id, contact_id).await
    }

    async fn cached_contacts(&self, crm_id: &str, match_keys: &[String]) -> StoreResult<Vec<CachedContact>> {
        identity::cached_contacts(&self.reader, crm_id, match_keys).await
    }

    async fn stage_counts(&self) -> StoreResult<StageCounts> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM {INBOX_SCHEMA}.inbox), (SELECT COUNT(*) FROM inbox_processed), \
             (SELECT COUNT(*) FROM quarantine), (SELECT COUNT(*) FROM handoffs WHERE state = 'collecting'), \
             (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM dead_letters), \
             (SELECT COUNT(*) FROM outbox WHERE locked_until IS NULL), (SELECT COUNT(*) FROM interactions), \
             (SELECT COUNT(*) FROM handoffs WHERE crm_task_id IS NOT NULL), \
             (SELECT COUNT(*) FROM interactions WHERE handoff_id IN \
              (SELECT id FROM handoffs WHERE crm_task_id IS NOT NULL))"
        )))
        .fetch_one(&self.reader)
        .await?;
        let (total, processed): (i64, i64) = (row.get(0), row.get(1));
        Ok(StageCounts {
            inbox_total: total,
            // Every processed id is an inbox row's (rows are never deleted).
            inbox_unprocessed: total - processed,
            quarantined: row.get(2),
            handoffs_collecting: row.get(3),
            outbox_pending: row.get(4),
            dead_letters: row.get(5),
            outbox_unleased: row.get(6),
            interactions: row.get(7),
            handoffs_with_task: row.get(8),
            interactions_with_task: row.get(9),
        })
    }
}

/// One inbox row, inside the caller's transaction: resolve or create customers, store new
/// interactions (redeliveries are skipped by their dedup key), attach messages to the customer's
/// open handoff or open one, and mark the row processed.
async fn apply_row(
    tx: &mut Transaction<'_, Sqlite>,
    inbox_id: i64,
    batch: &NormalizedBatch,
    summary: &mut ApplySummary,
) -> StoreResult<()> {
    let now = format_ts(batch.received_at);
    for item in &batch.interactions {
        if item.keys.is_empty() {
            continue;
        }
        let customer_id = identity::resolve_customer(tx, item, &batch.connector_id, &now, summary).await?;
        let interaction = &item.interaction;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO interactions (connector_id, dedup_key, customer_id, channel, direction, speaker, at, \
             received_at, kind, text, content, inbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (connector_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(&batch.connector_id)
        .bind(&interaction.dedup_key)
        .bind(&customer_id)
        .bind(interaction.channel.as_str())
        .bind(json(&interaction.direction).trim_matches('"'))
        .bind(speaker_of(interaction))
        .bind(format_ts(interaction.at))
        .bind(&now)
        .bind(kind_of(interaction))
        .bind(text_of(interaction))
        .bind(json(interaction))
        .bind(inbox_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(interaction_id) = inserted else {
            summary.duplicates += 1;
            continue;
        };
        summary.stored += 1;
        if matches!(interaction.content, Content::Message(_) | Content::Call(_)) {
            attach_to_handoff(tx, interaction_id, &customer_id, item, batch, summary).await?;
        }
    }
    mark_processed(tx, inbox_id, &now).await
}

/// The inbox row's effects are in (or it is quarantined): in the same transaction as them. A row normalised
/// again (a replay) keeps its first time.
async fn mark_processed(tx: &mut Transaction<'_, Sqlite>, inbox_id: i64, now: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO inbox_processed (inbox_id, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(inbox_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One brief, inside the caller's transaction: only if no message arrived since the conversation
/// was read (else it is made again).
async fn commit_brief(tx: &mut Transaction<'_, Sqlite>, commit: &BriefCommit) -> StoreResult<()> {
    let now = format_ts(commit.now);
    let next_state = if commit.job.is_some() { "queued" } else { "closed" };
    let updated = sqlx::query(
        "UPDATE handoffs SET brief = ?, version = version + 1, state = ?, \
         closed_at = CASE WHEN ? = 'closed' THEN ? ELSE closed_at END \
         WHERE id = ? AND state = 'collecting' AND ready_at <= ? RETURNING version",
    )
    .bind(&commit.brief)
    .bind(next_state)
    .bind(next_state)
    .bind(&now)
    .bind(&commit.handoff_id)
    .bind(&now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = updated else {
        return Ok(());
    };
    let version: i64 = row.get(0);
    if let Some(job) = &commit.job {
        sqlx::query(
            "INSERT INTO outbox (handoff_id, crm_id, payload, version, next_attempt_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (handoff_id) DO UPDATE SET payload = excluded.payload, \
             version = excluded.version, crm_id = excluded.crm_id",
        )
        .bind(&commit.handoff_id)
        .bind(&job.crm_id)
        .bind(&job.payload)
        .bind(version)
        .bind(&now)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    for entry in &commit.audit {
        insert_audit(tx, entry).await?;
    }
    Ok(())
}

/// One delivered job, inside the caller's transaction: remember the task, open the handoff, and
/// finish the job unless a newer brief arrived meanwhile.
async fn job_delivered(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    job: &OutboxJob,
    task_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE handoffs SET crm_task_id = ?, crm_id = ?, state = CASE WHEN state = 'queued' THEN 'open' ELSE state END \
         WHERE id = ?",
    )
    .bind(task_id)
    .bind(&job.crm_id)
    .bind(&job.handoff_id)
    .execute(&mut **tx)
    .await?;
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
    insert_audit(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_mode_comes_from_the_url_and_defaults_to_full() {
        let (url, mode) = split_synchronous("sqlite://state/h.db").unwrap();
        assert_eq!((url.as_str(), format!("{mode:?}")), ("sqlite://state/h.db", "Full".to_owned()));
        let (url, mode) = split_synchronous("sqlite://state/h.db?mode=rwc&synchronous=normal").unwrap();
        assert_eq!((url.as_str(), format!("{mode:?}")), ("sqlite://state/h.db?mode=rwc", "Normal".to_owned()));
        assert!(split_synchronous("sqlite://h.db?synchronous=sometimes").is_err());
    }

    fn event(body: &str) -> NewInboxEvent {
        NewInboxEvent {
            connector_id: "wa".into(),
            source: "webhook".into(),
            received_at: Utc::now(),
            headers: "{}".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn empty_batch() -> NormalizedBatch {
        NormalizedBatch {
            connector_id: "wa".into(),
            received_at: Utc::now(),
            quiet_period: chrono::Duration::seconds(1),
            reopen_after: chrono::Duration::days(7),
            interactions: Vec::new(),
        }
    }

    async fn table_names(pool: &SqlitePool, schema: &str) -> Vec<String> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")))
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_inbox_has_a_file_of_its_own_and_its_processed_rows_are_kept_with_their_effects() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("h.db").display())).await.unwrap();
        assert!(dir.path().join("h-inbox.db").exists());
        assert!(!table_names(&store.writer, "main").await.contains(&"inbox".to_owned()));
        assert!(table_names(&store.inbox_writer, "main").await.contains(&"inbox".to_owned()));

        let ids = store.insert_inbox(&[event("a"), event("b"), event("c")]).await.unwrap();
        let unprocessed: Vec<i64> = store.unprocessed_inbox(10).await.unwrap().iter().map(|e| e.id).collect();
        assert_eq!(unprocessed, ids);

        store.apply_interactions(&[(ids[0], empty_batch())]).await.unwrap();
        store.quarantine(ids[2], "not JSON", Utc::now()).await.unwrap();
        let left = store.unprocessed_inbox(10).await.unwrap();
        assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[1]]);
        assert_eq!(left[0].body, b"b");
        assert_eq!(store.list_quarantine(10).await.unwrap()[0].body, b"c", "the body is copied from the inbox file");
        let counts = store.stage_counts().await.unwrap();
        assert_eq!((counts.inbox_total, counts.inbox_unprocessed), (3, 1));

        // A row normalised again keeps one record; later rows come after the low-water mark.
        store.apply_interactions(&[(ids[0], empty_batch()), (ids[1], empty_batch())]).await.unwrap();
        let later = store.insert_inbox(&[event("d")]).await.unwrap();
        let unprocessed: Vec<i64> = store.unprocessed_inbox(10).await.unwrap().iter().map(|e| e.id).collect();
        assert_eq!(unprocessed, later);
        assert_eq!(store.stage_counts().await.unwrap().inbox_unprocessed, 1);
    }

    #[tokio::test]
    async fn a_store_from_before_the_inbox_file_moves_its_raw_events_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let legacy = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
            .await
            .unwrap();
        MIGRATOR.run_to(2, &legacy).await.unwrap();
        for (id, processed_at) in [(7, Some("2026-11-01T00:00:00.000000Z")), (8, None)] {
            sqlx::query("INSERT INTO inbox (id, connector_id, source, received_at, body, processed_at) VALUES (?, 'wa', 'webhook', '2026-11-01T00:00:00.000000Z', ?, ?)")
                .bind(id)
                .bind(format!("body {id}").into_bytes())
                .bind(processed_at)
                .execute(&legacy)
                .await
                .unwrap();
        }
        legacy.close().await;

        let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
        assert!(!table_names(&store.writer, "main").await.contains(&"inbox".to_owned()));
        let left = store.unprocessed_inbox(10).await.unwrap();
        assert_eq!(left.iter().map(|e| (e.id, e.body.clone())).collect::<Vec<_>>(), vec![(8, b"body 8".to_vec())]);
        assert_eq!(store.stage_counts().await.unwrap().inbox_total, 2);
        // Ids go on from the moved rows, never reused.
        assert_eq!(store.insert_inbox(&[event("new")]).await.unwrap(), vec![9]);
    }
}
