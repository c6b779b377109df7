//! Wake-ups across instances with LISTEN/NOTIFY: a commit that leaves work for a stage notifies a channel
//! (delivered at commit, once per transaction and channel), and every instance listens on all of them.

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Transaction};

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
        let listener = listen(&self.pool, &self.schema).await?;
        Ok(Some(Box::new(PgWakeups {
            pool: self.pool.clone(),
            listener: Some(listener),
            schema: self.schema.clone(),
            missed: Vec::new(),
        })))
    }
}

/// A connection listening on every channel of `schema`.
async fn listen(pool: &PgPool, schema: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    let channels: Vec<String> = Wakeup::ALL.iter().map(|w| channel(schema, *w)).collect();
    listener.listen_all(channels.iter().map(String::as_str)).await?;
    Ok(listener)
}

struct PgWakeups {
    pool: PgPool,
    /// Re-establishes a connection it sees closed and subscribes it again to every channel (sqlx's
    /// `PgListener`); `None` after any other error (a reset connection, say), when a new one is made instead.
    listener: Option<PgListener>,
    schema: String,
    /// Wake-ups owed after the connection was lost (a failover, a terminated session): what was notified while
    /// no connection listened is gone, so every stage looks once instead of waiting for its next poll.
    missed: Vec<Wakeup>,
}

#[async_trait]
impl Wakeups for PgWakeups {
    async fn next(&mut self) -> StoreResult<Wakeup> {
        loop {
            if let Some(wakeup) = self.missed.pop() {
                return Ok(wakeup);
            }
            let listener = match &mut self.listener {
                Some(listener) => listener,
                None => {
                    let listener = listen(&self.pool, &self.schema).await?;
                    tracing::info!("Listening for wake-ups again.");
                    self.missed = Wakeup::ALL.to_vec();
                    self.listener = Some(listener);
                    continue;
                }
            };
            let notification = match listener.try_recv().await {
                Ok(Some(notification)) => notification,
                Ok(None) => {
                    // Lost, and already re-established and subscribed again (eager reconnection).
                    tracing::info!("The connection listening for wake-ups was lost; it listens again.");
                    self.missed = Wakeup::ALL.to_vec();
                    continue;
                }
                Err(error) => {
                    // sqlx keeps a connection that failed otherwise than by closing (a reset, an error from the
                    // server): a new one is made on the next call. The stages poll meanwhile.
                    self.listener = None;
                    return Err(error.into());
                }
            };
            if let Some(wakeup) = Wakeup::ALL.into_iter().find(|w| channel(&self.schema, *w) == notification.channel())
            {
                return Ok(wakeup);
            }
            // Not ours (cannot happen: we listen on ours only); wait for the next.
            tracing::debug!(channel = notification.channel(), "A notification on an unknown channel.");
        }
    }
}
