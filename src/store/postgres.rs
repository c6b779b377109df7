//! The shared store: PostgreSQL, for several instances sharing the work behind a load balancer.
//!
//! The same traits and the same rows as SQLite (`migrations/postgres` mirrors `migrations/sqlite`), with what
//! sharing needs:
//!
//! - **Ingest on any instance**: the inbox is one table; a group commit is one multi-row `INSERT`.
//! - **Claims with an expiry**: the inbox rows an instance normalises (from `inbox_pending`, the rows still to
//!   normalise) and the ready handoffs it briefs are claimed with `FOR UPDATE SKIP LOCKED` until [`CLAIM_FOR`] from now, so instances split the work instead of
//!   doing it twice; a killed instance's claims expire and another takes the rows. Outbox jobs already carry a
//!   lease per worker (`lease_jobs`).
//! - **One pipeline writer at a time**: identity and conversation read then write (is there a customer with
//!   this key? then create one), rules written for one writer. Their transactions take one advisory lock, so
//!   two instances never create the same customer twice; ingest and delivery do not take it.
//! - **Migrations under an advisory lock**: sqlx's migrator holds `pg_advisory_lock` while it migrates, so
//!   instances starting together do not race.
//!
//! Times are `timestamptz` (microseconds, as the SQLite text), JSON values text, as the stages wrote them.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};

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
mod wakeups;
mod watch;

use pipeline::transition_handoff;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Group commits one instance has in flight at once. A commit waits for PostgreSQL's WAL flush, which every
/// instance's commits share: one that arrives while another instance's flush is under way waits for it, then for
/// its own. With one commit at a time, an instance's next group waited for both, and three instances flooded each
/// committed groups of 6-7 webhooks (22-26 with one instance), most of their writers' time waiting for WAL (in a
/// held-pipeline flood, 1.4 of the 3 writers at any moment). A second group sent meanwhile is written to the WAL
/// at once and flushed with the next flush, whoever's it is.
pub const INBOX_COMMITS_AT_ONCE: usize = 2;

/// The longest a small group commit waits for more webhooks after a small commit that waited for a WAL flush
/// (`ingest::inbox_writer::Linger`). Each commit costs CPU in the daemon and in its backend whatever its size
/// (a transaction, a plan's executor, a WAL write): three instances flooded committed groups of 3-4 webhooks,
/// 5,116-6,951 commits for 20,000 webhooks against 1,410 of 14 with one instance, and PostgreSQL's CPU for the
/// same rows doubled (ingest7 in PERFORMANCE.md). Short beside the flush the commit then waits for (1-3 ms here).
pub const INBOX_LINGER: Duration = Duration::from_millis(2);

/// How long a claim on inbox rows or a ready handoff holds: longer than any round takes, short enough that a
/// killed instance's work is taken over promptly.
pub const CLAIM_FOR: Duration = Duration::from_secs(10);

pub struct PostgresStore {
    pool: PgPool,
    /// This process's name in claims: unique per open, so a restarted instance does not mistake a dead
    /// life's claims for its own (they expire instead).
    instance: String,
    /// The schema the tables are in: it names the wake-up channels.
    schema: String,
    /// The group commits' own connections (`inbox::insert_inbox`), kept out of the pool, one per commit in flight
    /// ([`INBOX_COMMITS_AT_ONCE`]).
    inbox_connections: Vec<tokio::sync::Mutex<Option<PgConnection>>>,
    /// Sends the other instances' wake-ups after commits, coalesced.
    notifier: wakeups::Notifier,
}

impl PostgresStore {
    /// Connect to `store.url` (`postgres://...`; `?options[search_path]=name` picks a schema) and migrate.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::connect(PgConnectOptions::from_str(url)?).await
    }

    pub async fn connect(options: PgConnectOptions) -> Result<Self, StoreError> {
        // No store transaction waits on anything but the database; one left open (a hung or partitioned
        // instance) would hold its locks, the pipeline's advisory lock among them, for every instance.
        let options = options.options([("idle_in_transaction_session_timeout", "30s")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            // A failover drops every connection: a connection is tested before use, and a broken one replaced.
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&pool).await?;
        let instance = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
        let notifier = wakeups::Notifier::start(pool.clone(), schema.clone(), instance.clone());
        let inbox_connections = (0..INBOX_COMMITS_AT_ONCE).map(|_| tokio::sync::Mutex::new(None)).collect();
        Ok(Self { pool, instance, schema, inbox_connections, notifier })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A connection of its own for a task that keeps one (the group commit, the notifier), with the pool's options.
async fn connect_kept(pool: &PgPool) -> Result<PgConnection, StoreError> {
    let options = pool.connect_options();
    match tokio::time::timeout(KEPT_CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(connected) => Ok(connected?),
        // What the pool answers when it cannot connect within its `acquire_timeout`.
        Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
    }
}

/// As long as the pool waits for a connection (`acquire_timeout`).
const KEPT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn claim_for() -> f64 {
    CLAIM_FOR.as_secs_f64()
}

fn handoff_row(row: &PgRow) -> Result<HandoffRow, StoreError> {
    Ok(HandoffRow {
        id: row.get("id"),
        customer_id: row.get("customer_id"),
        state: HandoffState::parse(row.get("state"))?,
        opened_at: row.get("opened_at"),
        ready_at: row.get("ready_at"),
        ended_by: row.get("ended_by"),
        version: row.get("version"),
        crm_task_id: row.get("crm_task_id"),
    })
}

const HANDOFF_COLUMNS: &str = "id, customer_id, state, opened_at, ready_at, ended_by, version, crm_task_id";

fn stored_interaction(row: &PgRow) -> Result<StoredInteraction, StoreError> {
    let content: String = row.get("content");
    Ok(StoredInteraction {
        connector_id: row.get("connector_id"),
        channel: row.get("channel"),
        direction: row.get("direction"),
        speaker: row.get("speaker"),
        at: row.get("at"),
        kind: row.get("kind"),
        text: row.get("text"),
        interaction: serde_json::from_str(&content)
            .map_err(|e| StoreError::Corrupt(format!("interaction content: {e}")))?,
    })
}

const INTERACTION_COLUMNS: &str = "connector_id, channel, direction, speaker, at, kind, text, content";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialise to JSON")
}

fn dead_letter(row: &PgRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: row.get("id"),
        handoff_id: row.get("handoff_id"),
        crm_id: row.get("crm_id"),
        payload: row.get("payload"),
        attempts: row.get::<i64, _>("attempts") as u32,
        last_error: row.get("last_error"),
        failed_at: row.get("failed_at"),
    })
}

fn quarantine_entry(row: &PgRow) -> Result<QuarantineEntry, StoreError> {
    Ok(QuarantineEntry {
        id: row.get("id"),
        inbox_id: row.get("inbox_id"),
        connector_id: row.get("connector_id"),
        received_at: row.get("received_at"),
        reason: row.get("reason"),
        body: row.get("body"),
    })
}

async fn insert_audit(tx: &mut Transaction<'_, Postgres>, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (at, handoff_id, customer_id, event, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(entry.at)
        .bind(&entry.handoff_id)
        .bind(&entry.customer_id)
        .bind(&entry.event)
        .bind(entry.detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Audit entries in one statement, in their order (their ids ascending as they are listed).
async fn insert_audits(tx: &mut Transaction<'_, Postgres>, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let handoff_ids: Vec<Option<&str>> = entries.iter().map(|e| e.handoff_id.as_deref()).collect();
    let customer_ids: Vec<Option<&str>> = entries.iter().map(|e| e.customer_id.as_deref()).collect();
    let events: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    let details: Vec<String> = entries.iter().map(|e| e.detail.to_string()).collect();
    sqlx::query(
        "INSERT INTO audit (at, handoff_id, customer_id, event, detail) \
         SELECT at, handoff_id, customer_id, event, detail \
         FROM UNNEST($1::TIMESTAMPTZ[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) \
           WITH ORDINALITY AS e (at, handoff_id, customer_id, event, detail, n) ORDER BY n",
    )
    .bind(&at)
    .bind(&handoff_ids)
    .bind(&customer_ids)
    .bind(&events)
    .bind(&details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The inbox rows' effects are in (or they are quarantined), in the same transaction as them: each row leaves the
/// normalisers' queue, its claim with it. One statement for a round's rows; a row marked twice (in this call or
/// before) keeps its first time.
async fn mark_processed(tx: &mut Transaction<'_, Postgres>, processed: &[(i64, DateTime<Utc>)]) -> StoreResult<()> {
    if processed.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(processed.len());
    let (ids, times): (Vec<i64>, Vec<DateTime<Utc>>) =
        processed.iter().filter(|(id, _)| seen.insert(*id)).copied().unzip();
    sqlx::query(
        "WITH done AS (DELETE FROM inbox_pending WHERE inbox_id = ANY($1)) \
         INSERT INTO inbox_processed (inbox_id, processed_at) SELECT * FROM UNNEST($1::BIGINT[], $2::TIMESTAMPTZ[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&times)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl QuarantineStore for PostgresStore {
    async fn quarantine(&self, inbox_id: i64, reason: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The entry takes its inbox row's id, as on SQLite.
        sqlx::query(
            "INSERT INTO quarantine (id, inbox_id, connector_id, received_at, reason, body, created_at) \
             SELECT id, id, connector_id, received_at, $1, body, $2 FROM inbox WHERE id = $3 ON CONFLICT DO NOTHING",
        )
        .bind(reason)
        .bind(now)
        .bind(inbox_id)
        .execute(&mut *tx)
        .await?;
        mark_processed(&mut tx, &[(inbox_id, now)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_quarantine(&self, limit: u32) -> StoreResult<Vec<QuarantineEntry>> {
        let rows = sqlx::query("SELECT * FROM quarantine ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(quarantine_entry).collect()
    }

    async fn get_quarantine(&self, id: i64) -> StoreResult<QuarantineEntry> {
        let row = sqlx::query("SELECT * FROM quarantine WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("quarantine entry {id}")))?;
        quarantine_entry(&row)
    }

    async fn drop_quarantine(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM quarantine WHERE id = $1").bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("quarantine entry {id}")));
        }
        Ok(())
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn load_token(&self, connector_id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT token FROM oauth_tokens WHERE connector_id = $1")
            .bind(connector_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn save_token(&self, connector_id: &str, token: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_tokens (connector_id, token, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (connector_id) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at",
        )
        .bind(connector_id)
        .bind(token)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_for_handoff(&self, handoff_id: &str) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, handoff_id, customer_id, event, detail FROM audit WHERE handoff_id = $1 ORDER BY id",
        )
        .bind(handoff_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: row.get("at"),
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
impl PollCursorStore for PostgresStore {
    async fn claim_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<PollCursor>> {
        poll::claim(&self.pool, connector_id, holder, now, lease_until).await
    }

    async fn advance_poll_cursor(
        &self,
        connector_id: &str,
        holder: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        poll::advance(&self.pool, connector_id, holder, cursor, now).await
    }

    async fn release_poll_cursor(&self, connector_id: &str, holder: &str) -> StoreResult<()> {
        poll::release(&self.pool, connector_id, holder).await
    }

    async fn poll_cursors(&self) -> StoreResult<Vec<PollCursor>> {
        poll::all(&self.pool).await
    }
}

#[async_trait]
impl StatusStore for PostgresStore {
    async fn queue_ages(&self, now: DateTime<Utc>) -> StoreResult<Vec<crate::store::QueueAge>> {
        const COLLECTING: &str = HandoffState::Collecting.as_str();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH waiting AS (SELECT i.received_at FROM inbox_pending p JOIN inbox i ON i.id = p.inbox_id \
               WHERE p.inbox_id > (SELECT COALESCE(MAX(id), 0) FROM inbox) - $1) \
             SELECT (SELECT COUNT(*) FROM waiting), (SELECT MIN(received_at) FROM waiting), \
             (SELECT COUNT(*) FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= $2), \
             (SELECT MIN(ready_at) FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= $2), \
             (SELECT COUNT(*) FROM outbox), (SELECT MIN(created_at) FROM outbox)"
        )))
        .bind(crate::store::QUEUE_INBOX_WINDOW)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(vec![
            crate::store::QueueAge { stage: "inbox", depth: row.get(0), oldest: row.get(1) },
            crate::store::QueueAge { stage: "handoffs", depth: row.get(2), oldest: row.get(3) },
            crate::store::QueueAge { stage: "outbox", depth: row.get(4), oldest: row.get(5) },
        ])
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn stage_counts(&self) -> StoreResult<StageCounts> {
        const COLLECTING: &str = HandoffState::Collecting.as_str();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM inbox), (SELECT COUNT(*) FROM inbox_pending), \
             (SELECT COUNT(*) FROM quarantine), (SELECT COUNT(*) FROM handoffs WHERE state = '{COLLECTING}'), \
             (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM dead_letters), \
             (SELECT COUNT(*) FROM outbox WHERE locked_until IS NULL), (SELECT COUNT(*) FROM interactions), \
             (SELECT COUNT(*) FROM handoffs WHERE crm_task_id IS NOT NULL), \
             (SELECT COUNT(*) FROM interactions WHERE handoff_id IN \
              (SELECT id FROM handoffs WHERE crm_task_id IS NOT NULL))"
        )))
        .fetch_one(&self.pool)
        .await?;
        // The queue holds exactly the rows not yet processed (nor quarantined): counting it reads a few pages,
        // where counting `inbox_processed` read every row ever normalised, on every scrape of every instance.
        Ok(StageCounts {
            inbox_total: row.get(0),
            inbox_unprocessed: row.get(1),
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

/// The store conformance suite on PostgreSQL: each test in a schema of its own, dropped afterwards.
#[cfg(test)]
pub(crate) mod scratch {
    use std::io::Write;
    use std::str::FromStr;
    use std::sync::Arc;

    use sqlx::postgres::PgConnectOptions;

    use super::PostgresStore;

    /// The variable naming the PostgreSQL the tests use (`postgres://postgres@127.0.0.1:5432/test`).
    pub const URL_VAR: &str = "HANDOFFD_TEST_POSTGRES_URL";

    /// The test database's URL, or `None` after saying the test is skipped. Under CI (`CI` set) a missing
    /// variable fails the test: CI must run the PostgreSQL tests, not skip them quietly.
    pub fn url_or_skip(test: &str) -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
                assert!(!ci, "{URL_VAR} is not set under CI: the PostgreSQL tests must run there");
                // Straight to stderr, past the test harness's capture: a skip must be seen.
                let _ =
                    writeln!(std::io::stderr(), "SKIPPED {test}: {URL_VAR} is not set (no PostgreSQL to test against)");
                None
            }
        }
    }

    /// A schema made for one test, dropped with it.
    pub struct Schema {
        url: String,
        pub name: String,
    }

    impl Schema {
        pub async fn create(url: &str) -> Self {
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(url).await.expect("the test PostgreSQL accepts connections");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&admin).await.expect("a schema");
            admin.close().await;
            Self { url: url.to_owned(), name }
        }

        pub fn options(&self) -> PgConnectOptions {
            // Named after the schema, so that its connections can be told apart when it is dropped.
            PgConnectOptions::from_str(&self.url)
                .expect("a PostgreSQL URL")
                .options([("search_path", &self.name)])
                .application_name(&self.name)
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            // Dropped on a thread of its own: the test's runtime may be shutting down.
            let (url, name) = (self.url.clone(), self.name.clone());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let admin = sqlx::PgPool::connect(&url).await.ok()?;
                    // The test's runtime is blocked in this drop: its connections cannot end their transactions.
                    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
                        .bind(&name)
                        .execute(&admin)
                        .await
                        .ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                        .execute(&admin)
                        .await
                        .ok()?;
                    admin.close().await;
                    Some(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(()))) {
                eprintln!("could not drop the test schema {}", self.name);
            }
        }
    }

    /// A fresh store in a fresh schema, or `None` when PostgreSQL tests are skipped.
    pub async fn store(test: &str) -> Option<(Arc<PostgresStore>, Schema)> {
        let url = url_or_skip(test)?;
        let schema = Schema::create(&url).await;
        let store = PostgresStore::connect(schema.options()).await.expect("the store opens");
        Some((Arc::new(store), schema))
    }
}

/// The store conformance suite on PostgreSQL (`HANDOFFD_TEST_POSTGRES_URL`), a fresh schema per test.
#[cfg(test)]
mod conformance {
    use crate::store::conformance::Backend;

    async fn backend() -> Option<Backend> {
        let (store, schema) = super::scratch::store("the PostgreSQL store conformance case").await?;
        Some(Backend::new(store, schema))
    }

    crate::store_conformance_suite!(backend);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::PostgresStore;
    use crate::store::conformance::{raw_event, t0};
    use crate::store::{InboxStore, PipelineStore, Wakeup, WakeupStore, Wakeups};

    async fn next(wakeups: &mut Box<dyn Wakeups>) -> Option<Wakeup> {
        tokio::time::timeout(Duration::from_millis(500), wakeups.next()).await.ok().map(|w| w.expect("a wake-up"))
    }

    /// A transaction a hung instance leaves open is ended by the server, with its locks.
    #[tokio::test]
    async fn connections_end_transactions_left_idle() {
        let Some((store, _schema)) = super::scratch::store("connections_end_transactions_left_idle").await else {
            return;
        };
        let timeout: String =
            sqlx::query_scalar("SHOW idle_in_transaction_session_timeout").fetch_one(store.pool()).await.unwrap();
        assert_eq!(timeout, "30s");
    }

    /// A failover ends every session: the listening one is re-established and subscribed again, wakes every stage
    /// once (what was notified meanwhile is gone), and the next commit wakes it as before.
    #[tokio::test]
    async fn a_lost_listening_connection_listens_again_and_wakes_every_stage() {
        let Some((one, schema)) = super::scratch::store("a_lost_listening_connection_listens_again").await else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        let mut wakeups = other.subscribe().await.unwrap().expect("PostgreSQL has wake-ups");
        // Every session of this schema's but the one asking (both stores name theirs after the schema).
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&schema.name)
        .fetch_all(one.pool())
        .await
        .unwrap();
        assert!(!ended.is_empty(), "the listening session was among them");
        let mut woken = std::collections::BTreeSet::new();
        while woken.len() < Wakeup::ALL.len() {
            let wakeup = tokio::time::timeout(Duration::from_secs(10), wakeups.next())
                .await
                .expect("woken after the connection was lost")
                .expect("listening again");
            woken.insert(wakeup.as_str());
        }
        assert_eq!(next(&mut wakeups).await, None, "once");
        one.insert_inbox(&[raw_event("after", t0())]).await.expect("the pool replaced its connections");
        assert_eq!(next(&mut wakeups).await, Some(Wakeup::Inbox), "subscribed again");
    }

    /// Another instance's commit wakes a subscriber; a transaction dropped without commit wakes nobody.
    #[tokio::test]
    async fn a_commit_on_one_instance_wakes_the_others() {
        let Some((one, schema)) = super::scratch::store("a_commit_on_one_instance_wakes_the_others").await else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        let mut wakeups = other.subscribe().await.unwrap().expect("PostgreSQL has wake-ups");
        let ids = one.insert_inbox(&[raw_event("a", t0())]).await.unwrap();
        assert_eq!(next(&mut wakeups).await, Some(Wakeup::Inbox));

        let mut tx = one.begin().await.unwrap();
        tx.mark_processed(ids[0], t0()).await.unwrap();
        drop(tx);
        assert_eq!(next(&mut wakeups).await, None, "nothing was committed");
        let mut tx = one.begin().await.unwrap();
        tx.mark_processed(ids[0], t0()).await.unwrap();
        tx.mark_processed(ids[0], t0()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(next(&mut wakeups).await, Some(Wakeup::Handoffs));
        assert_eq!(next(&mut wakeups).await, None, "one wake-up per transaction");
    }

    /// An instance's own commits do not wake it through PostgreSQL (its stages were woken in-process); another
    /// instance's do.
    #[tokio::test]
    async fn an_instance_is_not_woken_by_its_own_commits() {
        let Some((one, schema)) = super::scratch::store("an_instance_is_not_woken_by_its_own_commits").await else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        let mut own = one.subscribe().await.unwrap().expect("PostgreSQL has wake-ups");
        one.insert_inbox(&[raw_event("a", t0())]).await.unwrap();
        assert_eq!(next(&mut own).await, None, "its own commit");
        other.insert_inbox(&[raw_event("b", t0())]).await.unwrap();
        assert_eq!(next(&mut own).await, Some(Wakeup::Inbox), "another instance's commit");
    }

    /// The normalisers' queue across instances: each instance is handed rows no other live instance holds, a
    /// processed row leaves the queue (its first time kept), and a requeued row is back in it, unclaimed, so
    /// another instance takes it at once.
    #[tokio::test]
    async fn instances_share_the_inbox_queue_and_a_requeued_row_is_free_at_once() {
        let Some((one, schema)) = super::scratch::store("instances_share_the_inbox_queue").await else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        let events: Vec<_> = ["a", "b", "c", "d"].iter().map(|body| raw_event(body, t0())).collect();
        let ids = one.insert_inbox(&events).await.unwrap();
        let claimed = |events: Vec<crate::store::InboxEvent>| events.iter().map(|e| e.id).collect::<Vec<_>>();

        assert_eq!(claimed(one.unprocessed_inbox(2).await.unwrap()), ids[..2]);
        assert_eq!(claimed(other.unprocessed_inbox(10).await.unwrap()), ids[2..], "the other instance's rows");
        assert_eq!(claimed(one.unprocessed_inbox(10).await.unwrap()), ids[..2], "its own claims again, no more");

        let mut tx = one.begin().await.unwrap();
        tx.mark_processed(ids[0], t0()).await.unwrap();
        tx.mark_processed(ids[1], t0()).await.unwrap();
        tx.mark_processed(ids[0], t0() + chrono::Duration::seconds(5)).await.unwrap();
        drop(tx);
        assert_eq!(claimed(one.unprocessed_inbox(10).await.unwrap()), ids[..2], "nothing was committed");
        let mut tx = one.begin().await.unwrap();
        tx.mark_processed(ids[0], t0()).await.unwrap();
        tx.mark_processed(ids[1], t0()).await.unwrap();
        tx.mark_processed(ids[0], t0() + chrono::Duration::seconds(5)).await.unwrap();
        tx.commit().await.unwrap();
        assert!(one.unprocessed_inbox(10).await.unwrap().is_empty(), "processed rows left the queue");
        let first: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT processed_at FROM inbox_processed WHERE inbox_id = $1")
                .bind(ids[0])
                .fetch_one(one.pool())
                .await
                .unwrap();
        assert_eq!(first, t0(), "a row marked twice keeps its first time");

        // Replayed (`handoffd replay`): every row is free at once, those `other` still holds included.
        let requeued = one.requeue_inbox(&crate::store::InboxSelection::default()).await.unwrap();
        assert_eq!(requeued, 4);
        assert_eq!(claimed(one.unprocessed_inbox(10).await.unwrap()), ids, "every row, none still held by `other`");
        assert!(other.unprocessed_inbox(10).await.unwrap().is_empty());
    }

    /// The inbox writer sends the next group while a commit waits (here for a lock another session holds on the
    /// inbox; in a flood, for another instance's WAL flush), on a kept connection of its own; both are answered
    /// once committed.
    #[tokio::test]
    async fn the_inbox_writer_sends_the_next_group_while_a_commit_waits() {
        let Some((store, schema)) = super::scratch::store("the_inbox_writer_sends_the_next_group").await else {
            return;
        };
        let (writer, handle) = crate::ingest::InboxWriter::new(store.clone(), Default::default());
        let writer = tokio::spawn(writer.run());
        let mut blocker = store.pool().begin().await.unwrap();
        sqlx::query("LOCK TABLE inbox IN EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
        // Group commits waiting for the lock, seen from another session.
        let waiting = || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' \
                 AND query LIKE 'WITH new AS (INSERT INTO inbox%'",
            )
            .bind(&schema.name)
            .fetch_one(store.pool())
            .await
            .unwrap();
            waiting
        };
        let until_waiting = |count: i64| async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while waiting().await < count {
                assert!(std::time::Instant::now() < deadline, "{count} group commits never waited together");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let first = tokio::spawn({
            let handle = handle.clone();
            async move { handle.commit(raw_event("a", t0())).await }
        });
        until_waiting(1).await;
        let second = tokio::spawn({
            let handle = handle.clone();
            async move { handle.commit(raw_event("b", t0())).await }
        });
        until_waiting(2).await;
        blocker.commit().await.unwrap();
        let (first, second) = (first.await.unwrap().unwrap(), second.await.unwrap().unwrap());
        assert_ne!(first, second);
        drop(handle);
        writer.await.unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox").fetch_one(store.pool()).await.unwrap();
        assert_eq!(stored, 2);
    }

    /// After a small commit that waited (here for a lock another session holds on the inbox; in a flood, for a WAL
    /// flush), a small group waits for the webhooks that follow and goes with them in one commit; each is answered
    /// once committed. Without the linger the first would go alone, at once.
    #[tokio::test]
    async fn a_small_group_after_a_small_commit_that_waited_lingers_for_the_next_webhooks() {
        let Some((store, schema)) = super::scratch::store("a_small_group_lingers").await else {
            return;
        };
        // A linger long enough to be seen on a loaded machine; the store's is 2 ms.
        let linger = Duration::from_millis(400);
        let (writer, handle) = crate::ingest::InboxWriter::new(store.clone(), Default::default());
        let writer = tokio::spawn(writer.with_linger(linger).run());
        let mut blocker = store.pool().begin().await.unwrap();
        sqlx::query("LOCK TABLE inbox IN EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
        let waited = tokio::spawn({
            let handle = handle.clone();
            async move { handle.commit(raw_event("waited", t0())).await }
        });
        // Long enough for the linger that follows to be the longest: half of this.
        tokio::time::sleep(2 * linger).await;
        blocker.commit().await.unwrap();
        waited.await.unwrap().unwrap();
        let commit = |id: &'static str| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.commit(raw_event(id, t0())).await })
        };
        let started = std::time::Instant::now();
        let first = commit("first");
        tokio::time::sleep(linger / 4).await;
        let (second, third) = (commit("second"), commit("third"));
        let ids: Vec<i64> =
            vec![first.await.unwrap().unwrap(), second.await.unwrap().unwrap(), third.await.unwrap().unwrap()];
        assert!(started.elapsed() < 2 * linger, "answered within the linger: {:?}", started.elapsed());
        let transactions: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT xmin::TEXT) FROM inbox WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(transactions, 1, "the three in one commit");
        drop(handle);
        writer.await.unwrap();
        drop(schema);
    }

    /// Commits in a burst share NOTIFYs, at most one every `NOTIFY_SPACING`, and the last commit's wake-up is not
    /// lost: the other instance is woken after it.
    #[tokio::test]
    async fn commits_in_a_burst_share_their_notifications() {
        let Some((one, schema)) = super::scratch::store("commits_in_a_burst_share_their_notifications").await else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        let mut wakeups = other.subscribe().await.unwrap().expect("PostgreSQL has wake-ups");
        // Ten commits 3 ms apart: one NOTIFY each without the spacing (a NOTIFY takes about a millisecond).
        let started = std::time::Instant::now();
        for _ in 0..10 {
            one.notifier.wake(&[Wakeup::Inbox]);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let burst = started.elapsed();
        let mut woken = 0;
        while next(&mut wakeups).await.is_some() {
            woken += 1;
        }
        let allowed = burst.as_millis() / super::wakeups::NOTIFY_SPACING.as_millis() + 2;
        assert!((1..=allowed as usize).contains(&woken), "{woken} wake-ups for a burst of {burst:?}");
    }

    /// A ready handoff another live instance has claimed is not this instance's next one (its maker would wake at
    /// once and find nothing, over and over); its own claims are, and so is a claim that lapsed.
    #[tokio::test]
    async fn a_handoff_another_instance_claimed_is_not_waited_for() {
        let Some((one, schema)) = super::scratch::store("a_handoff_another_instance_claimed_is_not_waited_for").await
        else {
            return;
        };
        let other = PostgresStore::connect(schema.options()).await.expect("a second instance");
        // Made ready and claimed by `one`.
        let (_, handoff) = crate::store::conformance::customer_with_handoff(one.as_ref(), "+919820012345", t0()).await;
        let ready_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT ready_at FROM handoffs WHERE id = $1")
            .bind(&handoff)
            .fetch_one(one.pool())
            .await
            .unwrap();
        assert_eq!(one.next_ready_at().await.unwrap(), Some(ready_at), "its own claim");
        assert_eq!(other.next_ready_at().await.unwrap(), None, "another live instance's claim");
        assert!(other.ready_handoffs(t0() + chrono::Duration::days(1), 10).await.unwrap().is_empty());

        sqlx::query("UPDATE handoffs SET claimed_until = now() - interval '1 second' WHERE id = $1")
            .bind(&handoff)
            .execute(one.pool())
            .await
            .unwrap();
        assert_eq!(other.next_ready_at().await.unwrap(), Some(ready_at), "a lapsed claim");
    }

    /// Upgrading a store that has rows in flight: migration 0007 queues exactly the rows not yet processed, each
    /// with the claim it had.
    #[tokio::test]
    async fn the_inbox_queue_is_filled_from_the_rows_an_older_store_left_unprocessed() {
        let Some(url) = super::scratch::url_or_skip("the_inbox_queue_is_filled_from_older_rows") else { return };
        let schema = super::scratch::Schema::create(&url).await;
        let pool = sqlx::PgPool::connect_with(schema.options()).await.unwrap();
        for version in [
            include_str!("../../migrations/postgres/0001_pipeline.sql"),
            include_str!("../../migrations/postgres/0002_poll_cursors.sql"),
            include_str!("../../migrations/postgres/0003_routing.sql"),
            include_str!("../../migrations/postgres/0004_watch.sql"),
            include_str!("../../migrations/postgres/0005_connector_pauses.sql"),
            include_str!("../../migrations/postgres/0006_routing_gaps.sql"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(version)).execute(&pool).await.unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO inbox (connector_id, source, received_at, body) \
               SELECT 'wa', 'webhook', now(), '\\x00' FROM generate_series(1, 3); \
             INSERT INTO inbox_processed (inbox_id, processed_at) VALUES (1, now()); \
             INSERT INTO inbox_claims (inbox_id, claimed_by, claimed_until) VALUES (1, 'gone', now()), (2, 'b', now())",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::raw_sql(include_str!("../../migrations/postgres/0007_inbox_pending.sql")).execute(&pool).await.unwrap();
        let queued: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT inbox_id, claimed_by FROM inbox_pending ORDER BY inbox_id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(queued, vec![(2, Some("b".to_owned())), (3, None)]);
        pool.close().await;
    }

    /// The backtest reads routing decisions by event and time: the audit has an index on both, in that order.
    #[tokio::test]
    async fn the_audit_is_indexed_by_event_and_time() {
        let Some((store, schema)) = super::scratch::store("the_audit_is_indexed_by_event_and_time").await else {
            return;
        };
        let definition: String = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit' AND indexname = 'audit_event_at'",
        )
        .bind(&schema.name)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(definition.ends_with("(event, at)"), "{definition}");
    }
}

#[async_trait]
impl crate::store::ConnectorPauseStore for PostgresStore {
    async fn set_connector_paused(&self, connector_id: &str, paused: bool, now: DateTime<Utc>) -> StoreResult<bool> {
        pauses::set(&self.pool, connector_id, paused, now).await
    }

    async fn paused_connectors(&self) -> StoreResult<Vec<String>> {
        pauses::all(&self.pool).await
    }
}
