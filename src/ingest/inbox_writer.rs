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

    /// Runs until every handle is dropped and the queue is drained, so no accepted request is
    /// left without an answer at shutdown.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while self.queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (events, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
            // A commit that hangs leaves every webhook unanswered: the watchdog must see it.
            let committing = crate::daemon::supervisor::time_round("inbox_writer");
            let committed = self.store.insert_inbox(&events).await;
            drop(committing);
            match committed {
                Ok(ids) => {
                    metrics::counter!("handoffd_inbox_committed_total").increment(ids.len() as u64);
                    for (reply, id) in replies.into_iter().zip(ids) {
                        let _ = reply.send(Ok(id));
                    }
                    self.committed.notify_one();
                }
                Err(error) => {
                    tracing::error!(%error, count = events.len(), "Could not commit webhook events to the inbox.");
                    for reply in replies {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
            }
        }
    }
}
