//! Named leases in SQLite: one instance holds them all, but the stages take them the same way on every backend.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::{LeaseStore, LeaseTake, StoreResult, format_ts, parse_ts};

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<LeaseTake> {
        let _turn = self.turns.urgent();
        let mut tx = self.writer.begin().await?;
        let current: Option<(String, String)> = sqlx::query_as("SELECT holder, until FROM leases WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let current = current.map(|(holder, until)| parse_ts(&until).map(|until| (holder, until))).transpose()?;
        let take = LeaseTake::decide(current, holder, now);
        if take.granted() {
            sqlx::query(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until",
            )
            .bind(name)
            .bind(holder)
            .bind(format_ts(until))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(take)
    }

    async fn release_lease(&self, name: &str, holder: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let _turn = self.turns.urgent();
        sqlx::query("UPDATE leases SET until = ? WHERE name = ? AND holder = ? AND until > ?")
            .bind(format_ts(now))
            .bind(name)
            .bind(holder)
            .bind(format_ts(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
