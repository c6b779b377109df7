//! One delivery worker per CRM account: it owns that account's request budget.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::crm::{Crm, CrmError, TaskWriteOutcome};
use handoffd_contract::task::TaskWrite;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::conversation::lifecycle::{DEAD_LETTERED, TASK_WRITTEN};
use crate::daemon::supervisor::catch_round;
use crate::lease::{Holding, Lease};
use crate::store::{OutboxJob, Store};

use super::backoff::RetryPolicy;
use super::contacts::{Unsearched, ensure_contacts};
use super::fresh::Freshness;
use super::payload::DeliveryPayload;
use super::settling::Settling;

/// A leased job stays ours this long; a crashed worker's jobs are taken over after it.
const LEASE: Duration = Duration::from_secs(120);
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long a CRM account's lease lasts unless renewed (a third of the way through): a killed instance's account
/// is taken over this long after its last renewal at most.
pub const ACCOUNT_LEASE: Duration = Duration::from_secs(6);
/// Batches leased per round: one contact search covers two batches of new customers (search has the stricter
/// limit), while contacts and tasks are still written a batch a call.
const BATCHES_PER_ROUND: u32 = 2;
/// Rounds settling contacts or writing tasks at once. A CRM answers in 300-500 ms, so a round spends most of its
/// time waiting: HubSpot's 19 calls a second need seven or eight calls in flight, a round has one or two at a time,
/// and a round also waits for a read of the change feed, on another round's customers and on the store. The
/// connector's limiter keeps them all within the vendor's limits; the rounds only keep it busy. (Measured with
/// 300-500 ms answers on a backlog of new customers: one round at a time used 25% of HubSpot's rate, eight 73%,
/// sixteen 75% while searches bound it, then 94% on SQLite but 79-83% on PostgreSQL with three instances, where a
/// round's store work takes longer: 20,000 handoffs, 2026-12-06.)
const ROUNDS_IN_FLIGHT: usize = 32;
/// For a CRM whose short-term limit is a number of calls in flight (Zoho), rounds per call it allows: a round has
/// one call in flight at a time and spends part of its time in the store between calls, so 16 rounds kept 7.9 of
/// Zoho's 10 in flight (300-500 ms answers, debug build). Three a call keep the cap full; the connector's own
/// semaphore keeps the calls within it.
const ROUNDS_PER_CALL_IN_FLIGHT: usize = 3;
/// The most rounds in flight, whatever the cap: each holds up to two batches of jobs.
const MAX_ROUNDS_IN_FLIGHT: usize = 64;

/// For a CRM with no batch endpoint (Pipedrive: a round is two jobs, each a search and two single writes), rounds
/// in flight: its search window binds and the writes follow the searches. Measured on Pipedrive's mock (500 new
/// customers, 300-500 ms answers): 16 rounds used 94.7-95.0% of its 10 writes a second and 97% of its searches,
/// 32 rounds 91.5-92.0% and 97.5%: the writes of more customers in hand fall behind the searches.
const ROUNDS_IN_FLIGHT_UNBATCHED: usize = 16;

/// How many rounds to keep in flight for a CRM with these limits.
fn rounds_in_flight(limits: &handoffd_contract::crm::RateLimitPolicy) -> usize {
    match limits.concurrency {
        Some(cap) => (cap as usize * ROUNDS_PER_CALL_IN_FLIGHT).clamp(ROUNDS_IN_FLIGHT, MAX_ROUNDS_IN_FLIGHT),
        None if limits.max_batch <= 1 => ROUNDS_IN_FLIGHT_UNBATCHED,
        None => ROUNDS_IN_FLIGHT,
    }
}

/// `delivery.linger` when the config leaves it unset.
const DEFAULT_LINGER: Duration = Duration::from_secs(2);

/// The linger for a CRM whose allowance is counted by the day (Salesforce's API requests, Zoho's credits): there
/// every call spends the day's budget, so tasks wait longer to share one. Measured on the `steady` bench (200
/// known customers' handoffs over 10 s, 300-500 ms answers): 2s costs 0.050 task writes a task, 10s 0.010 on
/// Salesforce and 0.015 on Zoho, the task reaching the CRM up to 10 s later (handoff p99 2.4 -> 10.3 s); over
/// 1,000 known customers in 50 s, every call counted, 0.016 a task on Salesforce and 0.019 on Zoho.
const DAY_COUNTED_LINGER: Duration = Duration::from_secs(10);

/// The linger for a CRM with these limits, when `delivery.linger` is unset.
pub fn default_linger(limits: &handoffd_contract::crm::RateLimitPolicy) -> Duration {
    if limits.max_batch <= 1 {
        // Nothing to share: each task is a call of its own (Pipedrive), so waiting only delays it.
        Duration::ZERO
    } else if limits.window >= Duration::from_secs(24 * 3600) {
        DAY_COUNTED_LINGER
    } else {
        DEFAULT_LINGER
    }
}

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    pub crm: Arc<dyn Crm>,
    pub retry: RetryPolicy,
    pub batch_size: usize,
    /// How long a partial batch may wait for more jobs (zero: send at once).
    pub linger: Duration,
    /// Woken when the outbox has new jobs.
    pub outbox_changed: Arc<Notify>,
    pub worker_id: String,
    /// The CRM account's lease: only its holder delivers for the account, so the account's rate limit and
    /// batching stay exact when several instances share the store.
    pub account: Arc<Lease>,
    /// Whether the CRM's one-time set-up (`Crm::prepare`) has succeeded; rounds in flight wait for one another's
    /// attempt rather than each making it.
    pub prepared: tokio::sync::Mutex<bool>,
    /// Pauses from the admin API: a paused CRM gets no calls, and its jobs wait in the outbox.
    pub controls: crate::daemon::controls::Controls,
    /// The previous holder's last use of the account (see [`Holding::Held`]) for which the CRM's limiter has been
    /// told that the previous holder may have spent its budget: from then on we call at the limiter's pace
    /// instead of waiting a whole rate window after that use.
    pub preset_after: tokio::sync::Mutex<Option<chrono::DateTime<Utc>>>,
    /// Whether the identity cache is fresh enough to create a new customer's contact without a search (`None`:
    /// always search; the daemon has no CRM sync to start the cache from).
    pub freshness: Option<Arc<Freshness>>,
}

/// What one lease did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Leased this many jobs (their contacts settled, then their tasks written, by the round).
    Delivered(usize),
    /// Nothing due.
    Idle,
    /// A partial batch is due: look again after this long.
    Lingering(Duration),
}

/// A leased job with its payload decoded.
struct Leased {
    job: OutboxJob,
    payload: DeliveryPayload,
}

impl Deliverer {
    /// Leases rounds one after the other and delivers up to [`rounds_in_flight`] of them side by side: each
    /// settles its customers' contacts, then writes its tasks. The CRM's answer time is then spent in parallel
    /// rather than in turn. Rounds that share a customer settle it one after the other (see [`Settling`]), so two
    /// rounds never create one contact; a job is in one round at a time, as the next lease skips the jobs in hand.
    pub async fn run(self, stop: CancellationToken) {
        let this = Arc::new(self);
        // The account's lease is renewed while rounds run, and released at the end.
        let renewing = tokio::spawn(this.clone().renew_account(stop.clone()));
        // Jobs in a round: leased to us, but not to be leased again by the next round.
        let in_hand: Arc<std::sync::Mutex<HashSet<i64>>> = Default::default();
        let settling = Arc::new(Settling::default());
        // Spawned, not merely polled here: a round waiting in a store transaction must progress while the next
        // lease waits for the store.
        let mut rounds = JoinSet::new();
        let rounds_in_flight = rounds_in_flight(&this.crm.limits());
        // Whether the set-up and the first read of the change feed have been started (see `warm_up`).
        let mut warming = false;
        // Rounds leased back to back, not started yet, with the moment each was leased: they start together
        // once no more are due or the rounds in flight are enough, so that the first one's read of the change
        // feed begins after every one of them was leased and serves them all (a round leased after a read began
        // waits for the next read: after a backlog's release, all but the first waited for two).
        let mut leased_rounds: Vec<(Vec<Leased>, DateTime<Utc>)> = Vec::new();
        let start = |leased_rounds: &mut Vec<(Vec<Leased>, DateTime<Utc>)>, rounds: &mut JoinSet<()>| {
            for (leased, moment) in leased_rounds.drain(..) {
                let (this, in_hand, settling) = (this.clone(), in_hand.clone(), settling.clone());
                rounds.spawn(async move { this.deliver_round(leased, moment, &in_hand, &settling).await });
            }
        };
        loop {
            if stop.is_cancelled() {
                // The rest waits in the outbox; the rounds in hand are finished.
                start(&mut leased_rounds, &mut rounds);
                while rounds.join_next().await.is_some() {}
                break;
            }
            if rounds.len() + leased_rounds.len() >= rounds_in_flight {
                start(&mut leased_rounds, &mut rounds);
                tokio::select! {
                    _ = rounds.join_next() => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
            if this.controls.is_paused(this.crm.id()) {
                start(&mut leased_rounds, &mut rounds);
                // Rounds in hand finish; nothing new is leased until resumed.
                tracing::info!(crm = %this.crm.id(), "Delivery to `{}` is paused; jobs wait in the outbox.", this.crm.id());
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = this.controls.wait_resumed(this.crm.id()) => {
                        tracing::info!(crm = %this.crm.id(), "Delivery to `{}` is resumed.", this.crm.id());
                    }
                }
                continue;
            }
            let busy: Vec<i64> = in_hand.lock().expect("in-hand jobs").iter().copied().collect();
            let moment = Utc::now();
            let leased = match this.not_our_turn().await {
                Some(wait) => Ok((Round::Lingering(wait), Vec::new())),
                None => {
                    if !warming {
                        warming = true;
                        rounds.spawn(this.clone().warm_up());
                    }
                    catch_round("deliver", this.lease(&busy)).await
                }
            };
            let sleep = match leased {
                Ok((Round::Delivered(_), leased)) => {
                    if !leased.is_empty() {
                        in_hand.lock().expect("in-hand jobs").extend(leased.iter().map(|l| l.job.id));
                        leased_rounds.push((leased, moment));
                    }
                    continue;
                }
                Ok((Round::Idle, _)) => IDLE_POLL,
                Ok((Round::Lingering(wait), _)) => wait,
                Err(error) => {
                    tracing::error!(crm = %this.crm.id(), error = %format!("{error:#}"), "Leasing a delivery round failed.");
                    IDLE_POLL
                }
            };
            start(&mut leased_rounds, &mut rounds);
            // New jobs may fill a lingering round: it goes as soon as it is full.
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = this.outbox_changed.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                Some(_) = rounds.join_next(), if !rounds.is_empty() => {}
            }
        }
        let _ = renewing.await;
        // Another instance may deliver for the account at once, after the rate window of our last call.
        if let Err(error) = this.account.release(Utc::now()).await {
            tracing::warn!(lease = %this.account.name(), %error, "Releasing the CRM account's lease failed; it expires.");
        }
    }

    /// What the first round would otherwise do before its first write, done as soon as this instance delivers for
    /// the account (and the CRM is not paused), beside the rounds: the CRM's set-up, and the first read of the
    /// change feed (a read of the whole feed from the sync's cursor). A backlog met at start or after a takeover
    /// then waits only for one short read of the feed, not for the set-up's calls one after the other. A failure
    /// here costs nothing: the rounds try again.
    async fn warm_up(self: Arc<Self>) {
        if self.prepare().await.is_err() {
            return;
        }
        if let Some(freshness) = &self.freshness
            && let Err(error) = freshness.fresh_after(self.store.as_ref(), self.crm.as_ref(), Utc::now()).await
        {
            tracing::warn!(crm = %self.crm.id(), %error, "Reading the CRM's change feed failed; the next round reads it again.");
        }
    }

    /// Keeps the account's lease while this worker holds it, until `stop`.
    async fn renew_account(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.account.ttl() / 3) => {}
            }
            let now = Utc::now();
            if self.account.is_held(now).await
                && let Err(error) = self.account.hold(now).await
            {
                tracing::warn!(lease = %self.account.name(), %error, "Renewing the CRM account's lease failed.");
            }
        }
    }

    /// `None` when this instance delivers for the account now; otherwise how long to wait before asking again:
    /// another instance holds the account's lease, or we just took it over from a connector whose limiter cannot
    /// be preset ([`Crm::assume_budget_spent`]) and the previous holder's calls are still in the rate window.
    async fn not_our_turn(&self) -> Option<Duration> {
        let now = Utc::now();
        let holding = self.account.hold(now).await;
        if let Ok(Holding::Held { taken_over: true, .. }) = holding {
            // The previous holder is dead or lost the lease: its jobs are ours at once, not when their leases
            // expire. Those it had in flight are looked up by external key before they are written again.
            match self.store.release_jobs_of_others(self.crm.id(), &self.worker_id).await {
                Ok(released) if released > 0 => {
                    tracing::info!(crm = %self.crm.id(), released, "Took over the jobs the previous holder had leased.")
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(crm = %self.crm.id(), %error, "Taking over the previous holder's jobs failed.")
                }
            }
        }
        match holding {
            Ok(Holding::Held { previous_use_until: Some(used), .. }) => {
                if used > now {
                    // The previous holder's use reaches into the future only on a skewed clock: wait for it.
                    return Some((used - now).to_std().unwrap_or_default());
                }
                let mut preset_after = self.preset_after.lock().await;
                if *preset_after == Some(used) {
                    return None;
                }
                // The connector's limiter continues from the previous holder's spent budget: no window to wait.
                if self.crm.assume_budget_spent().await {
                    tracing::info!(crm = %self.crm.id(), previous_use_until = %used, "Took the CRM account over; its limiter counts the previous holder's budget as spent.");
                    *preset_after = Some(used);
                    return None;
                }
                let wait = crate::lease::takeover_wait(self.crm.limits().window);
                let free_at = used + chrono::Duration::from_std(wait).unwrap_or_default();
                (free_at > now).then(|| (free_at - now).to_std().unwrap_or_default())
            }
            Ok(Holding::Held { previous_use_until: None, .. }) => None,
            Ok(Holding::Elsewhere { .. }) => Some(IDLE_POLL),
            Err(error) => {
                tracing::warn!(lease = %self.account.name(), %error, "Taking the CRM account's lease failed.");
                Some(IDLE_POLL)
            }
        }
    }

    /// One round: its customers' contacts, then its tasks. Whatever happens, its jobs leave our hands (a job whose
    /// round failed is still leased to us: the next round after the lease takes it back). `moment`: when it was
    /// leased, the moment it would have searched for its new customers: a read of the change feed begun since
    /// tells whether they are new. (Any moment before the read does: the read sees every change made elsewhere
    /// before it began; our own contacts, a round sharing a customer's included, are cached when we create them.)
    async fn deliver_round(
        &self,
        leased: Vec<Leased>,
        moment: DateTime<Utc>,
        in_hand: &std::sync::Mutex<HashSet<i64>>,
        settling: &Settling,
    ) {
        let ids: Vec<i64> = leased.iter().map(|l| l.job.id).collect();
        let delivered = catch_round("deliver", async {
            let ready = {
                let _held = settling.hold(leased.iter().map(|l| l.job.customer_id.clone())).await;
                if let Some(freshness) = &self.freshness {
                    // The set-up comes before contacts too when they may be created unsearched: it makes the
                    // contact property that marks ours (HubSpot). Meanwhile the change feed is read, once for
                    // every round waiting (an error there only means this round searches).
                    let (prepared, _) = tokio::join!(
                        self.prepare(),
                        freshness.fresh_after(self.store.as_ref(), self.crm.as_ref(), moment)
                    );
                    if let Err(error) = prepared {
                        return self.failed(leased.iter().map(|l| &l.job), &error, false).await;
                    }
                }
                self.with_contacts(leased, moment).await?
            };
            self.write(ready.0, &ready.1).await
        })
        .await;
        if let Err(error) = delivered {
            tracing::error!(crm = %self.crm.id(), error = %format!("{error:#}"), "A delivery round failed.");
        }
        // Contacts and tasks went to the CRM: the account's budget was used now.
        self.account.used(Utc::now()).await;
        let mut in_hand = in_hand.lock().expect("in-hand jobs");
        for id in ids {
            in_hand.remove(&id);
        }
    }

    /// Lease one round of due jobs ([`BATCHES_PER_ROUND`] batches at most, none of `busy`). Unless fewer than a
    /// round are due and the oldest has waited less than the linger: then more may join them, and the CRM budget
    /// goes further.
    async fn lease(&self, busy: &[i64]) -> anyhow::Result<(Round, Vec<Leased>)> {
        let batch = self.batch_size.min(self.crm.limits().max_batch).max(1) as u32;
        let limit = batch * BATCHES_PER_ROUND;
        let now = Utc::now();
        if !self.linger.is_zero() {
            let due = self.store.outbox_due(self.crm.id(), &self.worker_id, busy, now, limit).await?;
            let Some(oldest) = due.oldest else { return Ok((Round::Idle, Vec::new())) };
            let ripe = oldest + chrono::Duration::from_std(self.linger)?;
            if due.count < limit && ripe > now {
                return Ok((Round::Lingering((ripe - now).to_std().unwrap_or_default()), Vec::new()));
            }
        }
        let lease_until = now + chrono::Duration::from_std(LEASE)?;
        let jobs = self.store.lease_jobs(self.crm.id(), &self.worker_id, busy, now, lease_until, limit).await?;
        if jobs.is_empty() {
            return Ok((Round::Idle, Vec::new()));
        }
        let count = jobs.len();
        let mut leased = Vec::with_capacity(count);
        for job in jobs {
            match serde_json::from_str::<DeliveryPayload>(&job.payload) {
                Ok(payload) => leased.push(Leased { job, payload }),
                Err(error) => {
                    self.store
                        .job_dead(&job, &format!("the stored payload is unreadable: {error}"), DEAD_LETTERED, now)
                        .await?
                }
            }
        }
        Ok((Round::Delivered(count), leased))
    }

    /// The CRM's one-time set-up, once it has succeeded; rounds in flight wait for one another's attempt.
    async fn prepare(&self) -> Result<(), CrmError> {
        let mut prepared = self.prepared.lock().await;
        if !*prepared {
            if let Err(error) = self.crm.prepare().await {
                tracing::error!(crm = %self.crm.id(), %error, "Preparing the CRM failed; it is tried again.");
                return Err(error);
            }
            *prepared = true;
        }
        Ok(())
    }

    /// Each job's task gets its customer's contact; jobs whose contact could not be had wait (or are
    /// dead-lettered) by the CRM's error, and are not returned.
    async fn with_contacts(
        &self,
        jobs: Vec<Leased>,
        moment: chrono::DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Leased>, HashSet<i64>)> {
        let customers: Vec<(String, &DeliveryPayload)> =
            jobs.iter().map(|l| (l.job.customer_id.clone(), &l.payload)).collect();
        let mut jobs_of: HashMap<String, Vec<i64>> = HashMap::new();
        let mut unsure: HashSet<String> = HashSet::new();
        for leased in &jobs {
            jobs_of.entry(leased.job.customer_id.clone()).or_default().push(leased.job.id);
            if leased.job.in_flight {
                unsure.insert(leased.job.customer_id.clone());
            }
        }
        let unsearched = self.freshness.as_deref().map(|freshness| Unsearched {
            freshness,
            moment,
            jobs_of: &jobs_of,
            unsure: &unsure,
        });
        let contacts = match ensure_contacts(self.store.as_ref(), self.crm.as_ref(), &customers, unsearched).await {
            Ok(contacts) => contacts,
            Err(error) => {
                self.failed(jobs.iter().map(|l| &l.job), &error, false).await?;
                return Ok((Vec::new(), HashSet::new()));
            }
        };
        let mut ready = Vec::with_capacity(jobs.len());
        for mut leased in jobs {
            if let Some(error) = contacts.failed.get(&leased.job.customer_id) {
                self.failed(std::iter::once(&leased.job), error, false).await?;
                continue;
            }
            if let Some(contact) = contacts.known.get(&leased.job.customer_id) {
                leased.payload.task.contact_id = contact.clone();
            }
            ready.push(leased);
        }
        Ok((ready, contacts.marked))
    }

    /// Write a prepared round's tasks: creates and updates in batch calls, each outcome recorded. `marked`: jobs
    /// already marked in flight this round (before their contacts were created), not marked again.
    async fn write(&self, jobs: Vec<Leased>, marked: &HashSet<i64>) -> anyhow::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }

        // Jobs whose earlier attempt may have reached the CRM: find their task first.
        let unsure: Vec<String> = jobs
            .iter()
            .filter(|l| l.job.in_flight && l.job.crm_task_id.is_none())
            .map(|l| l.job.handoff_id.clone())
            .collect();
        let mut found: HashMap<String, String> = HashMap::new();
        if !unsure.is_empty() {
            match self.crm.find_tasks_by_external_keys(&unsure).await {
                Ok(tasks) => {
                    for task in tasks {
                        if let Some(key) = task.external_key {
                            found.insert(key, task.task_id);
                        }
                    }
                }
                Err(error) => return self.failed(jobs.iter().map(|l| &l.job), &error, true).await,
            }
        }

        // One transaction a round less when the contacts' mark already counted this attempt.
        let ids: Vec<i64> = jobs.iter().map(|l| l.job.id).filter(|id| !marked.contains(id)).collect();
        self.store.mark_in_flight(&ids).await?;

        let mut creates: Vec<&Leased> = Vec::new();
        let mut updates: Vec<(&Leased, String)> = Vec::new();
        for leased in &jobs {
            let known_task = leased.job.crm_task_id.clone().or_else(|| found.get(&leased.job.handoff_id).cloned());
            match known_task {
                // The lost write did land: this version may be newer, so update it.
                Some(task_id) => updates.push((leased, task_id)),
                None => creates.push(leased),
            }
        }

        if !creates.is_empty()
            && let Err(error) = self.prepare().await
        {
            self.failed(creates.iter().map(|l| &l.job), &error, false).await?;
            creates.clear();
        }
        if !creates.is_empty() {
            let tasks: Vec<TaskWrite> = creates.iter().map(|l| l.payload.task.clone()).collect();
            match self.crm.create_tasks(&tasks).await {
                Ok(outcomes) => self.record(&creates, outcomes).await?,
                Err(error) => self.failed(creates.iter().map(|l| &l.job), &error, false).await?,
            }
        }
        if !updates.is_empty() {
            let tasks: Vec<(String, TaskWrite)> =
                updates.iter().map(|(l, task_id)| (task_id.clone(), l.payload.task.clone())).collect();
            let leased: Vec<&Leased> = updates.iter().map(|(l, _)| *l).collect();
            match self.crm.update_tasks(&tasks).await {
                Ok(outcomes) => self.record(&leased, outcomes).await?,
                Err(error) => self.failed(leased.iter().map(|l| &l.job), &error, false).await?,
            }
        }
        Ok(())
    }

    async fn record(&self, jobs: &[&Leased], outcomes: Vec<TaskWriteOutcome>) -> anyhow::Result<()> {
        let now = Utc::now();
        if outcomes.len() != jobs.len() {
            let error = CrmError::Protocol(format!("{} outcomes for {} tasks", outcomes.len(), jobs.len()));
            return self.failed(jobs.iter().map(|l| &l.job), &error, true).await;
        }
        let mut delivered = Vec::with_capacity(jobs.len());
        for (leased, outcome) in jobs.iter().zip(outcomes) {
            match outcome {
                TaskWriteOutcome::Written(task) => {
                    tracing::info!(
                        handoff = %leased.job.handoff_id,
                        task = %task.task_id,
                        crm = %self.crm.id(),
                        "Wrote the task to the CRM."
                    );
                    // From the end of the burst (quiet period or end signal) to the task written.
                    if let Some(ready_at) = leased.job.ready_at {
                        let latency = (now - ready_at).num_milliseconds().max(0) as f64 / 1000.0;
                        metrics::histogram!("handoffd_handoff_latency_seconds", "crm" => self.crm.id().to_owned())
                            .record(latency);
                    }
                    delivered.push((&leased.job, task.task_id));
                }
                TaskWriteOutcome::Rejected { message } => {
                    metrics::counter!("handoffd_dead_letters_total", "crm" => self.crm.id().to_owned()).increment(1);
                    tracing::warn!(handoff = %leased.job.handoff_id, %message, "The CRM rejected a task; it is dead-lettered.");
                    self.store
                        .job_dead(&leased.job, &format!("rejected by the CRM: {message}"), DEAD_LETTERED, now)
                        .await?;
                }
            }
        }
        // One transaction for the whole batch: a round costs a few commits, not one per task.
        self.store.jobs_delivered(&delivered, TASK_WRITTEN, now).await?;
        metrics::counter!("handoffd_tasks_written_total", "crm" => self.crm.id().to_owned())
            .increment(delivered.len() as u64);
        Ok(())
    }

    /// A whole call failed: retry the jobs later, or dead-letter them when retrying cannot help.
    async fn failed(
        &self,
        jobs: impl Iterator<Item = &OutboxJob>,
        error: &CrmError,
        outcome_unknown: bool,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let unknown = outcome_unknown || matches!(error, CrmError::OutcomeUnknown(_));
        // Credentials an admin must fix are retried slowly instead of dead-lettering everything.
        let retriable = error.is_retriable() || matches!(error, CrmError::Auth(_));
        if let CrmError::RateLimited { .. } = error {
            metrics::counter!("handoffd_crm_rate_limited_total", "crm" => self.crm.id().to_owned()).increment(1);
        }
        // A rate limit (the window's or the day's budget) says when to come back, not that the job failed; refused
        // credentials (a revoked token, a missing scope) wait for an admin, at the slowest pace. Neither spends the
        // job's attempts, so a long stop never dead-letters what was merely waiting.
        let counts = !matches!(error, CrmError::RateLimited { .. } | CrmError::Auth(_));
        for job in jobs {
            let attempts = if counts { job.attempts + 1 } else { job.attempts };
            if !retriable || (counts && self.retry.exhausted(attempts)) {
                tracing::warn!(handoff = %job.handoff_id, attempts, %error, "A delivery is dead-lettered.");
                metrics::counter!("handoffd_dead_letters_total", "crm" => self.crm.id().to_owned()).increment(1);
                self.store.job_dead(job, &error.to_string(), DEAD_LETTERED, now).await?;
            } else {
                let delay = match error {
                    CrmError::Auth(_) => self.retry.max_delay,
                    _ => self.retry.delay(attempts.max(1), error.retry_after()),
                };
                tracing::warn!(handoff = %job.handoff_id, attempts, ?delay, %error, "A delivery failed; it will be retried.");
                metrics::counter!("handoffd_delivery_retries_total", "crm" => self.crm.id().to_owned()).increment(1);
                let at = now + chrono::Duration::from_std(delay)?;
                // A job already unsure stays unsure until a lookup settles it.
                self.store.job_retry(job.id, attempts, &error.to_string(), at, unknown || job.in_flight).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use handoffd_contract::crm::{ContactPage, CrmContact, CrmOwner, LiveBudget, NewContact, RateLimitPolicy};
    use handoffd_contract::identity::IdentityKey;
    use handoffd_contract::task::{TaskRef, TaskState};

    use super::*;
    use crate::store::LeaseStore;
    use crate::store::sqlite::SqliteStore;

    /// A CRM that takes no call but its set-up: it says whether its limiter can be preset, and counts the
    /// presets and the set-ups.
    struct Presettable {
        can_preset: bool,
        presets: AtomicUsize,
        prepares: AtomicUsize,
        /// The account's rate window (HubSpot's 10 s; Salesforce's and Zoho's allocations are a day's).
        window: Duration,
    }

    impl Presettable {
        fn new(can_preset: bool, window: Duration) -> Arc<Self> {
            Arc::new(Presettable { can_preset, presets: AtomicUsize::new(0), prepares: AtomicUsize::new(0), window })
        }
    }

    #[async_trait]
    impl Crm for Presettable {
        fn id(&self) -> &str {
            "hubspot-main"
        }
        fn limits(&self) -> RateLimitPolicy {
            RateLimitPolicy {
                requests: 190,
                window: self.window,
                daily: None,
                search_requests: Some(4),
                search_window: Some(Duration::from_secs(1)),
                max_batch: 100,
                concurrency: None,
            }
        }
        fn live_budget(&self) -> LiveBudget {
            LiveBudget::default()
        }
        async fn assume_budget_spent(&self) -> bool {
            self.presets.fetch_add(1, Ordering::SeqCst);
            self.can_preset
        }
        async fn prepare(&self) -> Result<(), CrmError> {
            self.prepares.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn find_contacts(&self, _: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn create_contact(&self, _: &NewContact) -> Result<CrmContact, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn contacts_changed_since(&self, _: Option<&str>) -> Result<ContactPage, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn create_tasks(&self, _: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn update_tasks(&self, _: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn find_tasks_by_external_keys(&self, _: &[String]) -> Result<Vec<TaskRef>, CrmError> {
            unreachable!("no call in a takeover")
        }
        async fn task_states(&self, _: &[String]) -> Result<Vec<TaskState>, CrmError> {
            unreachable!("no call in a takeover")
        }
    }

    /// A deliverer about to take the account over from a holder that died: its lease lapsed a second ago.
    async fn taking_over(crm: Arc<Presettable>) -> (Deliverer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?synchronous=normal", dir.path().join("h.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let now = Utc::now();
        let dead = store.take_lease("crm:hubspot-main", "dead", now - chrono::Duration::seconds(20), now).await;
        assert!(dead.unwrap().granted());
        tokio::time::sleep(Duration::from_millis(1)).await;
        let deliverer = Deliverer {
            store: store.clone(),
            crm,
            retry: RetryPolicy {
                max_attempts: 3,
                min_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(10),
            },
            batch_size: 100,
            linger: Duration::ZERO,
            outbox_changed: Default::default(),
            worker_id: "b".into(),
            account: Arc::new(Lease::new(store, "crm:hubspot-main", "b", ACCOUNT_LEASE)),
            prepared: Default::default(),
            controls: Default::default(),
            preset_after: Default::default(),
            freshness: None,
        };
        (deliverer, dir)
    }

    #[tokio::test]
    async fn a_new_holder_whose_limiter_is_preset_delivers_at_once() {
        let crm = Presettable::new(true, Duration::from_secs(10));
        let (deliverer, _dir) = taking_over(crm.clone()).await;
        assert_eq!(deliverer.not_our_turn().await, None, "no rate window to wait");
        assert_eq!(deliverer.not_our_turn().await, None);
        assert_eq!(crm.presets.load(Ordering::SeqCst), 1, "the limiter is preset once per takeover");
    }

    #[tokio::test]
    async fn the_set_up_is_made_once_the_account_is_held_before_any_job_and_not_while_paused() {
        let crm = Presettable::new(true, Duration::from_secs(10));
        let (deliverer, _dir) = taking_over(crm.clone()).await;
        let controls = deliverer.controls.clone();
        controls.pause("hubspot-main");
        let stop = CancellationToken::new();
        let running = tokio::spawn(deliverer.run(stop.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(crm.prepares.load(Ordering::SeqCst), 0, "a paused CRM gets no call");
        controls.resume("hubspot-main");
        // The outbox is empty: only the warm-up calls the set-up.
        for _ in 0..100 {
            if crm.prepares.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(crm.prepares.load(Ordering::SeqCst), 1, "made once, with no job due");
        stop.cancel();
        running.await.unwrap();
    }

    #[tokio::test]
    async fn a_new_holder_whose_limiter_cannot_be_preset_waits_a_window_after_the_lapse() {
        let crm = Presettable::new(false, Duration::from_secs(10));
        let (deliverer, _dir) = taking_over(crm).await;
        let wait = deliverer.not_our_turn().await.expect("a wait");
        // Ten seconds after the lapse, less the time this test took to get here (generous on a busy machine).
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(10), "{wait:?}");
    }

    #[tokio::test]
    async fn a_new_holder_of_an_account_counted_by_the_day_does_not_wait_a_day() {
        let day = Duration::from_secs(24 * 3600);
        let crm = Presettable::new(false, day);
        let (deliverer, _dir) = taking_over(crm).await;
        assert_eq!(deliverer.not_our_turn().await, None, "a daily allocation is the vendor's to count");
    }

    #[test]
    fn an_unset_linger_follows_what_the_crm_counts_and_batches() {
        let limits = |window: Duration, max_batch: usize| RateLimitPolicy {
            requests: 190,
            window,
            daily: Some(650_000),
            search_requests: None,
            search_window: None,
            max_batch,
            concurrency: None,
        };
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(default_linger(&limits(Duration::from_secs(10), 100)), Duration::from_secs(2));
        assert_eq!(default_linger(&limits(day, 200)), Duration::from_secs(10), "every call spends the day's budget");
        assert_eq!(default_linger(&limits(Duration::from_secs(2), 1)), Duration::ZERO, "no batch to wait for");
        assert_eq!(default_linger(&limits(day, 1)), Duration::ZERO);
    }
}
