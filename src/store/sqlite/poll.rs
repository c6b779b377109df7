//! The pollers' cursors and their leases.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

use crate::store::{PollCursor, StoreError, format_ts, parse_ts};

pub(super) async fn claim(
    writer: &SqlitePool,
    connector_id: &str,
    holder: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<PollCursor>, StoreError> {
    let mut tx = writer.begin().await?;
    sqlx::query("INSERT OR IGNORE INTO poll_cursors (connector_id) VALUES (?)")
        .bind(connector_id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "UPDATE poll_cursors SET holder = ?, lease_until = ? \
         WHERE connector_id = ? AND (holder IS NULL OR holder = ? OR lease_until IS NULL OR lease_until <= ?) \
         RETURNING connector_id, cursor, holder, lease_until, polled_at",
    )
    .bind(holder)
    .bind(format_ts(lease_until))
    .bind(connector_id)
    .bind(holder)
    .bind(format_ts(now))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.as_ref().map(cursor_row).transpose()
}

pub(super) async fn advance(
    writer: &SqlitePool,
    connector_id: &str,
    holder: &str,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE poll_cursors SET cursor = ?, polled_at = ?, \
         advanced_at = CASE WHEN cursor IS ? THEN advanced_at ELSE ? END \
         WHERE connector_id = ? AND holder = ? AND lease_until > ?",
    )
    .bind(cursor)
    .bind(format_ts(now))
    .bind(cursor)
    .bind(format_ts(now))
    .bind(connector_id)
    .bind(holder)
    .bind(format_ts(now))
    .execute(writer)
    .await?;
    Ok(moved.rows_affected() == 1)
}

pub(super) async fn release(writer: &SqlitePool, connector_id: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE poll_cursors SET holder = NULL, lease_until = NULL WHERE connector_id = ? AND holder = ?")
        .bind(connector_id)
        .bind(holder)
        .execute(writer)
        .await?;
    Ok(())
}

pub(super) async fn all(reader: &SqlitePool) -> Result<Vec<PollCursor>, StoreError> {
    let rows = sqlx::query(
        "SELECT connector_id, cursor, holder, lease_until, polled_at FROM poll_cursors ORDER BY connector_id",
    )
    .fetch_all(reader)
    .await?;
    rows.iter().map(cursor_row).collect()
}

fn cursor_row(row: &SqliteRow) -> Result<PollCursor, StoreError> {
    let time = |name: &str| row.get::<Option<String>, _>(name).as_deref().map(parse_ts).transpose();
    Ok(PollCursor {
        connector_id: row.get("connector_id"),
        cursor: row.get("cursor"),
        holder: row.get("holder"),
        lease_until: time("lease_until")?,
        polled_at: time("polled_at")?,
    })
}
