//! Group commit: concurrent webhook requests hand their raw bodies to one writer task, which
//! commits whatever has queued up in one transaction and then answers every request. One
//! fsync serves many webhooks, so acknowledging only committed events stays fast.

use std::sync::Arc;

use async_trait::async_trait;
use handoffd_contract::inbox::{Committed, InboxError, InboxSink, InboxSource};
use handoffd_contract::webhook::Verified;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::store::{NewInboxEvent, Store};

/// Most events committed in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<i64, String>>;

/// Where request handlers send raw events; cheap to clone.
#[derive(Clone)]
pub struct InboxWriterHandle {
    queue: mpsc::Sender<(NewInboxEvent, Reply)>,
}

impl InboxWriterHandle {
    /// Commit one raw event; returns its inbox id once it is durable.
    pub async fn commit(&self, event: NewInboxEvent) -> Result<i64, String> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((event, reply)).await.map_err(|_| "the inbox writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the inbox writer has stopped".to_owned())?
    }
}

/// Connectors' routes commit through the same group commit as webhooks.
#[async_trait]
impl InboxSink for InboxWriterHandle {
    async fn accept(&self, connector_id: &str, source: InboxSource, event: Verified) -> Result<Committed, InboxError> {
        let new = NewInboxEvent { connector_id: connector_id.to_owned(), source, event };
        self.commit(new).await.map(|inbox_id| Committed { inbox_id }).map_err(InboxError)
    }
}

pub struct InboxWriter {
    store: Arc<dyn Store>,
    queue: mpsc::Receiver<(NewInboxEvent, Reply)>,
    /// Woken after each commit, so normalisation starts at once.
    committed: Arc<Notify>,
}

impl InboxWriter {
    pub fn new(store: Arc<dyn Store>, committed: Arc<Notify>) -> (Self, InboxWriterHandle) {
        let (sender, queue) = mpsc::channel(MAX_BATCH * 4);
        (Self { store, queue, committed }, InboxWriterHandle { queue: sender })
    }

    /// Runs until every handle is dropped and the queue is drained, so no accepted request is left without an
    /// answer at shutdown. Up to the store's `inbox_commits_at_once` groups are committed at once: the next group
    /// is taken as soon as a commit is free, each group whatever has queued by then.
    pub async fn run(mut self) {
        let at_once = self.store.inbox_commits_at_once().clamp(1, COMMIT_ROUNDS.len());
        // The commits' slots, each timed by the watchdog under a name of its own.
        let (release, mut slots) = mpsc::channel(at_once);
        for slot in 0..at_once {
            release.try_send(slot).expect("room for every slot");
        }
        loop {
            let slot = slots.recv().await.expect("the writer keeps a sender");
            let mut batch = Vec::with_capacity(MAX_BATCH);
            if self.queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                break;
            }
            let (store, committed) = (self.store.clone(), self.committed.clone());
            // Given back when the commit ends, however it ends.
            let slot = Slot { index: slot, release: release.clone() };
            let commit = async move {
                commit_group(store.as_ref(), batch, &committed, COMMIT_ROUNDS[slot.index]).await;
                drop(slot);
            };
            if at_once == 1 {
                commit.await;
            } else {
                tokio::spawn(crate::daemon::supervisor::with_round_timing(commit));
            }
        }
        // The groups still in flight answered before the writer ends: every other slot back.
        for _ in 1..at_once {
            let _ = slots.recv().await;
        }
    }
}

/// A commit's place among those in flight, given back when dropped.
struct Slot {
    index: usize,
    release: mpsc::Sender<usize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The channel holds a place for every slot: a slot given back always fits.
        let _ = self.release.try_send(self.index);
    }
}

/// The watchdog's name for each commit in flight at once.
const COMMIT_ROUNDS: [&str; 2] = ["inbox_writer", "inbox_writer_2"];

/// Commits one group and answers each of its requests.
async fn commit_group(store: &dyn Store, batch: Vec<(NewInboxEvent, Reply)>, committed: &Notify, round: &'static str) {
    let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    // A commit that hangs leaves every webhook unanswered: the watchdog must see it.
    let committing = crate::daemon::supervisor::time_round(round);
    let result = store.insert_inbox(&events).await;
    drop(committing);
    match result {
        Ok(ids) => {
            metrics::counter!("handoffd_inbox_committed_total").increment(ids.len() as u64);
            for (reply, id) in replies.into_iter().zip(ids) {
                let _ = reply.send(Ok(id));
            }
            committed.notify_one();
        }
        Err(error) => {
            tracing::error!(%error, count = events.len(), "Could not commit webhook events to the inbox.");
            for reply in replies {
                let _ = reply.send(Err(error.to_string()));
            }
        }
    }
}
