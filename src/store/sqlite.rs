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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::*;

mod conversations;
mod history;
mod identity;
mod inbox;
mod leases;
mod outbox;
mod pauses;
mod pipeline;
mod poll;
mod turns;
mod watch;

use pipeline::transition_handoff;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static INBOX_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite-inbox");

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

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialise to JSON")
}

fn handoff_row(row: &sqlx::sqlite::SqliteRow) -> Result<HandoffRow, StoreError> {
    Ok(HandoffRow {
        id: row.get("id"),
        customer_id: row.get("customer_id"),
        state: HandoffState::parse(row.get("state"))?,
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
impl InboxStore for SqliteStore {
    async fn insert_inbox(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<i64>> {
        inbox::insert(&self.inbox_writer, events).await
    }

    async fn unprocessed_inbox(&self, limit: u32) -> StoreResult<Vec<InboxEvent>> {
        use std::sync::atomic::Ordering;
        let low_water = self.inbox_low_water.load(Ordering::Relaxed);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} i WHERE id >= ? \
             AND NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id) ORDER BY id LIMIT ?",
            inbox::columns()
        )))
        .bind(low_water)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        // Every row below the first unprocessed one is processed (ids only grow, and a processed row stays so).
        if let Some(first) = rows.first() {
            self.inbox_low_water.fetch_max(first.get("id"), Ordering::Relaxed);
        }
        rows.iter().map(inbox::event).collect()
    }

    async fn requeue_inbox(&self, selection: &InboxSelection) -> StoreResult<u64> {
        use std::sync::atomic::Ordering;
        let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT id FROM {INBOX_SCHEMA}.inbox WHERE 1 = 1"));
        if let Some(since) = selection.since {
            query.push(" AND received_at >= ").push_bind(format_ts(since));
        }
        if let Some(until) = selection.until {
            query.push(" AND received_at < ").push_bind(format_ts(until));
        }
        if let Some(connector) = &selection.connector_id {
            query.push(" AND connector_id = ").push_bind(connector.clone());
        }
        if selection.quarantined_only {
            query.push(" AND id IN (SELECT inbox_id FROM quarantine)");
        }
        let mut tx = self.writer.begin().await?;
        let ids: Vec<i64> = query.build_query_scalar().fetch_all(&mut *tx).await?;
        for chunk in ids.chunks(500) {
            for table in ["inbox_processed", "quarantine"] {
                let mut delete = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {table} WHERE inbox_id IN ("));
                let mut list = delete.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        // The search for unprocessed rows starts below the first one queued again.
        if let Some(first) = ids.iter().min() {
            self.inbox_low_water.fetch_min(*first, Ordering::Relaxed);
        }
        Ok(ids.len() as u64)
    }
}

#[async_trait]
impl WakeupStore for SqliteStore {
    async fn subscribe(&self) -> StoreResult<Option<Box<dyn Wakeups>>> {
        Ok(None)
    }
}

#[async_trait]
impl QuarantineStore for SqliteStore {
    async fn quarantine(&self, inbox_id: i64, reason: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let now = format_ts(now);
        let mut tx = self.writer.begin().await?;
        // The entry takes its inbox row's id: one id names the body in the normaliser's log line
        // and in `handoffd quarantine list|show|drop`.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO quarantine (id, inbox_id, connector_id, received_at, reason, body, created_at) \
             SELECT id, id, connector_id, received_at, ?, body, ? FROM {INBOX_SCHEMA}.inbox WHERE id = ?"
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
}

#[async_trait]
impl AuditStore for SqliteStore {
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
}

#[async_trait]
impl StatusStore for SqliteStore {
    async fn queue_ages(&self, now: DateTime<Utc>) -> StoreResult<Vec<crate::store::QueueAge>> {
        const COLLECTING: &str = HandoffState::Collecting.as_str();
        // Rows below the normaliser's low-water mark are all processed: a healthy inbox costs a few probes.
        let low_water = self.inbox_low_water.load(std::sync::atomic::Ordering::Relaxed);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM {INBOX_SCHEMA}.inbox i WHERE i.id > \
               (SELECT COALESCE(MAX(id), 0) FROM {INBOX_SCHEMA}.inbox) - ?1 AND i.id >= ?3 \
               AND NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id)), \
             (SELECT MIN(i.received_at) FROM {INBOX_SCHEMA}.inbox i WHERE i.id > \
               (SELECT COALESCE(MAX(id), 0) FROM {INBOX_SCHEMA}.inbox) - ?1 AND i.id >= ?3 \
               AND NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id)), \
             (SELECT COUNT(*) FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= ?2), \
             (SELECT MIN(ready_at) FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= ?2), \
             (SELECT COUNT(*) FROM outbox), (SELECT MIN(created_at) FROM outbox)"
        )))
        .bind(crate::store::QUEUE_INBOX_WINDOW)
        .bind(format_ts(now))
        .bind(low_water)
        .fetch_one(&self.reader)
        .await?;
        let at = |index: usize| -> StoreResult<Option<DateTime<Utc>>> {
            row.get::<Option<String>, _>(index).as_deref().map(parse_ts).transpose()
        };
        Ok(vec![
            crate::store::QueueAge { stage: "inbox", depth: row.get(0), oldest: at(1)? },
            crate::store::QueueAge { stage: "handoffs", depth: row.get(2), oldest: at(3)? },
            crate::store::QueueAge { stage: "outbox", depth: row.get(4), oldest: at(5)? },
        ])
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// `VACUUM INTO` each file, the inbox first: an inbox copy older than the pipeline's can only
    /// hold fewer raw events than the pipeline already applied, and applying one again is a no-op
    /// (dedup keys), while the other order could restore events marked done that never were.
    async fn backup_into(&self, dir: &std::path::Path) -> StoreResult<Vec<std::path::PathBuf>> {
        let files: Vec<(String, String)> =
            sqlx::query_as("SELECT name, file FROM pragma_database_list").fetch_all(&self.reader).await?;
        let file_of = |schema: &str| {
            files.iter().find(|(name, _)| name == schema).map(|(_, file)| std::path::PathBuf::from(file))
        };
        let mut written = Vec::new();
        for schema in [INBOX_SCHEMA, "main"] {
            let source = file_of(schema).ok_or_else(|| StoreError::NotFound(format!("the `{schema}` database")))?;
            let name = source
                .file_name()
                .ok_or_else(|| StoreError::Corrupt(format!("`{}` has no file name", source.display())))?;
            let target = dir.join(name);
            if target.exists() {
                return Err(StoreError::Unsupported(format!(
                    "`{}` exists already: back up into an empty folder",
                    target.display()
                )));
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM {schema} INTO ?")))
                .bind(target.to_string_lossy().into_owned())
                .execute(&self.reader)
                .await?;
            written.push(target);
        }
        Ok(written)
    }

    async fn stage_counts(&self) -> StoreResult<StageCounts> {
        const COLLECTING: &str = HandoffState::Collecting.as_str();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM {INBOX_SCHEMA}.inbox), (SELECT COUNT(*) FROM inbox_processed), \
             (SELECT COUNT(*) FROM quarantine), (SELECT COUNT(*) FROM handoffs WHERE state = '{COLLECTING}'), \
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
            source: handoffd_contract::inbox::InboxSource::Webhook,
            event: handoffd_contract::webhook::Verified::for_offline_tool(body.as_bytes().to_vec(), Utc::now()),
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

    /// The backtest reads routing decisions by event and time: the plan uses the index, not a scan of the audit.
    #[tokio::test]
    async fn the_backtest_reads_the_audit_by_its_event_and_time_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("h.db").display())).await.unwrap();
        let plan: Vec<String> = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM audit WHERE event = 'routed' AND at >= '2026' AND at < '2027'",
        )
        .fetch_all(&store.reader)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect();
        assert!(plan.iter().any(|step| step.contains("audit_event_at")), "{plan:?}");
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

        crate::ingest::apply_interactions(&store, &[(ids[0], empty_batch())]).await.unwrap();
        store.quarantine(ids[2], "not JSON", Utc::now()).await.unwrap();
        let left = store.unprocessed_inbox(10).await.unwrap();
        assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[1]]);
        assert_eq!(left[0].event.body(), b"b");
        assert_eq!(store.list_quarantine(10).await.unwrap()[0].body, b"c", "the body is copied from the inbox file");
        assert_eq!(store.get_quarantine(ids[2]).await.unwrap().inbox_id, ids[2], "one id: the inbox row's");
        let counts = store.stage_counts().await.unwrap();
        assert_eq!((counts.inbox_total, counts.inbox_unprocessed), (3, 1));

        // A row normalised again keeps one record; later rows come after the low-water mark.
        crate::ingest::apply_interactions(&store, &[(ids[0], empty_batch()), (ids[1], empty_batch())]).await.unwrap();
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
        assert_eq!(
            left.iter().map(|e| (e.id, e.event.body().to_vec())).collect::<Vec<_>>(),
            vec![(8, b"body 8".to_vec())]
        );
        assert_eq!(left[0].event.query(), "", "rows from before the query column have none");
        assert_eq!(store.stage_counts().await.unwrap().inbox_total, 2);
        // Ids go on from the moved rows, never reused.
        assert_eq!(store.insert_inbox(&[event("new")]).await.unwrap(), vec![9]);
    }
}

/// The store conformance suite on SQLite, a fresh temp dir per test.
#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use super::SqliteStore;
    use crate::store::conformance::Backend;

    async fn backend() -> Backend {
        let dir = tempfile::tempdir().expect("a temp dir");
        // A test's store need not survive a power cut: NORMAL spares the fsyncs.
        let url = format!("sqlite://{}?synchronous=normal", dir.path().join("handoffd.db").display());
        let store = SqliteStore::open(&url).await.expect("the store opens");
        Backend::new(Arc::new(store), dir)
    }

    crate::store_conformance_suite!(backend);
}

#[async_trait]
impl PollCursorStore for SqliteStore {
    async fn claim_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<PollCursor>> {
        let _turn = self.turns.urgent();
        poll::claim(&self.writer, connector_id, holder, now, lease_until).await
    }

    async fn advance_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _turn = self.turns.urgent();
        poll::advance(&self.writer, connector_id, holder, cursor, now).await
    }

    async fn release_poll_cursor(&self, connector_id: &str, holder: &str) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        poll::release(&self.writer, connector_id, holder).await
    }

    async fn poll_cursors(&self) -> StoreResult<Vec<PollCursor>> {
        poll::all(&self.reader).await
    }
}

#[async_trait]
impl crate::store::ConnectorPauseStore for SqliteStore {
    async fn set_connector_paused(&self, connector_id: &str, paused: bool, now: DateTime<Utc>) -> StoreResult<bool> {
        let _turn = self.turns.urgent();
        pauses::set(&self.writer, connector_id, paused, now).await
    }

    async fn paused_connectors(&self) -> StoreResult<Vec<String>> {
        pauses::all(&self.reader).await
    }
}
