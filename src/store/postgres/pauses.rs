//! Connectors an admin paused.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::StoreError;

pub(super) async fn set(
    pool: &PgPool,
    connector_id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = if paused {
        sqlx::query(
            "INSERT INTO connector_pauses (connector_id, paused_at) VALUES ($1, $2) ON CONFLICT (connector_id) DO NOTHING",
        )
        .bind(connector_id)
        .bind(now)
        .execute(pool)
        .await?
    } else {
        sqlx::query("DELETE FROM connector_pauses WHERE connector_id = $1").bind(connector_id).execute(pool).await?
    };
    Ok(changed.rows_affected() > 0)
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT connector_id FROM connector_pauses ORDER BY connector_id").fetch_all(pool).await?)
}
