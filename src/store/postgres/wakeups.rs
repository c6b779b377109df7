//! Wake-ups across instances with LISTEN/NOTIFY: a commit that leaves work for a stage is followed by a
//! notification on that stage's channel, and every instance listens on all of them.
//!
//! The notification is sent after the data's commit, in a transaction of its own that does not wait for its WAL
//! flush. PostgreSQL lets one notifying transaction commit at a time (a cluster-wide lock, taken before the commit
//! record is written and held until the transaction ends): a NOTIFY inside each group commit made the instances'
//! commits, fsyncs included, queue behind each other (during a flood on three instances, a tenth of the sampled
//! busy sessions were commits waiting for that lock; none on one). Outside, the lock is held for a commit that
//! does not flush, and the data's commits share WAL flushes again. The price: a process that dies between the two commits wakes nobody,
//! and the stages' polling finds the rows instead (normalisation within 1 s, as for a lost connection).

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::PostgresStore;
use crate::store::{StoreResult, Wakeup, WakeupStore, Wakeups};

/// The channel of a wake-up: named after the schema, so schemas sharing a database do not wake each other.
fn channel(schema: &str, wakeup: Wakeup) -> String {
    format!("{schema}.handoffd.{}", wakeup.as_str())
}

/// Notify `wakeups` now: call it once the transaction whose rows they announce has committed. A failure is
/// logged, not returned: the rows are committed, and the other instances' polling finds them.
pub(super) async fn notify(pool: &PgPool, schema: &str, wakeups: &[Wakeup]) {
    if wakeups.is_empty() {
        return;
    }
    let channels: Vec<String> = wakeups.iter().map(|w| channel(schema, *w)).collect();
    // `set_config(..., true)` lasts for this statement's own transaction: its commit writes no data worth a flush.
    let sent = sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true), pg_notify(c, '') FROM UNNEST($1::TEXT[]) AS c",
    )
    .bind(&channels)
    .execute(pool)
    .await;
    if let Err(error) = sent {
        tracing::warn!(%error, "Could not wake the other instances; they find the work when they next poll.");
    }
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
