//! Connectors an admin paused.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use crate::store::{StoreError, format_ts};

pub(super) async fn set(
    writer: &SqlitePool,
    connector_id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = if paused {
        sqlx::query("INSERT OR IGNORE INTO connector_pauses (connector_id, paused_at) VALUES (?, ?)")
            .bind(connector_id)
            .bind(format_ts(now))
            .execute(writer)
            .await?
    } else {
        sqlx::query("DELETE FROM connector_pauses WHERE connector_id = ?").bind(connector_id).execute(writer).await?
    };
    Ok(changed.rows_affected() > 0)
}

pub(super) async fn all(reader: &SqlitePool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT connector_id FROM connector_pauses ORDER BY connector_id").fetch_all(reader).await?)
}
