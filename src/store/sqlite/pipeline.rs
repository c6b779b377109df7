//! The pipeline's tables in SQLite: reads for the conversation stage, and [`SqlitePipelineTx`], the
//! transactional primitives the normalize, identity and conversation rules drive. Only SQL here: which
//! customer, which handoff and which state is decided by the caller.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::MutexGuard;

use super::identity::{MERGE_COLUMNS, stored_merge};
use super::{HANDOFF_COLUMNS, SqliteStore, conversations, handoff_row, json, push_list};
use crate::store::*;
use handoffd_contract::crm::CrmOwner;

/// `collecting` as SQL text: the reads of ready handoffs name it literally, so SQLite can use the partial
/// index `handoffs_ready` (a bound parameter cannot prove the index's condition).
const COLLECTING: &str = HandoffState::Collecting.as_str();

#[async_trait]
impl PipelineStore for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn PipelineTx + '_>> {
        // Normalised rounds and briefs are bulk writes: delivery's writes go first (see `turns`).
        let turn = self.turns.bulk().await;
        let tx = self.writer.begin().await?;
        Ok(Box::new(SqlitePipelineTx { tx, _turn: turn }))
    }

    async fn ready_handoffs(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<HandoffRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE state = '{COLLECTING}' AND ready_at <= ? ORDER BY ready_at LIMIT ?"
        )))
        .bind(format_ts(now))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(handoff_row).collect()
    }

    async fn next_ready_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT MIN(ready_at) FROM handoffs WHERE state = '{COLLECTING}'"
        )))
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

    async fn expire_handoffs(
        &self,
        opened_before: DateTime<Utc>,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let _turn = self.turns.bulk().await;
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE handoffs SET state = ");
        query.push_bind(transition.to.as_str());
        push_closed_at(&mut query, transition, &format_ts(now));
        query.push(" WHERE opened_at < ").push_bind(format_ts(opened_before));
        query.push(" AND state IN (");
        push_list(&mut query, &states(transition.from));
        let done = query.build().execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    async fn rotation_position(&self, pool: &str) -> StoreResult<i64> {
        let next: Option<i64> = sqlx::query_scalar("SELECT next_index FROM owner_rotation WHERE pool = ?")
            .bind(pool)
            .fetch_optional(&self.reader)
            .await?;
        Ok(next.unwrap_or(0))
    }

    async fn claim_rotation(&self, pool: &str, expected: i64, next: i64) -> StoreResult<RotationClaim> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO owner_rotation (pool, next_index) VALUES (?, 0) ON CONFLICT (pool) DO NOTHING")
            .bind(pool)
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query("UPDATE owner_rotation SET next_index = ? WHERE pool = ? AND next_index = ?")
            .bind(next)
            .bind(pool)
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        let claim = if taken {
            RotationClaim::Taken
        } else {
            let current: i64 = sqlx::query_scalar("SELECT next_index FROM owner_rotation WHERE pool = ?")
                .bind(pool)
                .fetch_one(&mut *tx)
                .await?;
            RotationClaim::Moved { current }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn kept_escalations(&self, handoff_ids: &[String]) -> StoreResult<HashMap<String, KeptEscalation>> {
        let mut kept = HashMap::new();
        for chunk in handoff_ids.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT handoff_id, escalated_owner_id, escalated_pool, escalated_priority FROM watched_tasks \
                 WHERE (escalated_owner_id IS NOT NULL OR escalated_priority IS NOT NULL) AND handoff_id IN (",
            );
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            query.push(")");
            for row in query.build().fetch_all(&self.reader).await? {
                let (handoff_id, escalation) = kept_escalation(
                    row.get("handoff_id"),
                    row.get("escalated_owner_id"),
                    row.get("escalated_pool"),
                    row.get("escalated_priority"),
                )?;
                kept.insert(handoff_id, escalation);
            }
        }
        Ok(kept)
    }

    async fn open_handoffs_by_owner(&self) -> StoreResult<HashMap<String, u32>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT o.owner_id, COUNT(*) FROM handoff_owners o JOIN handoffs h ON h.id = o.handoff_id \
             WHERE o.owner_id IS NOT NULL AND h.state IN ('queued', 'open') GROUP BY o.owner_id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(owner, count)| (owner, count as u32)).collect())
    }

    async fn crm_owners(&self, crm_id: &str) -> StoreResult<Vec<CrmOwner>> {
        let rows: Vec<(String, Option<String>, Option<String>, bool)> =
            sqlx::query_as("SELECT owner_id, name, email, active FROM crm_owners WHERE crm_id = ? ORDER BY owner_id")
                .bind(crm_id)
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(id, name, email, active)| CrmOwner { id, name, email, active }).collect())
    }

    async fn replace_crm_owners(&self, crm_id: &str, owners: &[CrmOwner], now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM crm_owners WHERE crm_id = ?").bind(crm_id).execute(&mut *tx).await?;
        for owner in owners {
            sqlx::query(
                "INSERT INTO crm_owners (crm_id, owner_id, email, name, active, synced_at) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (crm_id, owner_id) DO NOTHING",
            )
            .bind(crm_id)
            .bind(&owner.id)
            .bind(owner.email.as_deref().map(str::to_ascii_lowercase))
            .bind(&owner.name)
            .bind(owner.active)
            .bind(format_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn states(states: &[HandoffState]) -> Vec<&'static str> {
    states.iter().map(|s| s.as_str()).collect()
}

/// `, closed_at = ?` when the transition closes the handoff.
fn push_closed_at(query: &mut QueryBuilder<Sqlite>, transition: HandoffTransition, now: &str) {
    if transition.to == HandoffState::Closed {
        query.push(", closed_at = ").push_bind(now.to_owned());
    }
}

/// Apply a transition to one handoff, inside the caller's transaction.
pub(super) async fn transition_handoff(
    tx: &mut Transaction<'_, Sqlite>,
    handoff_id: &str,
    transition: HandoffTransition,
    now: &str,
) -> StoreResult<()> {
    let mut query = QueryBuilder::<Sqlite>::new("UPDATE handoffs SET state = ");
    query.push_bind(transition.to.as_str());
    push_closed_at(&mut query, transition, now);
    query.push(" WHERE id = ").push_bind(handoff_id.to_owned());
    query.push(" AND state IN (");
    push_list(&mut query, &states(transition.from));
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// One write transaction on the pipeline's file, holding the writer's bulk turn until it ends.
pub(super) struct SqlitePipelineTx<'a> {
    tx: Transaction<'static, Sqlite>,
    _turn: MutexGuard<'a, ()>,
}

#[async_trait]
impl PipelineTx for SqlitePipelineTx<'_> {
    async fn customers_by_keys(&mut self, match_keys: &[String]) -> StoreResult<Vec<KeyOwner>> {
        let mut owners = Vec::new();
        for chunk in match_keys.chunks(1000) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT i.match_key, c.rowid, c.id FROM identities i JOIN customers c ON c.id = i.customer_id \
                 WHERE i.match_key IN (",
            );
            push_list(&mut query, chunk);
            for row in query.build().fetch_all(&mut *self.tx).await? {
                owners.push(KeyOwner {
                    match_key: row.get(0),
                    customer: CustomerRef { number: row.get(1), id: row.get(2) },
                });
            }
        }
        Ok(owners)
    }

    async fn customer_facts(&mut self, customer_id: &str) -> StoreResult<CustomerFacts> {
        let created: String = sqlx::query_scalar("SELECT created_at FROM customers WHERE id = ?")
            .bind(customer_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("customer {customer_id}")))?;
        let crm_contact: Option<String> = sqlx::query_scalar(
            "SELECT crm_id || ':' || contact_id FROM crm_contacts WHERE customer_id = ? ORDER BY crm_id LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        let match_keys: Vec<String> =
            sqlx::query_scalar("SELECT match_key FROM identities WHERE customer_id = ? ORDER BY match_key")
                .bind(customer_id)
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(CustomerFacts { created_at: parse_ts(&created).ok(), crm_contact, match_keys })
    }

    async fn insert_customer(&mut self, id: &str, display_name: Option<&str>, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO customers (id, display_name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(display_name)
            .bind(format_ts(now))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn add_keys(
        &mut self,
        customer_id: &str,
        keys: &[(String, String)],
        connector_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = format_ts(now);
        for (match_key, raw) in keys {
            sqlx::query(
                "INSERT INTO identities (match_key, customer_id, raw, connector_id, first_seen_at) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (match_key) DO NOTHING",
            )
            .bind(match_key)
            .bind(customer_id)
            .bind(raw)
            .bind(connector_id)
            .bind(&now)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn name_customer(&mut self, customer_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("UPDATE customers SET display_name = ? WHERE id = ? AND display_name IS NULL")
            .bind(name)
            .bind(customer_id)
            .execute(&mut *self.tx)
            .await?;
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
        let tx = &mut self.tx;
        let merge_id: i64 = sqlx::query_scalar(
            "INSERT INTO merges (survivor_id, absorbed_id, evidence, merged_at, record) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(survivor_id)
        .bind(absorbed_id)
        .bind(json(&evidence))
        .bind(format_ts(now))
        .bind(record)
        .fetch_one(&mut **tx)
        .await?;
        // Which rows move, so that a split can give back exactly these.
        for (kind, table) in [("interaction", "interactions"), ("handoff", "handoffs")] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO merge_moves (merge_id, kind, row_ref) SELECT ?, '{kind}', id FROM {table} WHERE customer_id = ?"
            )))
            .bind(merge_id)
            .bind(absorbed_id)
            .execute(&mut **tx)
            .await?;
        }
        for table in ["identities", "interactions", "handoffs"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET customer_id = ? WHERE customer_id = ?")))
                .bind(survivor_id)
                .bind(absorbed_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("UPDATE customers SET merged_into = ? WHERE id = ?")
            .bind(survivor_id)
            .bind(absorbed_id)
            .execute(&mut **tx)
            .await?;
        Ok(merge_id)
    }

    async fn record_conflict(&mut self, sighting: &ConflictSighting, now: DateTime<Utc>) -> StoreResult<()> {
        let now = format_ts(now);
        sqlx::query(
            "INSERT INTO identity_conflicts (customers, attach_to, evidence, reason, first_seen_at, last_seen_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customers) DO UPDATE SET attach_to = excluded.attach_to, \
             evidence = excluded.evidence, reason = excluded.reason, last_seen_at = excluded.last_seen_at, \
             times_seen = times_seen + 1",
        )
        .bind(sighting.customers.join(","))
        .bind(&sighting.attach_to)
        .bind(json(&sighting.evidence))
        .bind(&sighting.reason)
        .bind(&now)
        .bind(&now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn merge(&mut self, merge_id: i64) -> StoreResult<Option<StoredMerge>> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = ?")))
            .bind(merge_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .as_ref()
            .map(stored_merge)
            .transpose()
    }

    async fn key_owners(&mut self, match_keys: &[String]) -> StoreResult<HashMap<String, String>> {
        let mut owners = HashMap::new();
        for chunk in match_keys.chunks(1000) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT match_key, customer_id FROM identities WHERE match_key IN (");
            push_list(&mut query, chunk);
            for row in query.build().fetch_all(&mut *self.tx).await? {
                owners.insert(row.get(0), row.get(1));
            }
        }
        Ok(owners)
    }

    async fn undo_merge(
        &mut self,
        merge: &StoredMerge,
        restore: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<RowsMoved> {
        let tx = &mut self.tx;
        let (survivor, absorbed) = (&merge.survivor_id, &merge.absorbed_id);
        for key in restore {
            sqlx::query("UPDATE identities SET customer_id = ? WHERE match_key = ? AND customer_id = ?")
                .bind(absorbed)
                .bind(key)
                .bind(survivor)
                .execute(&mut **tx)
                .await?;
        }
        let interactions = sqlx::query(
            "UPDATE interactions SET customer_id = ? WHERE customer_id = ? AND id IN \
             (SELECT CAST(row_ref AS INTEGER) FROM merge_moves WHERE merge_id = ? AND kind = 'interaction')",
        )
        .bind(absorbed)
        .bind(survivor)
        .bind(merge.id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let handoffs = sqlx::query(
            "UPDATE handoffs SET customer_id = ? WHERE customer_id = ? AND id IN \
             (SELECT row_ref FROM merge_moves WHERE merge_id = ? AND kind = 'handoff')",
        )
        .bind(absorbed)
        .bind(survivor)
        .bind(merge.id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE customers SET merged_into = NULL WHERE id = ?").bind(absorbed).execute(&mut **tx).await?;
        sqlx::query("UPDATE merges SET undone_at = ? WHERE id = ?")
            .bind(format_ts(now))
            .bind(merge.id)
            .execute(&mut **tx)
            .await?;
        Ok(RowsMoved { interactions, handoffs })
    }

    async fn insert_interaction(&mut self, new: &NewInteraction<'_>) -> StoreResult<Option<i64>> {
        let interaction = new.interaction;
        Ok(sqlx::query_scalar(
            "INSERT INTO interactions (connector_id, dedup_key, customer_id, channel, direction, speaker, at, \
             received_at, kind, text, content, inbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (connector_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(new.connector_id)
        .bind(&interaction.dedup_key)
        .bind(new.customer_id)
        .bind(interaction.channel.as_str())
        .bind(json(&interaction.direction).trim_matches('"'))
        .bind(new.speaker)
        .bind(format_ts(interaction.at))
        .bind(format_ts(new.received_at))
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
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id FROM handoffs WHERE customer_id = ");
        query.push_bind(customer_id.to_owned()).push(" AND state IN (");
        push_list(&mut query, &self::states(states));
        query.push(" AND opened_at > ").push_bind(format_ts(opened_after));
        query.push(" ORDER BY opened_at DESC LIMIT 1");
        Ok(query.build().fetch_optional(&mut *self.tx).await?.map(|row| row.get(0)))
    }

    async fn insert_handoff(&mut self, new: &NewHandoff<'_>) -> StoreResult<()> {
        let opened_at = format_ts(new.opened_at);
        sqlx::query(
            "INSERT INTO handoffs (id, customer_id, state, opened_at, last_activity_at, ready_at, ended_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id)
        .bind(new.customer_id)
        .bind(new.state.as_str())
        .bind(&opened_at)
        .bind(&opened_at)
        .bind(format_ts(new.ready_at))
        .bind(new.ended_by)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn touch_handoff(&mut self, handoff_id: &str, touch: &HandoffTouch<'_>) -> StoreResult<()> {
        sqlx::query("UPDATE handoffs SET state = ?, last_activity_at = ?, ready_at = ?, ended_by = ? WHERE id = ?")
            .bind(touch.state.as_str())
            .bind(format_ts(touch.last_activity_at))
            .bind(format_ts(touch.ready_at))
            .bind(touch.ended_by)
            .bind(handoff_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn adopt_interactions(
        &mut self,
        handoff_id: &str,
        customer_id: &str,
        received_after: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE interactions SET handoff_id = ? WHERE customer_id = ? AND handoff_id IS NULL \
             AND speaker IS NOT NULL AND received_at > ?",
        )
        .bind(handoff_id)
        .bind(customer_id)
        .bind(format_ts(received_after))
        .execute(&mut *self.tx)
        .await?
        .rows_affected())
    }

    async fn attach_interaction(&mut self, interaction_id: i64, handoff_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE interactions SET handoff_id = ? WHERE id = ?")
            .bind(handoff_id)
            .bind(interaction_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn mark_processed(&mut self, inbox_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        super::mark_processed(&mut self.tx, inbox_id, &format_ts(now)).await
    }

    async fn record_brief(
        &mut self,
        handoff_id: &str,
        brief: &str,
        transition: HandoffTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        let now = format_ts(now);
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE handoffs SET brief = ");
        query.push_bind(brief.to_owned()).push(", version = version + 1, state = ").push_bind(transition.to.as_str());
        push_closed_at(&mut query, transition, &now);
        query.push(" WHERE id = ").push_bind(handoff_id.to_owned());
        query.push(" AND ready_at <= ").push_bind(now.clone());
        query.push(" AND state IN (");
        push_list(&mut query, &states(transition.from));
        query.push(" RETURNING version");
        Ok(query.build().fetch_optional(&mut *self.tx).await?.map(|row| row.get(0)))
    }

    async fn queue_job(&mut self, handoff_id: &str, job: &NewJob, version: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let now = format_ts(now);
        sqlx::query(
            "INSERT INTO outbox (handoff_id, crm_id, payload, version, next_attempt_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (handoff_id) DO UPDATE SET payload = excluded.payload, \
             version = excluded.version, crm_id = excluded.crm_id",
        )
        .bind(handoff_id)
        .bind(&job.crm_id)
        .bind(&job.payload)
        .bind(version)
        .bind(&now)
        .bind(&now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn advance_rotation(&mut self, pool: &str, used: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO owner_rotation (pool, next_index) VALUES (?, ?) \
             ON CONFLICT (pool) DO UPDATE SET next_index = next_index + excluded.next_index",
        )
        .bind(pool)
        .bind(used as i64)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn assign_owner(&mut self, handoff_id: &str, assignment: &Assignment, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO handoff_owners (handoff_id, owner_id, pool, assigned_at, confirm) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (handoff_id) DO UPDATE SET owner_id = excluded.owner_id, pool = excluded.pool, \
             assigned_at = excluded.assigned_at, confirm = excluded.confirm",
        )
        .bind(handoff_id)
        .bind(&assignment.owner_id)
        .bind(&assignment.pool)
        .bind(format_ts(now))
        .bind(assignment.confirm)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        super::insert_audit(&mut self.tx, entry).await
    }

    async fn set_opt_out(
        &mut self,
        customer_id: &str,
        opted_out: bool,
        interaction_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        super::watch::set_opt_out(&mut self.tx, customer_id, opted_out, interaction_id, at).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
