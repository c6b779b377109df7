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
//!
//! The daemon's own commits go through [`Notifier`]: a commit sets its stages' bits and returns at once, and one
//! task per store sends what is set, one statement at a time on a connection of its own, at most one every
//! [`NOTIFY_SPACING`]. Commits made while a NOTIFY is on its way, or in the spacing after it, share the next one:
//! with several instances each committing small groups, one NOTIFY per commit woke every instance's idle stages once
//! per commit, to query and mostly find nothing. A notification
//! carries its sender's name, and an instance does not wake itself with its own: its stages were woken in-process
//! when the commit returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

use super::PostgresStore;
use crate::store::{StoreResult, Wakeup, WakeupStore, Wakeups};

/// The channel of a wake-up: named after the schema, so schemas sharing a database do not wake each other.
fn channel(schema: &str, wakeup: Wakeup) -> String {
    format!("{schema}.handoffd.{}", wakeup.as_str())
}

/// Notify `wakeups` now, every instance this one included: call it once the transaction whose rows they announce
/// has committed (a command that exits next: `handoffd replay`, `dlq replay`). A failure is logged, not returned:
/// the rows are committed, and the other instances' polling finds them.
pub(super) async fn notify(pool: &PgPool, schema: &str, wakeups: &[Wakeup]) {
    if wakeups.is_empty() {
        return;
    }
    let channels: Vec<String> = wakeups.iter().map(|w| channel(schema, *w)).collect();
    // No sender's name: every instance's stages look, this process's own included (a replay through the admin API).
    let sent = sqlx::query(NOTIFY).bind(&channels).bind("").execute(pool).await;
    if let Err(error) = sent {
        tracing::warn!(%error, "Could not wake the other instances; they find the work when they next poll.");
    }
}

/// The least time between two NOTIFYs of one store: wake-ups owed meanwhile go in the next. An instance's own stages
/// are woken in-process, so this delays only another instance's stage, by at most this much, and only in a burst
/// (after a quiet spell the first NOTIFY goes at once). Each NOTIFY is a transaction taking PostgreSQL's
/// cluster-wide notify lock, is delivered to every instance's listening session, this one's included, and wakes
/// the idle stages of every other instance: with three instances flooded, 7,188 NOTIFYs in one run (about one a
/// group commit), against 3,618 with one instance.
pub(super) const NOTIFY_SPACING: std::time::Duration = std::time::Duration::from_millis(10);

/// The notifying statement: `set_config(..., true)` lasts for this statement's own transaction, whose commit
/// writes no data worth a flush.
const NOTIFY: &str =
    "SELECT set_config('synchronous_commit', 'off', true), pg_notify(c, $2) FROM UNNEST($1::TEXT[]) AS c";

/// Wake-ups owed to the other instances, sent by a task of their own and coalesced (see the module's comment).
pub(super) struct Notifier {
    /// One bit per [`Wakeup`] not yet sent.
    pending: Arc<AtomicU8>,
    /// A capacity of one: a signal already waiting covers every bit set before the task reads them.
    signal: mpsc::Sender<()>,
}

impl Notifier {
    /// Starts the sending task; it ends when the notifier is dropped.
    pub(super) fn start(pool: PgPool, schema: String, instance: String) -> Self {
        let pending = Arc::new(AtomicU8::new(0));
        let (signal, signals) = mpsc::channel(1);
        tokio::spawn(send_pending(pool, schema, instance, pending.clone(), signals));
        Self { pending, signal }
    }

    /// Owe `wakeups` to the other instances: call it once the rows they announce are committed.
    pub(super) fn wake(&self, wakeups: &[Wakeup]) {
        let bits = wakeups.iter().fold(0, |bits, wakeup| bits | bit(*wakeup));
        if bits == 0 {
            return;
        }
        self.pending.fetch_or(bits, Ordering::AcqRel);
        // Full: a signal is already waiting, and the task reads the bits after taking it.
        let _ = self.signal.try_send(());
    }
}

fn bit(wakeup: Wakeup) -> u8 {
    1 << Wakeup::ALL.iter().position(|w| *w == wakeup).expect("every wake-up is in ALL")
}

async fn send_pending(
    pool: PgPool,
    schema: String,
    instance: String,
    pending: Arc<AtomicU8>,
    mut signals: mpsc::Receiver<()>,
) {
    let mut connection: Option<PgConnection> = None;
    while signals.recv().await.is_some() {
        let bits = pending.swap(0, Ordering::AcqRel);
        let channels: Vec<String> =
            Wakeup::ALL.iter().filter(|w| bits & bit(**w) != 0).map(|w| channel(&schema, *w)).collect();
        if channels.is_empty() {
            continue;
        }
        // A second try on a new connection: the kept one may have died since its last NOTIFY (a failover, a
        // terminated session), and a notification sent twice wakes nobody wrongly.
        for attempt in 1..=2 {
            match send(&pool, &mut connection, &channels, &instance).await {
                Ok(()) => break,
                Err(error) => {
                    connection = None;
                    if attempt == 2 {
                        tracing::warn!(
                            %error,
                            "Could not wake the other instances; they find the work when they next poll."
                        );
                    }
                }
            }
        }
        tokio::time::sleep(NOTIFY_SPACING).await;
    }
}

/// One NOTIFY on the kept connection, made first if there is none.
async fn send(
    pool: &PgPool,
    connection: &mut Option<PgConnection>,
    channels: &[String],
    instance: &str,
) -> StoreResult<()> {
    if connection.is_none() {
        *connection = Some(super::connect_kept(pool).await?);
    }
    let kept = connection.as_mut().expect("connected above");
    sqlx::query(NOTIFY).bind(channels).bind(instance).execute(&mut *kept).await?;
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
            instance: self.instance.clone(),
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
    /// This store's name in its own notifications, which it skips.
    instance: String,
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
            if notification.payload() == self.instance {
                // Our own commit: the stage it concerns was woken in-process.
                continue;
            }
            if let Some(wakeup) = Wakeup::ALL.into_iter().find(|w| channel(&self.schema, *w) == notification.channel())
            {
                return Ok(wakeup);
            }
            // Not ours (cannot happen: we listen on ours only); wait for the next.
            tracing::debug!(channel = notification.channel(), "A notification on an unknown channel.");
        }
    }
}
