//! A round of handoffs' conversations read with a few queries for all of them (see `sqlite/conversations.rs`).

use std::collections::{BTreeSet, HashMap};

use handoffd_contract::crm::CrmContact;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::{INTERACTION_COLUMNS, identity, stored_interaction};
use crate::store::{CustomerRecord, HandoffConversation, HandoffRow, StoreResult, StoredInteraction};

/// The customer's interactions before a handoff kept for its channel history, most recent first.
const EARLIER_LIMIT: i64 = 50;

pub(super) async fn read(pool: &PgPool, handoffs: &[HandoffRow]) -> StoreResult<Vec<HandoffConversation>> {
    if handoffs.is_empty() {
        return Ok(Vec::new());
    }
    let customer_ids: Vec<&str> =
        handoffs.iter().map(|h| h.customer_id.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
    let handoff_ids: Vec<&str> = handoffs.iter().map(|h| h.id.as_str()).collect();

    let names: HashMap<String, Option<String>> =
        sqlx::query("SELECT id, display_name FROM customers WHERE id = ANY($1)")
            .bind(&customer_ids)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| (row.get("id"), row.get("display_name")))
            .collect();

    let mut keys: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in sqlx::query(
        "SELECT customer_id, match_key, raw FROM identities WHERE customer_id = ANY($1) ORDER BY first_seen_at, match_key",
    )
    .bind(&customer_ids)
    .fetch_all(pool)
    .await?
    {
        keys.entry(row.get("customer_id")).or_default().push((row.get("match_key"), row.get("raw")));
    }

    let interactions = grouped(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT handoff_id AS for_handoff, {INTERACTION_COLUMNS} FROM interactions WHERE handoff_id = ANY($1) \
             ORDER BY at, id"
        )))
        .bind(&handoff_ids)
        .fetch_all(pool)
        .await?,
    )?;

    // Per handoff: the customer's earlier interactions with a speaker, outside this handoff, before it opened.
    let qualified: Vec<String> = INTERACTION_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect();
    let handoff_customers: Vec<&str> = handoffs.iter().map(|h| h.customer_id.as_str()).collect();
    let opened: Vec<chrono::DateTime<chrono::Utc>> = handoffs.iter().map(|h| h.opened_at).collect();
    let earlier = grouped(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT for_handoff, {INTERACTION_COLUMNS} FROM (SELECT h.handoff_id AS for_handoff, {}, \
             ROW_NUMBER() OVER (PARTITION BY h.handoff_id ORDER BY i.at DESC, i.id DESC) AS n \
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TIMESTAMPTZ[]) AS h (handoff_id, customer_id, opened_at) \
             JOIN interactions i ON i.customer_id = h.customer_id \
             AND (i.handoff_id IS NULL OR i.handoff_id <> h.handoff_id) AND i.speaker IS NOT NULL \
             AND i.at < h.opened_at) AS e WHERE n <= {EARLIER_LIMIT} ORDER BY for_handoff, n",
            qualified.join(", ")
        )))
        .bind(&handoff_ids)
        .bind(&handoff_customers)
        .bind(&opened)
        .fetch_all(pool)
        .await?,
    )?;

    let facts = identity_facts(pool, &customer_ids, &keys).await?;
    let mut interactions = interactions;
    let mut earlier = earlier;
    Ok(handoffs
        .iter()
        .map(|handoff| {
            let facts = facts.get(&handoff.customer_id).cloned().unwrap_or_default();
            HandoffConversation {
                customer: CustomerRecord {
                    id: handoff.customer_id.clone(),
                    display_name: names.get(&handoff.customer_id).cloned().flatten(),
                    keys: keys.get(&handoff.customer_id).cloned().unwrap_or_default(),
                    open_conflicts: facts.open_conflicts,
                    cached_contacts: facts.cached_contacts,
                },
                interactions: interactions.remove(&handoff.id).unwrap_or_default(),
                earlier: earlier.remove(&handoff.id).unwrap_or_default(),
                handoff: handoff.clone(),
            }
        })
        .collect())
}

/// Interactions by the handoff they were read for, in the order read.
fn grouped(rows: Vec<PgRow>) -> StoreResult<HashMap<String, Vec<StoredInteraction>>> {
    let mut grouped: HashMap<String, Vec<StoredInteraction>> = HashMap::new();
    for row in &rows {
        grouped.entry(row.get("for_handoff")).or_default().push(stored_interaction(row)?);
    }
    Ok(grouped)
}

/// The unresolved identity conflicts naming each customer, and the cached contacts of each CRM account that
/// claim it (see `identity::customer_notes`).
async fn identity_facts(
    pool: &PgPool,
    customer_ids: &[&str],
    keys: &HashMap<String, Vec<(String, String)>>,
) -> StoreResult<HashMap<String, IdentityFacts>> {
    let conflicts: Vec<(String, String)> = sqlx::query_as(
        "SELECT ',' || customers || ',', reason FROM identity_conflicts WHERE resolved_at IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let all_keys: Vec<&str> = keys.values().flatten().map(|(k, _)| k.as_str()).collect();
    let mut accounts_of_key: HashMap<String, BTreeSet<String>> = HashMap::new();
    if !all_keys.is_empty() {
        for row in sqlx::query("SELECT DISTINCT match_key, crm_id FROM crm_identity_keys WHERE match_key = ANY($1)")
            .bind(&all_keys)
            .fetch_all(pool)
            .await?
        {
            accounts_of_key.entry(row.get("match_key")).or_default().insert(row.get("crm_id"));
        }
    }

    let mut facts = HashMap::new();
    for customer_id in customer_ids {
        let keys = keys.get(*customer_id).map(Vec::as_slice).unwrap_or_default();
        let listed = format!(",{customer_id},");
        let open_conflicts = conflicts
            .iter()
            .filter(|(customers, _)| customers.contains(&listed))
            .map(|(_, reason)| reason.clone())
            .collect();
        let match_keys: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        let accounts: BTreeSet<&String> = match_keys.iter().filter_map(|k| accounts_of_key.get(k)).flatten().collect();
        let mut cached_contacts = Vec::new();
        for crm_id in accounts {
            let cached = identity::cached_contacts(pool, crm_id, &match_keys).await?;
            cached_contacts.push((crm_id.clone(), cached.into_iter().map(|c| c.contact).collect()));
        }
        facts.insert(customer_id.to_string(), IdentityFacts { open_conflicts, cached_contacts });
    }
    Ok(facts)
}

#[derive(Clone, Default)]
struct IdentityFacts {
    open_conflicts: Vec<String>,
    cached_contacts: Vec<(String, Vec<CrmContact>)>,
}
