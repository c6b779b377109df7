//! Named tasks that cannot die quietly.
//!
//! Every long-running task of the daemon (the pipeline stages, the inbox writer, the two HTTP
//! servers) runs under a [`Supervisor`] with a name. A task that ends before shutdown began, or
//! panics, is logged by name and recorded in [`StageHealth`]: `/readyz` answers 503 from then
//! on and the daemon shuts down and exits non-zero, so its service manager restarts it. A
//! panic inside one round of a stage is not that: [`catch_round`] turns it into the round's
//! error, which the stage logs and retries like any other (the crates.io worker's
//! `catch_unwind` around each job).
//!
//! A stage whose round has run longer than its stuck-after time is *wedged*: `/readyz` answers
//! 503 and the systemd watchdog pings stop (see [`watchdog`]), so a stage that hangs on a lock or
//! a connection that never answers is noticed and restarted, not waited on forever. Rounds are
//! timed by [`catch_round`] through a task-local the supervisor sets on every task it runs.
//!
//! At shutdown the stages get a deadline; those still running when it passes are named.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How a supervised task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It returned while the daemon was not shutting down.
    Ended,
    /// It panicked, with the panic's message.
    Panicked(String),
}

/// A supervised task that failed, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFailure {
    pub stage: &'static str,
    pub failure: Failure,
}

impl std::fmt::Display for StageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.failure {
            Failure::Ended => write!(f, "the `{}` stage ended on its own", self.stage),
            Failure::Panicked(message) => write!(f, "the `{}` stage panicked: {message}", self.stage),
        }
    }
}

/// A stage whose current round has run too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wedged {
    pub stage: &'static str,
    pub running_for: Duration,
}

impl std::fmt::Display for Wedged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the `{}` stage has been in one round for {}s", self.stage, self.running_for.as_secs())
    }
}

/// How long a round may run before its stage counts as wedged, unless configured
/// (`service.stuck_after`): longer than any sane round, a full CRM sync page loop included.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(15 * 60);

/// The rounds in progress, by stage, with when each started.
#[derive(Clone, Default)]
struct Rounds(Arc<Mutex<HashMap<&'static str, Instant>>>);

tokio::task_local! {
    static ROUNDS: Rounds;
}

/// Ends a round's timing when dropped, whether the round returned, failed or panicked.
struct RoundTimer {
    rounds: Rounds,
    stage: &'static str,
}

impl Drop for RoundTimer {
    fn drop(&mut self) {
        self.rounds.0.lock().expect("rounds").remove(self.stage);
    }
}

impl Rounds {
    fn begin(&self, stage: &'static str) -> RoundTimer {
        self.0.lock().expect("rounds").insert(stage, Instant::now());
        RoundTimer { rounds: self.clone(), stage }
    }

    /// The round running longest, if it has run longer than `stuck_after`.
    fn wedged(&self, stuck_after: Duration) -> Option<Wedged> {
        let now = Instant::now();
        self.0
            .lock()
            .expect("rounds")
            .iter()
            .map(|(stage, started)| Wedged { stage, running_for: now.duration_since(*started) })
            .filter(|round| round.running_for > stuck_after)
            .max_by_key(|round| round.running_for)
    }
}

/// Which supervised tasks failed or are wedged; shared with `/readyz` and the watchdog.
#[derive(Clone)]
pub struct StageHealth {
    failures: Arc<Mutex<Vec<StageFailure>>>,
    failed: Arc<Notify>,
    rounds: Rounds,
    stuck_after: Duration,
}

impl Default for StageHealth {
    fn default() -> Self {
        Self {
            failures: Default::default(),
            failed: Default::default(),
            rounds: Default::default(),
            stuck_after: DEFAULT_STUCK_AFTER,
        }
    }
}

impl StageHealth {
    /// Every failure so far, first first. Empty while all is well.
    pub fn failures(&self) -> Vec<StageFailure> {
        self.failures.lock().expect("stage failures").clone()
    }

    /// The first failure: now if there was one, else when it happens.
    pub async fn first_failure(&self) -> StageFailure {
        loop {
            // Registered before looking, so a failure between the look and the wait is not missed.
            let notified = self.failed.notified();
            if let Some(first) = self.failures.lock().expect("stage failures").first().cloned() {
                return first;
            }
            notified.await;
        }
    }

    /// A stage stuck in a round for longer than the stuck-after time, if any.
    pub fn wedged(&self) -> Option<Wedged> {
        self.rounds.wedged(self.stuck_after)
    }

    fn record(&self, failure: StageFailure) {
        self.failures.lock().expect("stage failures").push(failure);
        self.failed.notify_waiters();
    }
}

/// Runs named tasks, notices when one dies, and stops them all with a deadline.
#[derive(Default)]
pub struct Supervisor {
    /// Given to the stages: cancelled when they are to finish their round and return.
    stop: CancellationToken,
    /// Set when shutdown begins: from then on a task that ends is doing what it was asked.
    shutting_down: Arc<AtomicBool>,
    running: Arc<Mutex<BTreeSet<&'static str>>>,
    health: StageHealth,
    tasks: TaskTracker,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// A supervisor whose stages count as wedged after a round of `stuck_after`.
    pub fn with_stuck_after(stuck_after: Duration) -> Self {
        let supervisor = Self::default();
        Self { health: StageHealth { stuck_after, ..supervisor.health.clone() }, ..supervisor }
    }

    /// What `/readyz` and the daemon's run loop watch.
    pub fn health(&self) -> StageHealth {
        self.health.clone()
    }

    /// Run a stage: `stage` gets the stop token and returns once it is cancelled.
    pub fn spawn_stage<F, Fut>(&self, name: &'static str, stage: F) -> JoinHandle<()>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, stage(self.stop.clone()))
    }

    /// Run a named task that stops by other means (the inbox writer when its senders are gone,
    /// a server when its own token is cancelled). Its handle lets shutdown await it in order.
    pub fn spawn<Fut>(&self, name: &'static str, task: Fut) -> JoinHandle<()>
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.running.lock().expect("running stages").insert(name);
        let running = self.running.clone();
        let shutting_down = self.shutting_down.clone();
        let health = self.health.clone();
        let span = tracing::info_span!("stage", name);
        let rounds = self.health.rounds.clone();
        self.tasks.spawn(async move {
            let outcome = AssertUnwindSafe(ROUNDS.scope(rounds, task.instrument(span))).catch_unwind().await;
            running.lock().expect("running stages").remove(name);
            let failure = match outcome {
                Ok(()) if shutting_down.load(Ordering::SeqCst) => {
                    tracing::debug!(stage = name, "The `{name}` stage has stopped.");
                    return;
                }
                Ok(()) => Failure::Ended,
                Err(panic) => Failure::Panicked(panic_message(panic.as_ref())),
            };
            let failure = StageFailure { stage: name, failure };
            tracing::error!(
                stage = name,
                "{failure}; handoffd is not ready any more and shuts down, so that its service manager restarts it."
            );
            health.record(failure);
        })
    }

    /// From now on a task that ends is stopping as asked, not failing.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Ask the stages to stop and wait for every task up to `deadline`. `Err` names the tasks
    /// still running when it passed.
    pub async fn shutdown(self, deadline: Duration) -> Result<(), Vec<&'static str>> {
        self.begin_shutdown();
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(deadline, self.tasks.wait()).await.is_ok() {
            return Ok(());
        }
        Err(self.running.lock().expect("running stages").iter().copied().collect())
    }
}

/// One round of a stage, with a panic turned into the round's error so that the stage logs it
/// and retries instead of dying (one bad row must not stop the pipeline).
pub async fn catch_round<T>(stage: &'static str, round: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let _timer = time_round(stage);
    match AssertUnwindSafe(round).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            metrics::counter!("handoffd_stage_round_panics_total", "stage" => stage).increment(1);
            Err(anyhow::anyhow!("a round of the `{stage}` stage panicked: {}", panic_message(panic.as_ref())))
        }
    }
}

/// Times a unit of work of a supervised task that does not go through [`catch_round`] (the inbox
/// writer's commits) until the returned guard is dropped. Outside a supervised task: nothing.
#[must_use = "the round is timed until the guard is dropped"]
pub fn time_round(stage: &'static str) -> Option<impl Drop> {
    ROUNDS.try_with(|rounds| rounds.begin(stage)).ok()
}

/// `future`, to be spawned by a supervised task, with that task's round timing: [`time_round`] inside it times
/// rounds the watchdog sees as the task's own (the inbox writer's commits in flight at once).
pub fn with_round_timing<F: std::future::Future>(future: F) -> impl std::future::Future<Output = F::Output> {
    let rounds = ROUNDS.try_with(Rounds::clone).ok();
    async move {
        match rounds {
            Some(rounds) => ROUNDS.scope(rounds, future).await,
            None => future.await,
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A stage loop as the real ones are written: rounds through [`catch_round`], errors logged
    /// and retried, until stopped.
    async fn stage_loop(rounds: Arc<AtomicUsize>, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let round = catch_round("fake", async {
                if rounds.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("the first round breaks");
                }
                Ok(())
            });
            if let Err(error) = round.await {
                assert!(format!("{error}").contains("`fake` stage panicked: the first round breaks"), "{error}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_panic_in_a_round_is_retried_and_the_stage_lives_on() {
        let supervisor = Supervisor::new();
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        supervisor.spawn_stage("fake", move |stop| stage_loop(counted, stop));
        while rounds.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(supervisor.health().failures().is_empty(), "{:?}", supervisor.health().failures());
        assert_eq!(supervisor.shutdown(Duration::from_secs(5)).await, Ok(()));
    }

    #[tokio::test]
    async fn a_stage_that_ends_is_a_failure_by_name() {
        let supervisor = Supervisor::new();
        let health = supervisor.health();
        supervisor.spawn_stage("steady", |stop| async move { stop.cancelled().await });
        supervisor.spawn_stage("quitter", |_stop| async {});
        let failure = tokio::time::timeout(Duration::from_secs(5), health.first_failure()).await.unwrap();
        assert_eq!(failure, StageFailure { stage: "quitter", failure: Failure::Ended });
        assert_eq!(health.failures().len(), 1, "the stage still running is well");
        assert_eq!(supervisor.shutdown(Duration::from_secs(5)).await, Ok(()));
        assert_eq!(health.failures().len(), 1, "stages that stop at shutdown do not fail");
    }

    #[tokio::test]
    async fn a_stage_that_panics_is_a_failure_with_its_message() {
        let supervisor = Supervisor::new();
        let health = supervisor.health();
        supervisor.spawn("writer", async { panic!("disk on fire") });
        let failure = tokio::time::timeout(Duration::from_secs(5), health.first_failure()).await.unwrap();
        assert_eq!(failure, StageFailure { stage: "writer", failure: Failure::Panicked("disk on fire".into()) });
        assert_eq!(failure.to_string(), "the `writer` stage panicked: disk on fire");
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_past_its_deadline_names_the_stages_still_running() {
        let supervisor = Supervisor::new();
        supervisor.spawn_stage("prompt", |stop| async move { stop.cancelled().await });
        supervisor.spawn_stage("stubborn", |_stop| std::future::pending::<()>());
        supervisor.spawn_stage("slow", |stop| async move {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        assert_eq!(supervisor.shutdown(Duration::from_secs(30)).await, Err(vec!["slow", "stubborn"]));
    }
}
