//! Named leases on PostgreSQL: the lease row is locked while it is decided, so two instances asking at once
//! get one grant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::{LeaseStore, LeaseTake, StoreResult};

#[async_trait]
impl LeaseStore for PostgresStore {
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<LeaseTake> {
        let mut tx = self.pool.begin().await?;
        // A lease never held gets a row that no one holds, so there is always a row to lock.
        sqlx::query("INSERT INTO leases (name, holder, until) VALUES ($1, '', 'epoch') ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let (current, current_until): (String, DateTime<Utc>) =
            sqlx::query_as("SELECT holder, until FROM leases WHERE name = $1 FOR UPDATE")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        let current = (!current.is_empty()).then_some((current, current_until));
        let take = LeaseTake::decide(current, holder, now);
        if take.granted() {
            sqlx::query("UPDATE leases SET holder = $2, until = $3 WHERE name = $1")
                .bind(name)
                .bind(holder)
                .bind(until)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(take)
    }

    async fn release_lease(&self, name: &str, holder: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE leases SET until = $3 WHERE name = $1 AND holder = $2 AND until > $3")
            .bind(name)
            .bind(holder)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
