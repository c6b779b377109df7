//! Identity in SQLite: the customers' keys, conflicts and merges as the CLI shows them, the CRM identity
//! cache, and the customer timeline. Which customer a key belongs to, and when to merge, is decided in
//! `identity::resolve` (through `PipelineTx`).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::crm::CrmContact;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{SqliteStore, json, push_list};
use crate::store::*;

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn customer_for_key(&self, match_key: &str) -> StoreResult<Option<String>> {
        customer_for_key(&self.reader, match_key).await
    }

    async fn customer_keys(&self, customer_id: &str) -> StoreResult<Vec<(String, String)>> {
        customer_keys(&self.reader, customer_id).await
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
        identity_conflicts(&self.reader, limit).await
    }

    async fn list_merges(&self, limit: u32) -> StoreResult<Vec<StoredMerge>> {
        list_merges(&self.reader, limit).await
    }

    async fn customer_timeline(&self, customer_id: &str) -> StoreResult<CustomerTimeline> {
        customer_timeline(&self.reader, customer_id).await
    }
}

#[async_trait]
impl IdentityCacheStore for SqliteStore {
    async fn crm_sync_state(&self, crm_id: &str) -> StoreResult<Option<CrmSyncState>> {
        crm_sync_state(&self.writer, crm_id).await
    }

    async fn store_sync_page(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        next_cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.bulk().await;
        store_sync_page(&self.writer, crm_id, contacts, next_cursor, now).await
    }

    async fn cache_contacts(
        &self,
        crm_id: &str,
        contacts: &[CachedContact],
        origin: ContactOrigin,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        write_contacts(&mut tx, crm_id, contacts, origin, &format_ts(now)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cached_contact(&self, crm_id: &str, contact_id: &str) -> StoreResult<Option<CachedContact>> {
        cached_contact_by_id(&self.reader, crm_id, contact_id).await
    }

    async fn cached_contacts(&self, crm_id: &str, match_keys: &[String]) -> StoreResult<Vec<CachedContact>> {
        cached_contacts(&self.reader, crm_id, match_keys).await
    }
}

async fn identity_conflicts(pool: &SqlitePool, limit: u32) -> StoreResult<Vec<IdentityConflictRow>> {
    let rows = sqlx::query(
        "SELECT * FROM identity_conflicts WHERE resolved_at IS NULL ORDER BY last_seen_at DESC, id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(IdentityConflictRow {
                id: row.get("id"),
                customers: row.get::<String, _>("customers").split(',').map(str::to_owned).collect(),
                attach_to: row.get("attach_to"),
                evidence: serde_json::from_str(row.get("evidence"))
                    .map_err(|e| StoreError::Corrupt(format!("conflict evidence: {e}")))?,
                reason: row.get("reason"),
                first_seen_at: parse_ts(row.get("first_seen_at"))?,
                last_seen_at: parse_ts(row.get("last_seen_at"))?,
                times_seen: row.get("times_seen"),
            })
        })
        .collect()
}

async fn list_merges(pool: &SqlitePool, limit: u32) -> StoreResult<Vec<StoredMerge>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MERGE_COLUMNS} FROM merges ORDER BY id DESC LIMIT ?")))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored_merge).collect()
}

pub(super) const MERGE_COLUMNS: &str = "id, survivor_id, absorbed_id, evidence, record, merged_at, undone_at";

pub(super) fn stored_merge(row: &sqlx::sqlite::SqliteRow) -> StoreResult<StoredMerge> {
    Ok(StoredMerge {
        id: row.get("id"),
        survivor_id: row.get("survivor_id"),
        absorbed_id: row.get("absorbed_id"),
        evidence: row.get("evidence"),
        record: row.get("record"),
        merged_at: parse_ts(row.get("merged_at"))?,
        undone_at: row.get::<Option<String>, _>("undone_at").as_deref().map(parse_ts).transpose()?,
    })
}

async fn customer_keys(pool: &SqlitePool, customer_id: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query("SELECT match_key, raw FROM identities WHERE customer_id = ? ORDER BY first_seen_at, match_key")
        .bind(customer_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
        .collect())
}

// --- the CRM identity cache ---------------------------------------------------------------

async fn write_contacts(
    tx: &mut Transaction<'_, Sqlite>,
    crm_id: &str,
    contacts: &[CachedContact],
    origin: ContactOrigin,
    now: &str,
) -> Result<(), StoreError> {
    for cached in contacts {
        let contact = &cached.contact;
        // A merge notice from the CRM (no phones, no emails) must not erase what is known of
        // the contact: it only says where the contact went.
        let only_merge_notice = contact.merged_into.is_some() && contact.phones.is_empty() && contact.emails.is_empty();
        if only_merge_notice {
            sqlx::query(
                "INSERT INTO crm_identities (crm_id, contact_id, merged_into, origin, cached_at) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (crm_id, contact_id) DO UPDATE SET merged_into = excluded.merged_into, cached_at = excluded.cached_at",
            )
            .bind(crm_id)
            .bind(&contact.id)
            .bind(&contact.merged_into)
            .bind(origin.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            continue;
        }
        sqlx::query(
            "INSERT INTO crm_identities (crm_id, contact_id, name, phones, emails, match_keys, owner_id, updated_at, \
             merged_into, origin, cached_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (crm_id, contact_id) DO UPDATE SET name = excluded.name, phones = excluded.phones, \
             emails = excluded.emails, match_keys = excluded.match_keys, owner_id = excluded.owner_id, \
             updated_at = excluded.updated_at, merged_into = excluded.merged_into, cached_at = excluded.cached_at",
        )
        .bind(crm_id)
        .bind(&contact.id)
        .bind(&contact.name)
        .bind(json(&contact.phones))
        .bind(json(&contact.emails))
        .bind(json(&cached.match_keys))
        .bind(&contact.owner_id)
        .bind(contact.updated_at.map(format_ts))
        .bind(&contact.merged_into)
        .bind(origin.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM crm_identity_keys WHERE crm_id = ? AND contact_id = ?")
            .bind(crm_id)
            .bind(&contact.id)
            .execute(&mut **tx)
            .await?;
        for key in &cached.match_keys {
            sqlx::query(
                "INSERT INTO crm_identity_keys (crm_id, match_key, contact_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(crm_id)
            .bind(key)
            .bind(&contact.id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn store_sync_page(
    pool: &SqlitePool,
    crm_id: &str,
    contacts: &[CachedContact],
    next_cursor: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now = format_ts(now);
    let mut tx = pool.begin().await?;
    write_contacts(&mut tx, crm_id, contacts, ContactOrigin::Sync, &now).await?;
    sqlx::query(
        "INSERT INTO crm_sync_cursors (crm_id, cursor, pages, synced_at) VALUES (?, ?, 1, ?) \
         ON CONFLICT (crm_id) DO UPDATE SET cursor = COALESCE(excluded.cursor, cursor), pages = pages + 1, \
         synced_at = excluded.synced_at",
    )
    .bind(crm_id)
    .bind(next_cursor)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn crm_sync_state(pool: &SqlitePool, crm_id: &str) -> StoreResult<Option<CrmSyncState>> {
    let Some(row) = sqlx::query(
        "SELECT cursor, pages, synced_at, (SELECT COUNT(*) FROM crm_identities WHERE crm_id = ?1) AS contacts \
         FROM crm_sync_cursors WHERE crm_id = ?1",
    )
    .bind(crm_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(CrmSyncState {
        cursor: row.get("cursor"),
        pages: row.get("pages"),
        synced_at: parse_ts(row.get("synced_at"))?,
        contacts: row.get("contacts"),
    }))
}

fn cached_contact(row: &sqlx::sqlite::SqliteRow) -> Result<CachedContact, StoreError> {
    let parse = |column: &str| -> Result<Vec<String>, StoreError> {
        serde_json::from_str(row.get(column)).map_err(|e| StoreError::Corrupt(format!("crm_identities.{column}: {e}")))
    };
    Ok(CachedContact {
        contact: CrmContact {
            id: row.get("contact_id"),
            name: row.get("name"),
            phones: parse("phones")?,
            emails: parse("emails")?,
            owner_id: row.get("owner_id"),
            updated_at: row.get::<Option<String>, _>("updated_at").as_deref().map(parse_ts).transpose()?,
            merged_into: row.get("merged_into"),
        },
        match_keys: parse("match_keys")?,
    })
}

async fn cached_contact_by_id(pool: &SqlitePool, crm_id: &str, contact_id: &str) -> StoreResult<Option<CachedContact>> {
    sqlx::query("SELECT * FROM crm_identities WHERE crm_id = ? AND contact_id = ?")
        .bind(crm_id)
        .bind(contact_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(cached_contact)
        .transpose()
}

pub(super) async fn cached_contacts(
    pool: &SqlitePool,
    crm_id: &str,
    match_keys: &[String],
) -> StoreResult<Vec<CachedContact>> {
    if match_keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Sqlite>::new("SELECT c.* FROM crm_identities c WHERE c.crm_id = ");
    query.push_bind(crm_id);
    query.push(" AND c.contact_id IN (SELECT contact_id FROM crm_identity_keys WHERE crm_id = ");
    query.push_bind(crm_id);
    query.push(" AND match_key IN (");
    let mut list = query.separated(", ");
    for key in match_keys {
        list.push_bind(key);
    }
    query.push(")) ORDER BY c.contact_id");
    let mut out: Vec<CachedContact> =
        query.build().fetch_all(pool).await?.iter().map(cached_contact).collect::<Result<_, _>>()?;
    // Follow merges to their survivors, which may hold none of the keys themselves.
    let mut seen: BTreeSet<String> = out.iter().map(|c| c.contact.id.clone()).collect();
    let mut next: Vec<String> = out.iter().filter_map(|c| c.contact.merged_into.clone()).collect();
    while let Some(id) = next.pop() {
        if !seen.insert(id.clone()) || seen.len() > 64 {
            continue;
        }
        if let Some(row) = sqlx::query("SELECT * FROM crm_identities WHERE crm_id = ? AND contact_id = ?")
            .bind(crm_id)
            .bind(&id)
            .fetch_optional(pool)
            .await?
        {
            let survivor = cached_contact(&row)?;
            next.extend(survivor.contact.merged_into.clone());
            out.push(survivor);
        }
    }
    Ok(out)
}

// --- the timeline ---------------------------------------------------------------------------

async fn customer_timeline(pool: &SqlitePool, customer_id: &str) -> StoreResult<CustomerTimeline> {
    let customer = sqlx::query("SELECT id, display_name, merged_into FROM customers WHERE id = ?")
        .bind(customer_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("customer {customer_id}")))?;
    let keys = customer_keys(pool, customer_id).await?;
    let mut events = Vec::new();
    for row in sqlx::query(
        "SELECT at, channel, direction, speaker, kind, text FROM interactions WHERE customer_id = ? ORDER BY at, id",
    )
    .bind(customer_id)
    .fetch_all(pool)
    .await?
    {
        let who = row.get::<Option<String>, _>("speaker").unwrap_or_else(|| row.get("direction"));
        let text = row.get::<Option<String>, _>("text").map(|t| shorten(&t)).unwrap_or_default();
        events.push(TimelineEvent {
            at: parse_ts(row.get("at"))?,
            source: "interaction".to_owned(),
            label: row.get("channel"),
            summary: format!("{who} {}: {text}", row.get::<String, _>("kind")).trim_end_matches([':', ' ']).to_owned(),
        });
    }
    for row in sqlx::query(
        "SELECT id, state, opened_at, ended_by, crm_task_id, closed_at FROM handoffs WHERE customer_id = ? ORDER BY opened_at",
    )
    .bind(customer_id)
    .fetch_all(pool)
    .await?
    {
        let id: String = row.get("id");
        let state: String = row.get("state");
        let mut summary = format!("handoff {id} opened, now {state}");
        if let Some(ended) = row.get::<Option<String>, _>("ended_by") {
            summary.push_str(&format!(", ended by {ended}"));
        }
        if let Some(task) = row.get::<Option<String>, _>("crm_task_id") {
            summary.push_str(&format!(", CRM task {task}"));
        }
        events.push(TimelineEvent { at: parse_ts(row.get("opened_at"))?, source: "handoff".to_owned(), label: state, summary });
    }
    for row in sqlx::query(
        "SELECT at, handoff_id, event, detail FROM audit WHERE customer_id = ? \
         OR handoff_id IN (SELECT id FROM handoffs WHERE customer_id = ?) ORDER BY at, id",
    )
    .bind(customer_id)
    .bind(customer_id)
    .fetch_all(pool)
    .await?
    {
        let handoff = row.get::<Option<String>, _>("handoff_id").map(|h| format!("handoff {h}: ")).unwrap_or_default();
        events.push(TimelineEvent {
            at: parse_ts(row.get("at"))?,
            source: "audit".to_owned(),
            label: row.get("event"),
            summary: format!("{handoff}{}", row.get::<String, _>("detail")),
        });
    }
    // Stable: at equal times interactions come before the handoff and audit lines they caused.
    events.sort_by_key(|e| e.at);
    Ok(CustomerTimeline {
        customer_id: customer.get("id"),
        display_name: customer.get("display_name"),
        merged_into: customer.get("merged_into"),
        keys,
        events,
    })
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    let flat = text.replace('\n', " / ");
    if flat.chars().count() <= MAX { flat } else { format!("{}…", flat.chars().take(MAX).collect::<String>()) }
}

async fn customer_for_key(pool: &SqlitePool, match_key: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT customer_id FROM identities WHERE match_key = ?")
        .bind(match_key)
        .fetch_optional(pool)
        .await?)
}
