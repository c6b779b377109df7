//! Whose turn it is at the pipeline file's one writer.
//!
//! Delivery's writes (a lease, contacts learned, jobs in flight, jobs delivered) sit between CRM calls, so each
//! one that waits behind a round of normalised rows or briefs leaves the CRM budget idle. Those bulk writers
//! therefore take turns among themselves and let every waiting delivery write go first; a delivery write then
//! waits for one bulk transaction at most. Bulk work is deferred for [`MAX_DEFER`] at most, so a busy delivery
//! never starves it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, Notify};

/// The longest a bulk writer lets delivery writes go first.
const MAX_DEFER: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(super) struct WriterTurns {
    /// Delivery writes waiting for the writer or holding it.
    urgent: AtomicUsize,
    urgent_done: Notify,
    /// One bulk writer at a time waits for the connection, so delivery never queues behind two.
    bulk: Mutex<()>,
}

/// Held for a delivery write, from before the writer is asked for until the write is over.
pub(super) struct UrgentTurn<'a>(&'a WriterTurns);

impl Drop for UrgentTurn<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.urgent_done.notify_waiters();
        }
    }
}

impl WriterTurns {
    pub(super) fn urgent(&self) -> UrgentTurn<'_> {
        self.urgent.fetch_add(1, Ordering::SeqCst);
        UrgentTurn(self)
    }

    /// A bulk writer's turn: held for the whole transaction.
    pub(super) async fn bulk(&self) -> MutexGuard<'_, ()> {
        let turn = self.bulk.lock().await;
        let deadline = tokio::time::Instant::now() + MAX_DEFER;
        loop {
            // Registered before the count is read, so a turn ending in between is not missed.
            let done = self.urgent_done.notified();
            if self.urgent.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                break;
            }
        }
        turn
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bulk_writer_waits_for_delivery_writes_to_end() {
        let turns = Arc::new(WriterTurns::default());
        let urgent = turns.urgent();
        let waiting = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _turn = turns.bulk().await;
                tokio::time::Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the bulk writer went while a delivery write was waiting");
        let released = tokio::time::Instant::now();
        drop(urgent);
        let went = waiting.await.unwrap();
        assert_eq!(went, released);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bulk_writer_is_deferred_one_second_at_most() {
        let turns = WriterTurns::default();
        let _urgent = turns.urgent();
        let start = tokio::time::Instant::now();
        let _turn = turns.bulk().await;
        assert_eq!(start.elapsed(), MAX_DEFER);
    }

    #[tokio::test(start_paused = true)]
    async fn without_delivery_writes_a_bulk_writer_goes_at_once() {
        let turns = WriterTurns::default();
        drop(turns.urgent());
        let start = tokio::time::Instant::now();
        let _turn = turns.bulk().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
