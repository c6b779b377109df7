//! The pipeline's tables on PostgreSQL: ready handoffs claimed per instance, and [`PgPipelineTx`], the
//! primitives the normalize, identity and conversation rules drive. Only SQL here, as in `sqlite/pipeline.rs`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

use super::identity::{MERGE_COLUMNS, stored_merge};
use super::{HANDOFF_COLUMNS, PostgresStore, claim_for, conversations, handoff_row, json};
use crate::store::*;
use handoffd_contract::crm::CrmOwner;

/// `collecting` as SQL text, so the partial index `handoffs_ready` serves the reads of ready handoffs.
const COLLECTING: &str = HandoffState::Collecting.as_str();

/// The advisory lock every pipeline transaction holds (per schema, so schemas sharing a database stay apart).
/// The identity rules read, then write (no customer holds this key: create one); two instances doing that at
/// once for the same phone would make two customers. One pipeline writer at a time keeps the rules as they
/// are written, as SQLite's one writer does; a round is many rows, so this costs a few commits, not one per
/// webhook. Ingest and delivery never take it.
const PIPELINE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':handoffd-pipeline'))";

#[async_trait]
impl PipelineStore for PostgresStore {
    async fn begin(&self) -> StoreResult<Box<dyn PipelineTx + '_>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(PIPELINE_LOCK).execute(&mut *tx).await?;
        Ok(Box::new(PgPipelineTx {
            tx,
            notifier: &self.notifier,
            wake: Vec::new(),
            processed: Vec::new(),
            deferred: DeferredWrites::default(),
            bound_keys: HashSet::new(),
            named_customers: HashSet::new(),
        }))
    }

    /// Claims the handoffs it hands out (see `inbox::unprocessed_inbox`): instances brief different
    /// handoffs, and a killed instance's claims lapse after [`super::CLAIM_FOR`].
    async fn ready_handoffs(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<HandoffRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE handoffs SET claimed_by = $1, claimed_until = clock_timestamp() + make_interval(secs => $2) \
             WHERE id IN (SELECT id FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= $3 \
             AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_until < clock_timestamp()) \
             ORDER BY ready_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {HANDOFF_COLUMNS}"
        )))
        .bind(&self.instance)
        .bind(claim_for())
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut ready = rows.iter().map(handoff_row).collect::<StoreResult<Vec<_>>>()?;
        // UPDATE ... RETURNING has no order of its own.
        ready.sort_by(|a, b| a.ready_at.cmp(&b.ready_at).then_with(|| a.id.cmp(&b.id)));
        Ok(ready)
    }

    /// Of the handoffs `ready_handoffs` could hand this instance: one another live instance has claimed is not
    /// waited for (it is briefing it, or waits for the pipeline's lock to commit it), else the maker would sleep
    /// for no time and ask again, two queries a turn, for as long as the other instance holds it (with three
    /// instances flooded, 3,500 empty claims and 3,400 of these in one run, against 76 and fewer than 70 with
    /// one). A claim that lapses is found within the maker's longest sleep.
    async fn next_ready_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT MIN(ready_at) FROM handoffs WHERE state = '{COLLECTING}' \
             AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_until < clock_timestamp())"
        )))
        .bind(&self.instance)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn handoff_conversation(&self, handoff_id: &str) -> StoreResult<HandoffConversation> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = $1")))
            .bind(handoff_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("handoff {handoff_id}")))?;
        let mut read = self.handoff_conversations(&[handoff_row(&row)?]).await?;
        read.pop().ok_or_else(|| StoreError::NotFound(format!("handoff {handoff_id}")))
    }

    async fn handoff_conversations(&self, handoffs: &[HandoffRow]) -> StoreResult<Vec<HandoffConversation>> {
        conversations::read(&self.pool, handoffs).await
    }

    async fn expire_handoffs(
        &self,
        opened_before: DateTime<Utc>,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE handoffs SET state = $1, closed_at = CASE WHEN $2 THEN $3 ELSE closed_at END \
             WHERE opened_at < $4 AND state = ANY($5)",
        )
        .bind(transition.to.as_str())
        .bind(transition.to == HandoffState::Closed)
        .bind(now)
        .bind(opened_before)
        .bind(states(transition.from))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn rotation_position(&self, pool: &str) -> StoreResult<i64> {
        let next: Option<i64> = sqlx::query_scalar("SELECT next_index FROM owner_rotation WHERE pool = $1")
            .bind(pool)
            .fetch_optional(&self.pool)
            .await?;
        Ok(next.unwrap_or(0))
    }

    async fn claim_rotation(&self, pool: &str, expected: i64, next: i64) -> StoreResult<RotationClaim> {
        sqlx::query("INSERT INTO owner_rotation (pool, next_index) VALUES ($1, 0) ON CONFLICT (pool) DO NOTHING")
            .bind(pool)
            .execute(&self.pool)
            .await?;
        // One statement: the row lock makes two routers' updates queue, and the second sees the first's position
        // (READ COMMITTED re-reads the row before applying its WHERE), so it changes nothing and learns where the
        // rotation is now.
        let current: i64 = sqlx::query_scalar(
            "WITH taken AS (UPDATE owner_rotation SET next_index = $2 WHERE pool = $1 AND next_index = $3 \
             RETURNING next_index) \
             SELECT COALESCE((SELECT -1 FROM taken), (SELECT next_index FROM owner_rotation WHERE pool = $1))",
        )
        .bind(pool)
        .bind(next)
        .bind(expected)
        .fetch_one(&self.pool)
        .await?;
        Ok(if current == -1 { RotationClaim::Taken } else { RotationClaim::Moved { current } })
    }

    async fn kept_escalations(&self, handoff_ids: &[String]) -> StoreResult<HashMap<String, KeptEscalation>> {
        let rows = sqlx::query(
            "SELECT handoff_id, escalated_owner_id, escalated_pool, escalated_priority FROM watched_tasks \
             WHERE (escalated_owner_id IS NOT NULL OR escalated_priority IS NOT NULL) AND handoff_id = ANY($1)",
        )
        .bind(handoff_ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                kept_escalation(
                    row.get("handoff_id"),
                    row.get("escalated_owner_id"),
                    row.get("escalated_pool"),
                    row.get("escalated_priority"),
                )
            })
            .collect()
    }

    async fn open_handoffs_by_owner(&self) -> StoreResult<HashMap<String, u32>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT o.owner_id, COUNT(*) FROM handoff_owners o JOIN handoffs h ON h.id = o.handoff_id \
             WHERE o.owner_id IS NOT NULL AND h.state IN ('queued', 'open') GROUP BY o.owner_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(owner, count)| (owner, count as u32)).collect())
    }

    async fn crm_owners(&self, crm_id: &str) -> StoreResult<Vec<CrmOwner>> {
        let rows: Vec<(String, Option<String>, Option<String>, bool)> =
            sqlx::query_as("SELECT owner_id, name, email, active FROM crm_owners WHERE crm_id = $1 ORDER BY owner_id")
                .bind(crm_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id, name, email, active)| CrmOwner { id, name, email, active }).collect())
    }

    async fn replace_crm_owners(&self, crm_id: &str, owners: &[CrmOwner], now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM crm_owners WHERE crm_id = $1").bind(crm_id).execute(&mut *tx).await?;
        for owner in owners {
            sqlx::query(
                "INSERT INTO crm_owners (crm_id, owner_id, email, name, active, synced_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (crm_id, owner_id) DO NOTHING",
            )
            .bind(crm_id)
            .bind(&owner.id)
            .bind(owner.email.as_deref().map(str::to_ascii_lowercase))
            .bind(&owner.name)
            .bind(owner.active)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(super) fn states(states: &[HandoffState]) -> Vec<String> {
    states.iter().map(|s| s.as_str().to_owned()).collect()
}

/// Apply a transition to one handoff, inside the caller's transaction.
pub(super) async fn transition_handoff(
    tx: &mut Transaction<'_, Postgres>,
    handoff_id: &str,
    transition: HandoffTransition,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE handoffs SET state = $1, closed_at = CASE WHEN $2 THEN $3 ELSE closed_at END \
         WHERE id = $4 AND state = ANY($5)",
    )
    .bind(transition.to.as_str())
    .bind(transition.to == HandoffState::Closed)
    .bind(now)
    .bind(handoff_id)
    .bind(states(transition.from))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One pipeline transaction, holding the pipeline's advisory lock until it ends.
pub(super) struct PgPipelineTx<'a> {
    tx: Transaction<'static, Postgres>,
    /// Where the wake-ups go once the transaction has committed.
    notifier: &'a super::wakeups::Notifier,
    /// The other instances' stages to wake when this transaction commits.
    wake: Vec<Wakeup>,
    /// Inbox rows marked processed, written in one statement at commit (two statements a row were a fifth of a
    /// round's round trips, all under the pipeline's lock). Nothing in the transaction reads them back.
    processed: Vec<(i64, DateTime<Utc>)>,
    /// Handoff touches and interaction attachments, written in one statement each before anything could read them.
    deferred: DeferredWrites,
    /// Match keys this transaction saw bound to a customer. A binding is never undone (a merge or a split moves
    /// it), so adding such a key again changes nothing: `add_keys` leaves them out, and sends nothing when no key
    /// is left (every message of a known customer used to re-add its keys).
    bound_keys: HashSet<String>,
    /// Customers this transaction saw with a name. A name is only ever given to a customer without one, so
    /// `name_customer` sends nothing for them (every message carrying a profile name used to try).
    named_customers: HashSet<String>,
}

/// Writes a round makes for each row (or brief) that nothing in the round reads back until a given point: each kind
/// is sent as one statement for the round (see [`PgPipelineTx::flush`]) instead of one per row, under the
/// pipeline's lock.
#[derive(Default)]
struct DeferredWrites {
    /// Touches in their order; the last of a handoff's is kept. A touch sets every column it names, so the last one
    /// is what a statement per touch would have left.
    touches: Vec<DeferredTouch>,
    /// (interaction id, handoff id), the last attachment of an interaction winning.
    attachments: Vec<(i64, String)>,
    /// Delivery jobs queued or refreshed, the last of a handoff winning.
    jobs: Vec<DeferredJob>,
    /// Owners assigned: (handoff id, assignment, now), the last of a handoff winning.
    owners: Vec<(String, Assignment, DateTime<Utc>)>,
    /// Audit entries, in their order. Nothing in a transaction reads the audit.
    audit: Vec<AuditEntry>,
}

/// A [`HandoffTouch`] kept until the transaction sends it.
struct DeferredTouch {
    handoff_id: String,
    state: HandoffState,
    last_activity_at: DateTime<Utc>,
    ready_at: DateTime<Utc>,
    ended_by: Option<String>,
}

/// A `queue_job` kept until the transaction sends it.
struct DeferredJob {
    handoff_id: String,
    crm_id: String,
    payload: String,
    version: i64,
    queued_at: DateTime<Utc>,
}

/// Of entries listed per handoff, the last of each handoff, in the order of those last entries (what one
/// upsert per entry would have left; one multi-row upsert may not name a row twice).
fn last_per_handoff<T>(entries: Vec<T>, handoff: impl Fn(&T) -> &String) -> Vec<T> {
    let mut last: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        last.insert(handoff(entry).clone(), index);
    }
    entries.into_iter().enumerate().filter(|(index, entry)| last[handoff(entry)] == *index).map(|(_, e)| e).collect()
}

impl PgPipelineTx<'_> {
    fn wake(&mut self, wakeup: Wakeup) {
        if !self.wake.contains(&wakeup) {
            self.wake.push(wakeup);
        }
    }

    /// Send the deferred writes: at commit, and before any primitive other than the row path's own
    /// (`customers_by_keys`, `add_keys`, `name_customer`, `insert_customer`, `insert_interaction`,
    /// `open_handoff_of`, `insert_handoff`, `touch_handoff`, `attach_interaction`, `mark_processed`) and the
    /// deferred ones (`queue_job`, `assign_owner`, `insert_audit`). Of those only `open_handoff_of` reads what a
    /// touch changes (the state), and it reads the deferred touches' states itself; an interaction's handoff, a
    /// touch's other columns, the outbox, the owners and the audit are read by none of them.
    async fn flush(&mut self) -> StoreResult<()> {
        self.flush_handoff_writes().await?;
        let jobs = last_per_handoff(std::mem::take(&mut self.deferred.jobs), |job| &job.handoff_id);
        if !jobs.is_empty() {
            let handoffs: Vec<&str> = jobs.iter().map(|job| job.handoff_id.as_str()).collect();
            let crm_ids: Vec<&str> = jobs.iter().map(|job| job.crm_id.as_str()).collect();
            let payloads: Vec<&str> = jobs.iter().map(|job| job.payload.as_str()).collect();
            let versions: Vec<i64> = jobs.iter().map(|job| job.version).collect();
            let times: Vec<DateTime<Utc>> = jobs.iter().map(|job| job.queued_at).collect();
            sqlx::query(
                "INSERT INTO outbox (handoff_id, crm_id, payload, version, next_attempt_at, created_at) \
                 SELECT handoff_id, crm_id, payload, version, at, at \
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TIMESTAMPTZ[]) \
                   AS j (handoff_id, crm_id, payload, version, at) \
                 ON CONFLICT (handoff_id) DO UPDATE SET payload = excluded.payload, \
                 version = excluded.version, crm_id = excluded.crm_id",
            )
            .bind(&handoffs)
            .bind(&crm_ids)
            .bind(&payloads)
            .bind(&versions)
            .bind(&times)
            .execute(&mut *self.tx)
            .await?;
        }
        let owners = last_per_handoff(std::mem::take(&mut self.deferred.owners), |owner| &owner.0);
        if !owners.is_empty() {
            let handoffs: Vec<&str> = owners.iter().map(|owner| owner.0.as_str()).collect();
            let owner_ids: Vec<Option<&str>> = owners.iter().map(|owner| owner.1.owner_id.as_deref()).collect();
            let pools: Vec<Option<&str>> = owners.iter().map(|owner| owner.1.pool.as_deref()).collect();
            let times: Vec<DateTime<Utc>> = owners.iter().map(|owner| owner.2).collect();
            let confirms: Vec<Option<bool>> = owners.iter().map(|owner| owner.1.confirm).collect();
            sqlx::query(
                "INSERT INTO handoff_owners (handoff_id, owner_id, pool, assigned_at, confirm) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TIMESTAMPTZ[], $5::BOOLEAN[]) \
                 ON CONFLICT (handoff_id) DO UPDATE SET owner_id = excluded.owner_id, pool = excluded.pool, \
                 assigned_at = excluded.assigned_at, confirm = excluded.confirm",
            )
            .bind(&handoffs)
            .bind(&owner_ids)
            .bind(&pools)
            .bind(&times)
            .bind(&confirms)
            .execute(&mut *self.tx)
            .await?;
        }
        let audit = std::mem::take(&mut self.deferred.audit);
        super::insert_audits(&mut self.tx, &audit).await
    }

    /// The deferred writes to handoffs and interactions (touches, attachments): what `record_brief` and
    /// `adopt_interactions` read.
    async fn flush_handoff_writes(&mut self) -> StoreResult<()> {
        let touches = std::mem::take(&mut self.deferred.touches);
        if !touches.is_empty() {
            let mut last: HashMap<&str, usize> = HashMap::with_capacity(touches.len());
            for (index, touch) in touches.iter().enumerate() {
                last.insert(touch.handoff_id.as_str(), index);
            }
            let mut kept: Vec<usize> = last.into_values().collect();
            // Rows locked in id order, as every statement of this kind does.
            kept.sort_by(|a, b| touches[*a].handoff_id.cmp(&touches[*b].handoff_id));
            let ids: Vec<&str> = kept.iter().map(|i| touches[*i].handoff_id.as_str()).collect();
            let states: Vec<&str> = kept.iter().map(|i| touches[*i].state.as_str()).collect();
            let activity: Vec<DateTime<Utc>> = kept.iter().map(|i| touches[*i].last_activity_at).collect();
            let ready: Vec<DateTime<Utc>> = kept.iter().map(|i| touches[*i].ready_at).collect();
            let ended_by: Vec<Option<&str>> = kept.iter().map(|i| touches[*i].ended_by.as_deref()).collect();
            sqlx::query(
                "UPDATE handoffs h SET state = t.state, last_activity_at = t.last_activity_at, ready_at = t.ready_at, \
                 ended_by = t.ended_by \
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TIMESTAMPTZ[], $4::TIMESTAMPTZ[], $5::TEXT[]) \
                   AS t (id, state, last_activity_at, ready_at, ended_by) \
                 WHERE h.id = t.id",
            )
            .bind(&ids)
            .bind(&states)
            .bind(&activity)
            .bind(&ready)
            .bind(&ended_by)
            .execute(&mut *self.tx)
            .await?;
        }
        let attachments = std::mem::take(&mut self.deferred.attachments);
        if !attachments.is_empty() {
            let mut last: HashMap<i64, &str> = HashMap::with_capacity(attachments.len());
            for (interaction, handoff) in &attachments {
                last.insert(*interaction, handoff.as_str());
            }
            let mut kept: Vec<(i64, &str)> = last.into_iter().collect();
            kept.sort_unstable();
            let (interactions, handoffs): (Vec<i64>, Vec<&str>) = kept.into_iter().unzip();
            sqlx::query(
                "UPDATE interactions i SET handoff_id = a.handoff_id \
                 FROM UNNEST($1::BIGINT[], $2::TEXT[]) AS a (id, handoff_id) WHERE i.id = a.id",
            )
            .bind(&interactions)
            .bind(&handoffs)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl PipelineTx for PgPipelineTx<'_> {
    async fn customers_by_keys(&mut self, match_keys: &[String]) -> StoreResult<Vec<KeyOwner>> {
        let rows = sqlx::query(
            "SELECT i.match_key, c.number, c.id, c.display_name IS NOT NULL FROM identities i \
             JOIN customers c ON c.id = i.customer_id WHERE i.match_key = ANY($1)",
        )
        .bind(match_keys)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut owners = Vec::with_capacity(rows.len());
        for row in &rows {
            let owner =
                KeyOwner { match_key: row.get(0), customer: CustomerRef { number: row.get(1), id: row.get(2) } };
            self.bound_keys.insert(owner.match_key.clone());
            if row.get::<bool, _>(3) {
                self.named_customers.insert(owner.customer.id.clone());
            }
            owners.push(owner);
        }
        Ok(owners)
    }

    async fn customer_facts(&mut self, customer_id: &str) -> StoreResult<CustomerFacts> {
        self.flush().await?;
        let created: DateTime<Utc> = sqlx::query_scalar("SELECT created_at FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("customer {customer_id}")))?;
        let crm_contact: Option<String> = sqlx::query_scalar(
            "SELECT crm_id || ':' || contact_id FROM crm_contacts WHERE customer_id = $1 ORDER BY crm_id LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        let match_keys: Vec<String> =
            sqlx::query_scalar("SELECT match_key FROM identities WHERE customer_id = $1 ORDER BY match_key")
                .bind(customer_id)
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(CustomerFacts { created_at: Some(created), crm_contact, match_keys })
    }

    async fn insert_customer(&mut self, id: &str, display_name: Option<&str>, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO customers (id, display_name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(display_name)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        if display_name.is_some() {
            self.named_customers.insert(id.to_owned());
        }
        Ok(())
    }

    async fn add_keys(
        &mut self,
        customer_id: &str,
        keys: &[(String, String)],
        connector_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let unbound: Vec<&(String, String)> = keys.iter().filter(|(key, _)| !self.bound_keys.contains(key)).collect();
        if unbound.is_empty() {
            return Ok(());
        }
        let (match_keys, raws): (Vec<&str>, Vec<&str>) = unbound.iter().map(|(k, r)| (k.as_str(), r.as_str())).unzip();
        // WITH ORDINALITY keeps the first of a key listed twice, as one INSERT per key would.
        sqlx::query(
            "INSERT INTO identities (match_key, customer_id, raw, connector_id, first_seen_at) \
             SELECT DISTINCT ON (k.match_key) k.match_key, $3, k.raw, $4, $5 \
             FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS k (match_key, raw, n) \
             ORDER BY k.match_key, k.n ON CONFLICT (match_key) DO NOTHING",
        )
        .bind(&match_keys)
        .bind(&raws)
        .bind(customer_id)
        .bind(connector_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        // Bound now, to this customer or (ON CONFLICT) to the one holding it already.
        self.bound_keys.extend(match_keys.iter().map(|key| (*key).to_owned()));
        Ok(())
    }

    async fn name_customer(&mut self, customer_id: &str, name: &str) -> StoreResult<()> {
        if self.named_customers.contains(customer_id) {
            return Ok(());
        }
        sqlx::query("UPDATE customers SET display_name = $1 WHERE id = $2 AND display_name IS NULL")
            .bind(name)
            .bind(customer_id)
            .execute(&mut *self.tx)
            .await?;
        self.named_customers.insert(customer_id.to_owned());
        Ok(())
    }

    async fn merge_customers(
        &mut self,
        survivor_id: &str,
        absorbed_id: &str,
        evidence: &[String],
        record: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.flush().await?;
        let tx = &mut self.tx;
        let merge_id: i64 = sqlx::query_scalar(
            "INSERT INTO merges (survivor_id, absorbed_id, evidence, merged_at, record) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(survivor_id)
        .bind(absorbed_id)
        .bind(json(&evidence))
        .bind(now)
        .bind(record)
        .fetch_one(&mut **tx)
        .await?;
        // Which rows move, so that a split can give back exactly these.
        for (kind, table) in [("interaction", "interactions"), ("handoff", "handoffs")] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO merge_moves (merge_id, kind, row_ref) \
                 SELECT $1, '{kind}', id::TEXT FROM {table} WHERE customer_id = $2"
            )))
            .bind(merge_id)
            .bind(absorbed_id)
            .execute(&mut **tx)
            .await?;
        }
        for table in ["identities", "interactions", "handoffs"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2")))
                .bind(survivor_id)
                .bind(absorbed_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("UPDATE customers SET merged_into = $1 WHERE id = $2")
            .bind(survivor_id)
            .bind(absorbed_id)
            .execute(&mut **tx)
            .await?;
        Ok(merge_id)
    }

    async fn record_conflict(&mut self, sighting: &ConflictSighting, now: DateTime<Utc>) -> StoreResult<()> {
        self.flush().await?;
        sqlx::query(
            "INSERT INTO identity_conflicts (customers, attach_to, evidence, reason, first_seen_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (customers) DO UPDATE SET attach_to = excluded.attach_to, \
             evidence = excluded.evidence, reason = excluded.reason, last_seen_at = excluded.last_seen_at, \
             times_seen = identity_conflicts.times_seen + 1",
        )
        .bind(sighting.customers.join(","))
        .bind(&sighting.attach_to)
        .bind(json(&sighting.evidence))
        .bind(&sighting.reason)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn merge(&mut self, merge_id: i64) -> StoreResult<Option<StoredMerge>> {
        self.flush().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = $1")))
            .bind(merge_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .as_ref()
            .map(stored_merge)
            .transpose()
    }

    async fn key_owners(&mut self, match_keys: &[String]) -> StoreResult<HashMap<String, String>> {
        self.flush().await?;
        let rows = sqlx::query("SELECT match_key, customer_id FROM identities WHERE match_key = ANY($1)")
            .bind(match_keys)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn undo_merge(
        &mut self,
        merge: &StoredMerge,
        restore: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<RowsMoved> {
        self.flush().await?;
        let tx = &mut self.tx;
        let (survivor, absorbed) = (&merge.survivor_id, &merge.absorbed_id);
        sqlx::query("UPDATE identities SET customer_id = $1 WHERE match_key = ANY($2) AND customer_id = $3")
            .bind(absorbed)
            .bind(restore)
            .bind(survivor)
            .execute(&mut **tx)
            .await?;
        let interactions = sqlx::query(
            "UPDATE interactions SET customer_id = $1 WHERE customer_id = $2 AND id IN \
             (SELECT row_ref::BIGINT FROM merge_moves WHERE merge_id = $3 AND kind = 'interaction')",
        )
        .bind(absorbed)
        .bind(survivor)
        .bind(merge.id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let handoffs = sqlx::query(
            "UPDATE handoffs SET customer_id = $1 WHERE customer_id = $2 AND id IN \
             (SELECT row_ref FROM merge_moves WHERE merge_id = $3 AND kind = 'handoff')",
        )
        .bind(absorbed)
        .bind(survivor)
        .bind(merge.id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE customers SET merged_into = NULL WHERE id = $1").bind(absorbed).execute(&mut **tx).await?;
        sqlx::query("UPDATE merges SET undone_at = $1 WHERE id = $2")
            .bind(now)
            .bind(merge.id)
            .execute(&mut **tx)
            .await?;
        Ok(RowsMoved { interactions, handoffs })
    }

    async fn insert_interaction(&mut self, new: &NewInteraction<'_>) -> StoreResult<Option<i64>> {
        let interaction = new.interaction;
        Ok(sqlx::query_scalar(
            "INSERT INTO interactions (connector_id, dedup_key, customer_id, channel, direction, speaker, at, \
             received_at, kind, text, content, inbox_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (connector_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(new.connector_id)
        .bind(&interaction.dedup_key)
        .bind(new.customer_id)
        .bind(interaction.channel.as_str())
        .bind(json(&interaction.direction).trim_matches('"'))
        .bind(new.speaker)
        .bind(interaction.at)
        .bind(new.received_at)
        .bind(&new.kind)
        .bind(&new.text)
        .bind(json(interaction))
        .bind(new.inbox_id)
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    async fn open_handoff_of(
        &mut self,
        customer_id: &str,
        states: &[HandoffState],
        opened_after: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        if self.deferred.touches.is_empty() {
            return Ok(sqlx::query_scalar(
                "SELECT id FROM handoffs WHERE customer_id = $1 AND state = ANY($2) AND opened_at > $3 \
                 ORDER BY opened_at DESC LIMIT 1",
            )
            .bind(customer_id)
            .bind(self::states(states))
            .bind(opened_after)
            .fetch_optional(&mut *self.tx)
            .await?);
        }
        // Touches not yet sent may have moved a handoff's state: the customer's handoffs in the window with their
        // stored states, each replaced by its last deferred touch's (a customer has a few handoffs a window).
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, state FROM handoffs WHERE customer_id = $1 AND opened_at > $2 ORDER BY opened_at DESC",
        )
        .bind(customer_id)
        .bind(opened_after)
        .fetch_all(&mut *self.tx)
        .await?;
        for (id, stored) in rows {
            let state = match self.deferred.touches.iter().rev().find(|touch| touch.handoff_id == id) {
                Some(touch) => touch.state,
                None => HandoffState::parse(&stored)?,
            };
            if states.contains(&state) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    async fn insert_handoff(&mut self, new: &NewHandoff<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO handoffs (id, customer_id, state, opened_at, last_activity_at, ready_at, ended_by) \
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.customer_id)
        .bind(new.state.as_str())
        .bind(new.opened_at)
        .bind(new.ready_at)
        .bind(new.ended_by)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn touch_handoff(&mut self, handoff_id: &str, touch: &HandoffTouch<'_>) -> StoreResult<()> {
        self.deferred.touches.push(DeferredTouch {
            handoff_id: handoff_id.to_owned(),
            state: touch.state,
            last_activity_at: touch.last_activity_at,
            ready_at: touch.ready_at,
            ended_by: touch.ended_by.map(str::to_owned),
        });
        Ok(())
    }

    async fn adopt_interactions(
        &mut self,
        handoff_id: &str,
        customer_id: &str,
        received_after: DateTime<Utc>,
    ) -> StoreResult<u64> {
        // It reads which interactions have no handoff yet.
        self.flush_handoff_writes().await?;
        Ok(sqlx::query(
            "UPDATE interactions SET handoff_id = $1 WHERE customer_id = $2 AND handoff_id IS NULL \
             AND speaker IS NOT NULL AND received_at > $3",
        )
        .bind(handoff_id)
        .bind(customer_id)
        .bind(received_after)
        .execute(&mut *self.tx)
        .await?
        .rows_affected())
    }

    async fn attach_interaction(&mut self, interaction_id: i64, handoff_id: &str) -> StoreResult<()> {
        self.deferred.attachments.push((interaction_id, handoff_id.to_owned()));
        Ok(())
    }

    async fn mark_processed(&mut self, inbox_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.wake(Wakeup::Handoffs);
        self.processed.push((inbox_id, now));
        Ok(())
    }

    async fn record_brief(
        &mut self,
        handoff_id: &str,
        brief: &str,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        self.flush_handoff_writes().await?;
        Ok(sqlx::query_scalar(
            "UPDATE handoffs SET brief = $1, version = version + 1, state = $2, \
             closed_at = CASE WHEN $3 THEN $4 ELSE closed_at END, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $5 AND ready_at <= $4 AND state = ANY($6) RETURNING version",
        )
        .bind(brief)
        .bind(transition.to.as_str())
        .bind(transition.to == HandoffState::Closed)
        .bind(now)
        .bind(handoff_id)
        .bind(states(transition.from))
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    async fn queue_job(&mut self, handoff_id: &str, job: &NewJob, version: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.deferred.jobs.push(DeferredJob {
            handoff_id: handoff_id.to_owned(),
            crm_id: job.crm_id.clone(),
            payload: job.payload.clone(),
            version,
            queued_at: now,
        });
        self.wake(Wakeup::Outbox);
        Ok(())
    }

    async fn advance_rotation(&mut self, pool: &str, used: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO owner_rotation (pool, next_index) VALUES ($1, $2) \
             ON CONFLICT (pool) DO UPDATE SET next_index = owner_rotation.next_index + excluded.next_index",
        )
        .bind(pool)
        .bind(used as i64)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn assign_owner(&mut self, handoff_id: &str, assignment: &Assignment, now: DateTime<Utc>) -> StoreResult<()> {
        self.deferred.owners.push((handoff_id.to_owned(), assignment.clone(), now));
        Ok(())
    }

    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        self.deferred.audit.push(entry.clone());
        Ok(())
    }

    async fn set_opt_out(
        &mut self,
        customer_id: &str,
        opted_out: bool,
        interaction_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.flush().await?;
        super::watch::set_opt_out(&mut self.tx, customer_id, opted_out, interaction_id, at).await
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.flush().await?;
        super::mark_processed(&mut self.tx, &std::mem::take(&mut self.processed)).await?;
        self.tx.commit().await?;
        self.notifier.wake(&self.wake);
        Ok(())
    }
}
