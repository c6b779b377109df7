//! Group commit: concurrent webhook requests hand their raw bodies to one writer task, which
//! commits whatever has queued up in one transaction and then answers every request. One
//! fsync serves many webhooks, so acknowledging only committed events stays fast.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use handoffd_contract::inbox::{Committed, InboxError, InboxSink, InboxSource};
use handoffd_contract::webhook::Verified;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::store::{NewInboxEvent, Store};

/// Most events committed in one transaction.
const MAX_BATCH: usize = 512;
/// A group below this many events may linger, after a commit below it that waited ([`Linger`]).
const SMALL_GROUP: usize = 8;
/// A lingering group is sent once it holds this many events, or at its deadline.
const LINGER_TARGET: usize = 16;
/// A commit that took this long waited for something beside its own work: a WAL flush (another instance's, or
/// its own), a lock. One that took less has nothing a linger would share.
const WAITED: Duration = Duration::from_micros(500);

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
    linger: Linger,
}

impl InboxWriter {
    pub fn new(store: Arc<dyn Store>, committed: Arc<Notify>) -> (Self, InboxWriterHandle) {
        let (sender, queue) = mpsc::channel(MAX_BATCH * 4);
        let linger = Linger { max: store.inbox_linger() };
        (Self { store, queue, committed, linger }, InboxWriterHandle { queue: sender })
    }

    /// A longest linger other than the store's: a test's, long enough to be seen on a loaded machine.
    #[cfg(test)]
    pub(crate) fn with_linger(mut self, max: Duration) -> Self {
        self.linger = Linger { max };
        self
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
        // The last commit that ended, which tells whether the next small group lingers.
        let last = Arc::new(Mutex::new(LastCommit::default()));
        loop {
            let slot = slots.recv().await.expect("the writer keeps a sender");
            let mut batch = Vec::with_capacity(MAX_BATCH);
            if self.queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                break;
            }
            let after = *last.lock().expect("no panics while holding the lock");
            if let Some(linger) = self.linger.for_group(batch.len(), after) {
                self.gather(&mut batch, Instant::now() + linger).await;
            }
            let (store, committed, last) = (self.store.clone(), self.committed.clone(), last.clone());
            // Given back when the commit ends, however it ends.
            let slot = Slot { index: slot, release: release.clone() };
            let commit = async move {
                commit_group(store.as_ref(), batch, &committed, &last, COMMIT_ROUNDS[slot.index]).await;
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

impl InboxWriter {
    /// Adds the events that arrive until `deadline` to `batch`, up to [`LINGER_TARGET`]; stops early if every handle
    /// is dropped (the group is then sent, and the writer ends after it).
    async fn gather(&mut self, batch: &mut Vec<(NewInboxEvent, Reply)>, deadline: Instant) {
        while batch.len() < LINGER_TARGET {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                // Cancel safe: an event received is in `batch`, or still in the queue.
                received = self.queue.recv_many(batch, room) => if received == 0 { return },
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }
}

/// Whether a group waits for more events before it is sent. Webhooks in flight spread over several instances (a
/// load balancer's turns) give each instance's writer a few at a time, and a commit of three costs nearly what
/// one of fifteen costs, in the daemon and in the database's backend (a transaction, an executor, a WAL write and
/// flush): three instances flooded spent twice one instance's CPU per webhook, in groups a quarter the size. A
/// group lingers only when it is small and the commit before it was small and waited (for a WAL flush it shares
/// with other writers): the next commit would wait as long, and the webhooks that arrive meanwhile go with it.
/// The linger is at most half that commit's time, and at most `max`, so the acknowledgement it delays stays within
/// about one flush more; a group that fills up goes at once.
#[derive(Debug, Clone, Copy)]
struct Linger {
    /// The longest linger: zero never lingers.
    max: Duration,
}

/// The last commit that ended: its size and how long it took.
#[derive(Debug, Clone, Copy, Default)]
struct LastCommit {
    events: usize,
    took: Duration,
}

impl Linger {
    /// How long a group of `queued` events waits for more, after `last`; `None` sends it at once.
    fn for_group(self, queued: usize, last: LastCommit) -> Option<Duration> {
        let small = |events: usize| events < SMALL_GROUP;
        let waited = last.events > 0 && small(last.events) && last.took >= WAITED;
        (!self.max.is_zero() && small(queued) && waited).then(|| self.max.min(last.took / 2))
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

/// Commits one group, notes it as the `last` commit, and answers each of its requests.
async fn commit_group(
    store: &dyn Store,
    batch: Vec<(NewInboxEvent, Reply)>,
    committed: &Notify,
    last: &Mutex<LastCommit>,
    round: &'static str,
) {
    let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    // A commit that hangs leaves every webhook unanswered: the watchdog must see it.
    let committing = crate::daemon::supervisor::time_round(round);
    let began = Instant::now();
    let result = store.insert_inbox(&events).await;
    // Before the answers: a group that follows them sees this commit.
    *last.lock().expect("no panics while holding the lock") =
        LastCommit { events: events.len(), took: began.elapsed() };
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_millis(2);

    fn after(events: usize, took_micros: u64) -> LastCommit {
        LastCommit { events, took: Duration::from_micros(took_micros) }
    }

    #[test]
    fn a_small_group_lingers_after_a_small_commit_that_waited_for_half_its_time_at_most() {
        let linger = Linger { max: MAX };
        assert_eq!(linger.for_group(3, after(4, 1_200)), Some(Duration::from_micros(600)));
        assert_eq!(linger.for_group(1, after(2, 9_000)), Some(MAX), "no longer than the store's longest");
    }

    #[test]
    fn a_group_goes_at_once_when_it_or_the_last_commit_is_large_or_that_commit_was_quick() {
        let linger = Linger { max: MAX };
        assert_eq!(linger.for_group(SMALL_GROUP, after(4, 1_200)), None, "a group that is not small");
        assert_eq!(linger.for_group(3, after(SMALL_GROUP, 1_200)), None, "after a commit that was not small");
        assert_eq!(linger.for_group(3, after(4, 400)), None, "after a commit that did not wait");
        assert_eq!(linger.for_group(3, LastCommit::default()), None, "the first group");
        assert_eq!(Linger { max: Duration::ZERO }.for_group(3, after(4, 1_200)), None, "a store that never lingers");
    }
}
