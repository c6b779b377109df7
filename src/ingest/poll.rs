//! The poll host: runs every connector's [`PollSource`] on its cron schedule, for vendors whose
//! webhooks can be lost (Vapi sends a report once; Retell gives up after three retries).
//!
//! One round of one poller: claim its cursor (a lease in the store, so exactly one instance
//! polls each cursor), poll from the stored cursor, commit the page to the inbox through the
//! same group commit as webhooks (the normaliser parses it like any other event, and the dedup
//! keys absorb what a webhook already brought), and only then advance the cursor. A crash
//! between the commit and the advance replays the page, never skips one. A vendor with more
//! right now is polled again at once; errors back off, doubling within bounds; a cursor the
//! vendor refuses is reset to the connector's bounded look-back. `/metrics` shows each poller's
//! lag (seconds since its last successful poll) and its failures.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::inbox::{InboxSink, InboxSource};
use handoffd_contract::poll::{PollError, PollSource};
use handoffd_contract::webhook::Verified;
use tokio_util::sync::CancellationToken;

use crate::daemon::supervisor::catch_round;
use crate::store::PollCursorStore;

/// The bounds of the backoff after a failed poll (doubling from the first to the second).
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub most: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_secs(5), most: Duration::from_secs(15 * 60) }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (at least one), and the vendor's
    /// `Retry-After` when it is longer, never beyond [`Backoff::most`].
    pub fn wait(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self.first.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        doubled.max(retry_after.unwrap_or_default()).min(self.most)
    }
}

/// A poller with its schedule.
pub struct Poller {
    pub source: Arc<dyn PollSource>,
    pub schedule: cron::Schedule,
}

impl Poller {
    /// The source on its own schedule; `Err` names the connector and the expression.
    pub fn new(source: Arc<dyn PollSource>) -> anyhow::Result<Self> {
        let expression = source.schedule().to_owned();
        let schedule = cron::Schedule::from_str(&expression).map_err(|e| {
            anyhow::anyhow!("connector `{}`: poll.schedule `{expression}` is not a cron expression: {e}", source.id())
        })?;
        Ok(Self { source, schedule })
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The page was committed and the cursor advanced; the vendor has more now.
    More,
    /// The page was committed and the cursor advanced; wait for the schedule.
    Done,
    /// Another instance holds the cursor (or took it over meanwhile): nothing was done.
    NotHolder,
}

/// A failed round: the vendor's error (with its `Retry-After`) or our own.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error(transparent)]
    Vendor(PollError),
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

pub struct PollHost {
    pub store: Arc<dyn PollCursorStore>,
    pub inbox: Arc<dyn InboxSink>,
    pub pollers: Vec<Poller>,
    /// This instance's name in the cursors' leases.
    pub holder: String,
    /// How long a claimed cursor stays this instance's without renewal.
    pub lease: Duration,
    pub backoff: Backoff,
    /// Pauses and poll-now requests from the admin API: a paused poller leaves its cursor
    /// where it is until resumed.
    pub controls: crate::daemon::controls::Controls,
}

impl PollHost {
    /// Run every poller until `stop`: each polls once at start, then on its schedule.
    pub async fn run(self, stop: CancellationToken) {
        let host = Arc::new(self);
        let loops = (0..host.pollers.len()).map(|index| {
            let host = host.clone();
            let stop = stop.clone();
            async move { host.run_one(index, stop).await }
        });
        futures::future::join_all(loops).await;
        for poller in &host.pollers {
            if let Err(error) = host.store.release_poll_cursor(poller.source.id(), &host.holder).await {
                tracing::warn!(connector = %poller.source.id(), %error, "The poll cursor's lease could not be released; it expires on its own.");
            }
        }
    }

    async fn run_one(&self, index: usize, stop: CancellationToken) {
        let poller = &self.pollers[index];
        let id = poller.source.id().to_owned();
        let mut failures = 0u32;
        let poll_now = self.controls.poll_signal(&id);
        loop {
            if self.controls.is_paused(&id) {
                tracing::info!(connector = %id, "The poller `{id}` is paused; its cursor stays where it is.");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = self.controls.wait_resumed(&id) => {}
                }
                tracing::info!(connector = %id, "The poller `{id}` is resumed.");
            }
            let wait =
                match catch_round("poll", async { Ok(self.round(poller.source.as_ref(), Utc::now()).await) }).await {
                    Ok(Ok(Round::More)) => {
                        failures = 0;
                        Duration::ZERO
                    }
                    Ok(Ok(Round::Done | Round::NotHolder)) => {
                        failures = 0;
                        until_next(&poller.schedule)
                    }
                    Ok(Err(error)) => {
                        failures += 1;
                        let retry_after = match &error {
                            RoundError::Vendor(PollError::Unavailable { retry_after, .. }) => *retry_after,
                            _ => None,
                        };
                        // Never later than the next scheduled poll, never sooner than the vendor asked.
                        let wait = self
                            .backoff
                            .wait(failures, None)
                            .min(until_next(&poller.schedule).max(self.backoff.first))
                            .max(retry_after.unwrap_or_default())
                            .min(self.backoff.most);
                        metrics::counter!("handoffd_poll_failures_total", "connector" => id.clone()).increment(1);
                        tracing::warn!(
                            connector = %id, failures, error = %error, retry_in = ?wait,
                            "Polling `{id}` failed; it resumes from its stored cursor."
                        );
                        wait
                    }
                    Err(panic) => {
                        failures += 1;
                        tracing::error!(connector = %id, error = %format!("{panic:#}"), "A poll of `{id}` panicked.");
                        self.backoff.wait(failures, None)
                    }
                };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                // An admin asked for a poll now (`handoffd connector poll ID`).
                _ = poll_now.notified() => {}
            }
        }
    }

    /// One round of one poller, as of `now`.
    pub async fn round(&self, source: &dyn PollSource, now: DateTime<Utc>) -> Result<Round, RoundError> {
        let id = source.id();
        let lease_until = now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(5));
        let Some(claim) =
            self.store.claim_poll_cursor(id, &self.holder, now, lease_until).await.map_err(anyhow::Error::from)?
        else {
            return Ok(Round::NotHolder);
        };
        record_lag(id, claim.polled_at, now);
        let page = match source.poll(claim.cursor.as_deref()).await {
            Ok(page) => page,
            Err(PollError::InvalidCursor(why)) if claim.cursor.is_some() => {
                // Start over from the connector's bounded look-back; dedup keys absorb the overlap.
                tracing::warn!(connector = %id, reason = %why, "The stored poll cursor of `{id}` was refused; it is reset to the look-back.");
                metrics::counter!("handoffd_poll_cursor_resets_total", "connector" => id.to_owned()).increment(1);
                let held = self
                    .store
                    .advance_poll_cursor(id, &self.holder, None, Utc::now())
                    .await
                    .map_err(anyhow::Error::from)?;
                return Ok(if held { Round::More } else { Round::NotHolder });
            }
            Err(error) => return Err(RoundError::Vendor(error)),
        };
        let found = page.interactions.len();
        if found > 0 {
            let body = serde_json::to_vec(&page.interactions).map_err(anyhow::Error::from)?;
            self.inbox
                .accept(id, InboxSource::Poll, Verified::produced_by_connector(body, now))
                .await
                .map_err(anyhow::Error::from)?;
        }
        // No next cursor: resume where this poll started.
        let next = page.next_cursor.or(claim.cursor);
        let polled_at = Utc::now();
        if !self
            .store
            .advance_poll_cursor(id, &self.holder, next.as_deref(), polled_at)
            .await
            .map_err(anyhow::Error::from)?
        {
            tracing::warn!(connector = %id, "The poll cursor of `{id}` was taken over during a poll; its page is kept (dedup absorbs it).");
            return Ok(Round::NotHolder);
        }
        record_lag(id, Some(polled_at), polled_at);
        metrics::counter!("handoffd_poll_interactions_total", "connector" => id.to_owned()).increment(found as u64);
        tracing::debug!(connector = %id, found, more = page.more, "Polled.");
        Ok(if page.more { Round::More } else { Round::Done })
    }
}

/// `handoffd_poller_lag_seconds{connector}`: how long ago the poller last succeeded (as of `now`).
pub fn record_lag(connector_id: &str, polled_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    if let Some(polled_at) = polled_at {
        let lag = (now - polled_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::gauge!("handoffd_poller_lag_seconds", "connector" => connector_id.to_owned()).set(lag);
    }
}

fn until_next(schedule: &cron::Schedule) -> Duration {
    schedule.upcoming(Utc).next().and_then(|at| (at - Utc::now()).to_std().ok()).unwrap_or(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use handoffd_contract::conversation::Speaker;
    use handoffd_contract::identity::IdentityKey;
    use handoffd_contract::inbox::{Committed, InboxError};
    use handoffd_contract::interaction::{Call, CallTurn, Channel, Content, Direction, Interaction};
    use handoffd_contract::poll::PollPage;

    use super::*;
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;

    /// A source that answers from a script and records the cursors it was given.
    struct Scripted {
        answers: Mutex<VecDeque<Result<PollPage, PollError>>>,
        cursors: Mutex<Vec<Option<String>>>,
    }

    #[async_trait]
    impl PollSource for Scripted {
        fn id(&self) -> &str {
            "voice"
        }

        async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
            self.cursors.lock().unwrap().push(cursor.map(str::to_owned));
            self.answers.lock().unwrap().pop_front().expect("a scripted answer")
        }
    }

    /// An inbox that records what was committed, and can refuse.
    #[derive(Default)]
    struct Recorded {
        pages: Mutex<Vec<Vec<Interaction>>>,
        refuse: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl InboxSink for Recorded {
        async fn accept(&self, _id: &str, source: InboxSource, event: Verified) -> Result<Committed, InboxError> {
            assert_eq!(source, InboxSource::Poll);
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(InboxError("the disk is full".into()));
            }
            self.pages.lock().unwrap().push(serde_json::from_slice(event.body()).unwrap());
            Ok(Committed { inbox_id: 1 })
        }
    }

    fn call(id: &str) -> Interaction {
        Interaction {
            dedup_key: format!("{id}:end"),
            channel: Channel::Voice,
            direction: Direction::Inbound,
            at: Utc::now(),
            keys: vec![IdentityKey::phone("+919820012345")],
            display_name: None,
            content: Content::Call(Call {
                call_id: id.into(),
                turns: vec![CallTurn { from: Speaker::Customer, text: "call me".into(), offset_secs: None }],
                ..Call::default()
            }),
        }
    }

    fn page(ids: &[&str], next: &str, more: bool) -> Result<PollPage, PollError> {
        Ok(PollPage { interactions: ids.iter().map(|id| call(id)).collect(), next_cursor: Some(next.into()), more })
    }

    async fn host(
        answers: Vec<Result<PollPage, PollError>>,
    ) -> (PollHost, Arc<Scripted>, Arc<Recorded>, Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?synchronous=normal", dir.path().join("handoffd.db").display());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
        let source = Arc::new(Scripted { answers: Mutex::new(answers.into()), cursors: Mutex::default() });
        let inbox = Arc::new(Recorded::default());
        let host = PollHost {
            store: store.clone(),
            inbox: inbox.clone(),
            pollers: Vec::new(),
            holder: "a".into(),
            lease: Duration::from_secs(60),
            backoff: Backoff::default(),
            controls: Default::default(),
        };
        (host, source, inbox, store, dir)
    }

    #[tokio::test]
    async fn a_page_is_committed_before_its_cursor_moves_and_a_failed_commit_moves_nothing() {
        let (host, source, inbox, store, _dir) =
            host(vec![page(&["c1", "c2"], "t2", true), page(&["c3"], "t3", false), page(&["c4"], "t4", false)]).await;
        let now = Utc::now();
        assert_eq!(host.round(source.as_ref(), now).await.unwrap(), Round::More);
        assert_eq!(host.round(source.as_ref(), now).await.unwrap(), Round::Done);
        assert_eq!(inbox.pages.lock().unwrap().iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        inbox.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(host.round(source.as_ref(), now).await, Err(RoundError::Host(_))));
        let cursors = store.poll_cursors().await.unwrap();
        assert_eq!(cursors[0].cursor.as_deref(), Some("t3"), "the uncommitted page's cursor is not stored");
        assert_eq!(*source.cursors.lock().unwrap(), [None, Some("t2".into()), Some("t3".into())]);
    }

    #[tokio::test]
    async fn a_refused_cursor_is_reset_and_the_vendors_errors_are_returned() {
        let (host, source, _inbox, store, _dir) = host(vec![
            page(&[], "t1", false),
            Err(PollError::InvalidCursor("expired".into())),
            Err(PollError::Unavailable { retry_after: Some(Duration::from_secs(30)), message: "503".into() }),
        ])
        .await;
        let now = Utc::now();
        host.round(source.as_ref(), now).await.unwrap();
        assert_eq!(host.round(source.as_ref(), now).await.unwrap(), Round::More, "polled again at once from the start");
        assert_eq!(store.poll_cursors().await.unwrap()[0].cursor, None);
        let error = host.round(source.as_ref(), now).await.unwrap_err();
        assert!(matches!(error, RoundError::Vendor(PollError::Unavailable { .. })), "{error}");
        assert_eq!(*source.cursors.lock().unwrap(), [None, Some("t1".into()), None]);
    }

    #[tokio::test]
    async fn another_instances_lease_is_left_alone() {
        let (host, source, inbox, store, _dir) = host(vec![page(&["c1"], "t1", false)]).await;
        let now = Utc::now();
        store.claim_poll_cursor("voice", "b", now, now + chrono::Duration::seconds(60)).await.unwrap().unwrap();
        assert_eq!(host.round(source.as_ref(), now).await.unwrap(), Round::NotHolder);
        assert!(source.cursors.lock().unwrap().is_empty(), "the vendor was not asked");
        assert!(inbox.pages.lock().unwrap().is_empty());
        // Once b's lease expires, a takes over.
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(host.round(source.as_ref(), later).await.unwrap(), Round::Done);
    }

    #[tokio::test]
    async fn a_paused_poller_does_not_poll_until_resumed_and_polls_at_once_when_asked() {
        let answers = (0..3).map(|i| page(&[], &format!("t{i}"), false)).collect();
        let (mut host, source, _inbox, _store, _dir) = host(answers).await;
        host.pollers = vec![Poller::new(source.clone()).unwrap()];
        let controls = host.controls.clone();
        controls.pause("voice");
        let stop = CancellationToken::new();
        let running = tokio::spawn(host.run(stop.clone()));
        let polls = || source.cursors.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(polls(), 0, "paused from the start: the vendor is not asked");
        controls.resume("voice");
        let waited = std::time::Instant::now();
        while polls() < 1 && waited.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(polls(), 1, "resumed: polled once, then waits for its schedule (every five minutes)");
        controls.poll_now("voice");
        while polls() < 2 && waited.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(polls(), 2, "polled when asked, not at the schedule");
        assert_eq!(*source.cursors.lock().unwrap(), [None, Some("t0".into())], "from the stored cursor");
        stop.cancel();
        running.await.unwrap();
    }

    #[test]
    fn backoff_doubles_within_its_bounds_and_honours_retry_after() {
        let backoff = Backoff { first: Duration::from_secs(5), most: Duration::from_secs(60) };
        let waits: Vec<u64> = (1..=6).map(|n| backoff.wait(n, None).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff.wait(1, Some(Duration::from_secs(30))), Duration::from_secs(30));
        assert_eq!(backoff.wait(1, Some(Duration::from_secs(3600))), Duration::from_secs(60));
        assert_eq!(backoff.wait(u32::MAX, None), Duration::from_secs(60));
    }
}
