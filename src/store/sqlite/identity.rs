//! Identity in SQLite: customer resolution with `identity::decide`, undoable merges, conflicts,
//! the CRM identity cache, and the customer timeline.
//!
//! `identity::CustomerId` numbers are `customers.rowid`: records and sentences name customers
//! by them, while every table keeps the customer's text id.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use handoffd_contract::crm::CrmContact;
use handoffd_contract::interaction::Content;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{json, new_id};
use crate::identity::keys::NormalizedKey;
use crate::identity::{CustomerId, Decision, KnownCustomer, MergeRecord, decide, split};
use crate::store::*;

/// Every (match key, raw key) of one interaction: its own keys and, for a system event that
/// announces new keys (a changed number), those too, so they join the same customer.
pub(super) fn interaction_keys(item: &NormalizedInteraction) -> Vec<(String, String)> {
    let mut keys = item.keys.clone();
    if let Content::System(event) = &item.interaction.content {
        for key in &event.new_keys {
            // WhatsApp ids carry their country code: no default region is needed.
            let normalized = crate::identity::normalize(key, None);
            let raw = normalized.raw.clone().unwrap_or_else(|| normalized.canonical.clone());
            for match_key in std::iter::once(normalized.canonical.clone()).chain(normalized.match_keys) {
                if !keys.iter().any(|(k, _)| *k == match_key) {
                    keys.push((match_key, raw.clone()));
                }
            }
        }
    }
    keys
}

struct Found {
    text_ids: HashMap<i64, String>,
    by_key: HashMap<String, CustomerId>,
}

async fn find_customers(tx: &mut Transaction<'_, Sqlite>, keys: &[(String, String)]) -> Result<Found, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT i.match_key, c.rowid, c.id FROM identities i JOIN customers c ON c.id = i.customer_id WHERE i.match_key IN (",
    );
    let mut list = query.separated(", ");
    for (match_key, _) in keys {
        list.push_bind(match_key);
    }
    query.push(")");
    let mut found = Found { text_ids: HashMap::new(), by_key: HashMap::new() };
    for row in query.build().fetch_all(&mut **tx).await? {
        let rowid: i64 = row.get(1);
        found.by_key.insert(row.get(0), CustomerId(rowid));
        found.text_ids.insert(rowid, row.get(2));
    }
    Ok(found)
}

async fn known_customer(
    tx: &mut Transaction<'_, Sqlite>,
    rowid: i64,
    text_id: &str,
) -> Result<KnownCustomer, StoreError> {
    let created: String =
        sqlx::query_scalar("SELECT created_at FROM customers WHERE id = ?").bind(text_id).fetch_one(&mut **tx).await?;
    // One CRM contact stands for the customer; with several CRM accounts, the first account's.
    let crm_contact_id: Option<String> = sqlx::query_scalar(
        "SELECT crm_id || ':' || contact_id FROM crm_contacts WHERE customer_id = ? ORDER BY crm_id LIMIT 1",
    )
    .bind(text_id)
    .fetch_optional(&mut **tx)
    .await?;
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT match_key FROM identities WHERE customer_id = ? ORDER BY match_key")
            .bind(text_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(KnownCustomer { id: CustomerId(rowid), created_at: parse_ts(&created).ok(), crm_contact_id, keys })
}

/// Find the customer of one interaction's keys, creating, merging or recording a conflict as
/// `identity::decide` says. Returns the customer's text id.
pub(super) async fn resolve_customer(
    tx: &mut Transaction<'_, Sqlite>,
    item: &NormalizedInteraction,
    connector_id: &str,
    now: &str,
    summary: &mut ApplySummary,
) -> Result<String, StoreError> {
    let keys = interaction_keys(item);
    let found = find_customers(tx, &keys).await?;
    // The keys are match keys already: each stands for itself.
    let normalized: Vec<NormalizedKey> = keys
        .iter()
        .map(|(match_key, raw)| NormalizedKey {
            canonical: match_key.clone(),
            match_keys: vec![match_key.clone()],
            raw: Some(raw.clone()),
            problem: None,
        })
        .collect();
    let mut known = Vec::new();
    if found.text_ids.len() > 1 {
        for (rowid, text_id) in &found.text_ids {
            known.push(known_customer(tx, *rowid, text_id).await?);
        }
    }
    let text_of = |id: CustomerId| found.text_ids.get(&id.0).cloned();
    let customer_id = match decide(&normalized, |k| found.by_key.get(k).copied(), &known) {
        Decision::New { .. } => {
            let id = new_id();
            sqlx::query("INSERT INTO customers (id, display_name, created_at) VALUES (?, ?, ?)")
                .bind(&id)
                .bind(&item.interaction.display_name)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            summary.customers_created += 1;
            id
        }
        Decision::Existing { customer, .. } => text_of(customer).ok_or_else(|| lost(customer))?,
        Decision::Merge { survivor, merges, .. } => {
            let survivor_id = text_of(survivor).ok_or_else(|| lost(survivor))?;
            for record in &merges {
                let absorbed_id = text_of(record.absorbed).ok_or_else(|| lost(record.absorbed))?;
                merge_customers(tx, &survivor_id, &absorbed_id, record, now).await?;
            }
            survivor_id
        }
        Decision::Conflict(conflict) => {
            let attach_to = text_of(conflict.attach_to).ok_or_else(|| lost(conflict.attach_to))?;
            let mut customers: Vec<String> = conflict.customers.iter().filter_map(|c| text_of(*c)).collect();
            customers.sort();
            let evidence: Vec<(String, String)> =
                conflict.evidence.iter().filter_map(|(k, c)| Some((k.clone(), text_of(*c)?))).collect();
            sqlx::query(
                "INSERT INTO identity_conflicts (customers, attach_to, evidence, reason, first_seen_at, last_seen_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customers) DO UPDATE SET attach_to = excluded.attach_to, \
                 evidence = excluded.evidence, reason = excluded.reason, last_seen_at = excluded.last_seen_at, \
                 times_seen = times_seen + 1",
            )
            .bind(customers.join(","))
            .bind(&attach_to)
            .bind(json(&evidence))
            .bind(&conflict.reason)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            // On every customer's timeline: each of them may be the one an owner looks up.
            for customer in &customers {
                super::insert_audit(
                    tx,
                    &AuditEntry {
                        at: parse_ts(now)?,
                        handoff_id: None,
                        customer_id: Some(customer.clone()),
                        event: "identity_conflict".to_owned(),
                        detail: serde_json::json!({"customers": customers, "attached_to": attach_to,
                            "evidence": evidence, "reason": conflict.reason}),
                    },
                )
                .await?;
            }
            tracing::warn!(customer = %attach_to, reason = %conflict.reason, "Keys of different customers met; not merged.");
            attach_to
        }
    };

    // Keys already bound stay where they are (a conflict never moves a key).
    for (match_key, raw) in &keys {
        sqlx::query(
            "INSERT INTO identities (match_key, customer_id, raw, connector_id, first_seen_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (match_key) DO NOTHING",
        )
        .bind(match_key)
        .bind(&customer_id)
        .bind(raw)
        .bind(connector_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(name) = &item.interaction.display_name {
        sqlx::query("UPDATE customers SET display_name = ? WHERE id = ? AND display_name IS NULL")
            .bind(name)
            .bind(&customer_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(customer_id)
}

fn lost(id: CustomerId) -> StoreError {
    StoreError::Corrupt(format!("customer {id} was matched but not read"))
}

/// Move everything of `absorbed` to `survivor`, remembering which rows moved so a split can
/// move exactly those back.
async fn merge_customers(
    tx: &mut Transaction<'_, Sqlite>,
    survivor: &str,
    absorbed: &str,
    record: &MergeRecord,
    now: &str,
) -> Result<(), StoreError> {
    let merge_id: i64 = sqlx::query_scalar(
        "INSERT INTO merges (survivor_id, absorbed_id, evidence, merged_at, record) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(survivor)
    .bind(absorbed)
    .bind(json(&record.absorbed_evidence.iter().chain(&record.survivor_evidence).collect::<Vec<_>>()))
    .bind(now)
    .bind(json(record))
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO merge_moves (merge_id, kind, row_ref) SELECT ?, 'interaction', id FROM interactions WHERE customer_id = ?",
    )
    .bind(merge_id)
    .bind(absorbed)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO merge_moves (merge_id, kind, row_ref) SELECT ?, 'handoff', id FROM handoffs WHERE customer_id = ?",
    )
    .bind(merge_id)
    .bind(absorbed)
    .execute(&mut **tx)
    .await?;
    for table in ["identities", "interactions", "handoffs"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET customer_id = ? WHERE customer_id = ?")))
            .bind(survivor)
            .bind(absorbed)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE customers SET merged_into = ? WHERE id = ?")
        .bind(survivor)
        .bind(absorbed)
        .execute(&mut **tx)
        .await?;
    super::insert_audit(
        tx,
        &AuditEntry {
            at: parse_ts(now)?,
            handoff_id: None,
            customer_id: Some(survivor.to_owned()),
            event: "customers_merged".to_owned(),
            detail: serde_json::json!({"merge_id": merge_id, "absorbed": absorbed, "explanation": record.explain()}),
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn split_merge(pool: &SqlitePool, merge_id: i64, now: DateTime<Utc>) -> StoreResult<SplitOutcome> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query("SELECT survivor_id, absorbed_id, record, undone_at FROM merges WHERE id = ?")
        .bind(merge_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("merge {merge_id}")))?;
    let survivor_id: String = row.get("survivor_id");
    let absorbed_id: String = row.get("absorbed_id");
    if row.get::<Option<String>, _>("undone_at").is_some() {
        return Err(StoreError::NotFound(format!("merge {merge_id} (it was already split)")));
    }
    let record: MergeRecord = match row.get::<Option<String>, _>("record") {
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("merge {merge_id}: {e}")))?,
        None => return Err(StoreError::NotFound(format!("merge {merge_id} (recorded without the keys it moved)"))),
    };
    let mut owners: HashMap<String, String> = HashMap::new();
    for key in &record.moved_keys {
        if let Some(owner) = sqlx::query_scalar::<_, String>("SELECT customer_id FROM identities WHERE match_key = ?")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
        {
            owners.insert(key.clone(), owner);
        }
    }
    let plan = split(&record, |key| {
        owners.get(key).map(|owner| if *owner == survivor_id { record.survivor } else { CustomerId(i64::MIN) })
    });
    for key in &plan.restore {
        sqlx::query("UPDATE identities SET customer_id = ? WHERE match_key = ? AND customer_id = ?")
            .bind(&absorbed_id)
            .bind(key)
            .bind(&survivor_id)
            .execute(&mut *tx)
            .await?;
    }
    let interactions = sqlx::query(
        "UPDATE interactions SET customer_id = ? WHERE customer_id = ? AND id IN \
         (SELECT CAST(row_ref AS INTEGER) FROM merge_moves WHERE merge_id = ? AND kind = 'interaction')",
    )
    .bind(&absorbed_id)
    .bind(&survivor_id)
    .bind(merge_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let handoffs = sqlx::query(
        "UPDATE handoffs SET customer_id = ? WHERE customer_id = ? AND id IN \
         (SELECT row_ref FROM merge_moves WHERE merge_id = ? AND kind = 'handoff')",
    )
    .bind(&absorbed_id)
    .bind(&survivor_id)
    .bind(merge_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let now_s = format_ts(now);
    sqlx::query("UPDATE customers SET merged_into = NULL WHERE id = ?").bind(&absorbed_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE merges SET undone_at = ? WHERE id = ?").bind(&now_s).bind(merge_id).execute(&mut *tx).await?;
    let outcome = SplitOutcome {
        merge_id,
        customer_id: absorbed_id,
        survivor_id,
        restored_keys: plan.restore,
        skipped_keys: plan.skipped,
        interactions_moved: interactions,
        handoffs_moved: handoffs,
    };
    for customer in [&outcome.survivor_id, &outcome.customer_id] {
        super::insert_audit(
            &mut tx,
            &AuditEntry {
                at: now,
                handoff_id: None,
                customer_id: Some(customer.clone()),
                event: "merge_split".to_owned(),
                detail: serde_json::to_value(&outcome).unwrap_or_default(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn identity_conflicts(pool: &SqlitePool, limit: u32) -> StoreResult<Vec<IdentityConflictRow>> {
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

pub(super) async fn list_merges(pool: &SqlitePool, limit: u32) -> StoreResult<Vec<MergeRow>> {
    let rows = sqlx::query(
        "SELECT id, survivor_id, absorbed_id, evidence, record, merged_at, undone_at FROM merges ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let explanation = match row.get::<Option<String>, _>("record") {
                Some(text) => serde_json::from_str::<MergeRecord>(&text)
                    .map(|r| r.explain())
                    .map_err(|e| StoreError::Corrupt(format!("merge record: {e}")))?,
                None => format!("keys seen together: {}", row.get::<String, _>("evidence")),
            };
            Ok(MergeRow {
                id: row.get("id"),
                survivor_id: row.get("survivor_id"),
                absorbed_id: row.get("absorbed_id"),
                explanation,
                merged_at: parse_ts(row.get("merged_at"))?,
                undone_at: row.get::<Option<String>, _>("undone_at").as_deref().map(parse_ts).transpose()?,
            })
        })
        .collect()
}

pub(super) async fn customer_keys(pool: &SqlitePool, customer_id: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query("SELECT match_key, raw FROM identities WHERE customer_id = ? ORDER BY first_seen_at, match_key")
        .bind(customer_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
        .collect())
}

// --- the CRM identity cache ---------------------------------------------------------------

pub(super) async fn write_contacts(
    tx: &mut Transaction<'_, Sqlite>,
    crm_id: &str,
    contacts: &[CachedContact],
    origin: &str,
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
            .bind(origin)
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
        .bind(origin)
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

pub(super) async fn store_sync_page(
    pool: &SqlitePool,
    crm_id: &str,
    contacts: &[CachedContact],
    next_cursor: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now = format_ts(now);
    let mut tx = pool.begin().await?;
    write_contacts(&mut tx, crm_id, contacts, "sync", &now).await?;
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

pub(super) async fn crm_sync_state(pool: &SqlitePool, crm_id: &str) -> StoreResult<Option<CrmSyncState>> {
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

pub(super) async fn cached_contact_by_id(
    pool: &SqlitePool,
    crm_id: &str,
    contact_id: &str,
) -> StoreResult<Option<CachedContact>> {
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

pub(super) async fn customer_timeline(pool: &SqlitePool, customer_id: &str) -> StoreResult<CustomerTimeline> {
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

pub(super) async fn customer_for_key(pool: &SqlitePool, match_key: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT customer_id FROM identities WHERE match_key = ?")
        .bind(match_key)
        .fetch_optional(pool)
        .await?)
}
