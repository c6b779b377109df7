//! Wake-ups across instances with LISTEN/NOTIFY: a commit that leaves work for a stage notifies a channel
//! (delivered at commit, once per transaction and channel), and every instance listens on all of them.

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{Postgres, Transaction};

use super::PostgresStore;
use crate::store::{StoreResult, Wakeup, WakeupStore, Wakeups};

/// The channel of a wake-up: named after the schema, so schemas sharing a database do not wake each other.
fn channel(schema: &str, wakeup: Wakeup) -> String {
    format!("{schema}.handoffd.{}", wakeup.as_str())
}

/// Notify `wakeup` when the caller's transaction commits.
pub(super) async fn notify(tx: &mut Transaction<'_, Postgres>, schema: &str, wakeup: Wakeup) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(channel(schema, wakeup)).execute(&mut **tx).await?;
    Ok(())
}

#[async_trait]
impl WakeupStore for PostgresStore {
    async fn subscribe(&self) -> StoreResult<Option<Box<dyn Wakeups>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        let channels: Vec<String> = Wakeup::ALL.iter().map(|w| channel(&self.schema, *w)).collect();
        listener.listen_all(channels.iter().map(String::as_str)).await?;
        Ok(Some(Box::new(PgWakeups { listener, schema: self.schema.clone() })))
    }
}

struct PgWakeups {
    listener: PgListener,
    schema: String,
}

#[async_trait]
impl Wakeups for PgWakeups {
    async fn next(&mut self) -> StoreResult<Wakeup> {
        loop {
            let notification = self.listener.recv().await?;
            if let Some(wakeup) = Wakeup::ALL.into_iter().find(|w| channel(&self.schema, *w) == notification.channel())
            {
                return Ok(wakeup);
            }
            // Not ours (cannot happen: we listen on ours only); wait for the next.
            tracing::debug!(channel = notification.channel(), "A notification on an unknown channel.");
        }
    }
}
