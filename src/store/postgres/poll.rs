//! The pollers' cursors and their leases: one row per poller, claimed with a conditional update,
//! so of several instances exactly one polls each cursor.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::store::{PollCursor, StoreError};

const COLUMNS: &str = "connector_id, cursor, holder, lease_until, polled_at";

pub(super) async fn claim(
    pool: &PgPool,
    connector_id: &str,
    holder: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<PollCursor>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO poll_cursors (connector_id) VALUES ($1) ON CONFLICT (connector_id) DO NOTHING")
        .bind(connector_id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE poll_cursors SET holder = $1, lease_until = $2 \
         WHERE connector_id = $3 AND (holder IS NULL OR holder = $1 OR lease_until IS NULL OR lease_until <= $4) \
         RETURNING {COLUMNS}"
    )))
    .bind(holder)
    .bind(lease_until)
    .bind(connector_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.as_ref().map(cursor_row))
}

pub(super) async fn advance(
    pool: &PgPool,
    connector_id: &str,
    holder: &str,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE poll_cursors SET cursor = $1, polled_at = $2, \
         advanced_at = CASE WHEN cursor IS NOT DISTINCT FROM $1 THEN advanced_at ELSE $2 END \
         WHERE connector_id = $3 AND holder = $4 AND lease_until > $2",
    )
    .bind(cursor)
    .bind(now)
    .bind(connector_id)
    .bind(holder)
    .execute(pool)
    .await?;
    Ok(moved.rows_affected() == 1)
}

pub(super) async fn release(pool: &PgPool, connector_id: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE poll_cursors SET holder = NULL, lease_until = NULL WHERE connector_id = $1 AND holder = $2")
        .bind(connector_id)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<PollCursor>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM poll_cursors ORDER BY connector_id")))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(cursor_row).collect())
}

fn cursor_row(row: &PgRow) -> PollCursor {
    PollCursor {
        connector_id: row.get("connector_id"),
        cursor: row.get("cursor"),
        holder: row.get("holder"),
        lease_until: row.get("lease_until"),
        polled_at: row.get("polled_at"),
    }
}
