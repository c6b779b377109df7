//! HubSpot's request limits: the published defaults, the local GCRA limiters that keep us under
//! them, and the budget HubSpot reported on its last answer.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use handoffd_contract::crm::{LiveBudget, RateLimitPolicy};
use handoffd_contract::kind::ConfigProblem;
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitsConfig;

/// HubSpot's largest batch for the CRM object batch endpoints.
pub const HUBSPOT_MAX_BATCH: usize = 100;

/// HubSpot's published defaults (Professional private app: 190 per 10 s, 650,000 a day; search
/// 4 per second; batches of 100), with the config's overrides applied. [`check`] says whether
/// the overrides make sense; the connector is only built from checked ones.
pub fn policy(overrides: &LimitsConfig) -> RateLimitPolicy {
    RateLimitPolicy {
        requests: overrides.requests.unwrap_or(190),
        window: overrides.window.unwrap_or(Duration::from_secs(10)),
        daily: Some(overrides.daily.unwrap_or(650_000)),
        search_requests: Some(overrides.search_requests.unwrap_or(4)),
        search_window: Some(overrides.search_window.unwrap_or(Duration::from_secs(1))),
        max_batch: overrides.max_batch.unwrap_or(HUBSPOT_MAX_BATCH),
        concurrency: None,
    }
}

/// Every problem in the `limits:` overrides, at its key under `limits.`.
pub fn check(overrides: &LimitsConfig) -> Vec<ConfigProblem> {
    let policy = policy(overrides);
    let mut problems = Vec::new();
    let mut bad = |key: &str, reason: &str| problems.push(ConfigProblem::at(format!("limits.{key}"), reason));
    if policy.requests == 0 {
        bad("requests", "must be more than zero");
    }
    if policy.window.is_zero() {
        bad("window", "must be more than zero");
    }
    if policy.search_requests == Some(0) {
        bad("search_requests", "must be more than zero");
    }
    if policy.search_window.is_some_and(|w| w.is_zero()) {
        bad("search_window", "must be more than zero");
    }
    if policy.max_batch == 0 || policy.max_batch > HUBSPOT_MAX_BATCH {
        bad("max_batch", "must be between 1 and 100 (HubSpot's batch maximum)");
    }
    problems
}

/// A GCRA quota that never lets more than `requests` through in any `window`, and spends nearly all of it.
///
/// A quota of burst `b` and one new cell every `T` admits `b` calls at once and one per `T` after, so at most
/// `b - 1 + ceil(window / T)` in any window: a burst of `requests` (governor's usual sizing) would allow nearly
/// twice the limit in HubSpot's rolling window. The burst is kept small (a fortieth: it only absorbs our own pauses
/// between calls) and `T` is the window, plus [`JITTER`], over `requests - b + 1`, so that a call the network
/// delays cannot bring one window's calls into the next. 190 per 10 s: a burst of 4, then one call every 53.7 ms
/// (98% of the limit).
fn quota(requests: u32, window: Duration) -> Quota {
    let burst = (requests / 40).max(1);
    let spread = (requests - burst + 1).max(1);
    // Rounded up: a period a nanosecond short would let one call too many into a window.
    let nanos = (window + JITTER).as_nanos().div_ceil(u128::from(spread)).max(1);
    let period = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst)
}

/// How late the network may deliver a call, compared with the one after it, without a window seeing too many.
const JITTER: Duration = Duration::from_millis(50);

/// At most `limit` calls in any `window`, counted the safe way round: a call holds its slot while it is in
/// flight and for `window` after its answer came.
///
/// HubSpot counts a call when it arrives, which is after we sent it and before its answer: so when a call is
/// sent, every other call that HubSpot may count in the same window is either in flight or was answered less
/// than `window` ago, and holds a slot. No network delay can put `limit + 1` calls into one of HubSpot's
/// windows, and no margin is given away to cover it. Search uses this: its one-second window is short against
/// the delays of a loaded machine, where a send-time spacing needs 100 ms of slack (8 of 500 searches met a 429
/// with 50 ms) and then spends only 91% of the limit; this one spends `limit` per window plus one answer time.
pub struct AnswerWindow {
    slots: Arc<Semaphore>,
    limit: u32,
    window: Duration,
}

impl AnswerWindow {
    pub fn new(limit: u32, window: Duration) -> Self {
        let limit = limit.max(1);
        Self { slots: Arc::new(Semaphore::new(limit as usize)), limit, window }
    }

    /// Counts every free slot as used by a call answered now (a slot in use is freed a window after its own
    /// answer, later still): no call goes before `window` from now. What a new holder of the account assumes
    /// of the previous holder's calls.
    pub fn spend_all(&self) {
        loop {
            let free = self.slots.available_permits().min(self.limit as usize) as u32;
            if free == 0 {
                return;
            }
            // Another call may take a slot in between: then try again with what is left.
            if let Ok(permit) = self.slots.clone().try_acquire_many_owned(free) {
                drop(WindowSlot { permit: Some(permit), window: self.window });
                return;
            }
        }
    }

    /// Waits for a slot; hold it until the call's answer has been read (or the call has failed).
    pub async fn acquire(&self) -> WindowSlot {
        // The semaphore is never closed, so acquiring fails never; a closed one would only mean no limit.
        let permit = self.slots.clone().acquire_owned().await.ok();
        WindowSlot { permit, window: self.window }
    }
}

/// A call's place in an [`AnswerWindow`]: freed `window` after it is dropped.
pub struct WindowSlot {
    permit: Option<OwnedSemaphorePermit>,
    window: Duration,
}

impl Drop for WindowSlot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        let window = self.window;
        // Outside a runtime (the process is ending) there is no one left to send a call: free it now.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(window).await;
                drop(permit);
            });
        }
    }
}

/// The local limiters for one HubSpot account: every call takes a cell from `account`; search
/// calls also take a slot from `search` first, held until their answer.
pub struct Limiters {
    account: DefaultDirectRateLimiter,
    /// The account quota's burst: what [`Limiters::assume_spent`] takes at once.
    burst: NonZeroU32,
    search: AnswerWindow,
}

impl Limiters {
    pub fn new(policy: &RateLimitPolicy) -> Self {
        let search_requests = policy.search_requests.unwrap_or(4);
        let search_window = policy.search_window.unwrap_or(Duration::from_secs(1));
        let quota = quota(policy.requests, policy.window);
        Self {
            account: RateLimiter::direct(quota),
            burst: quota.burst_size(),
            search: AnswerWindow::new(search_requests, search_window),
        }
    }

    /// Takes over the account from a holder whose calls ended before now: the whole burst is taken from the
    /// account quota now, and every search slot is held as if answered now.
    ///
    /// Why this keeps every window within the limit without waiting a window: the previous holder's calls were
    /// admitted by the same GCRA quota, so its state at its last call was at most "burst spent then". A GCRA
    /// whose state is later (more spent) admits only what the one limiter would have admitted after those
    /// calls, and that limiter never lets more than the limit into a window (see [`quota`]). Searches are
    /// held until a window after their answer; a killed holder's searches were sent before its lease lapsed, and
    /// the caller waits for that lapse (the same assumption as waiting one window after it).
    pub async fn assume_spent(&self) {
        // The burst is at most the quota's own, so this cannot fail; waiting for it takes our own calls' cells.
        let _ = self.account.until_n_ready(self.burst).await;
        self.search.spend_all();
    }

    /// Waits until the call may be sent; a search's slot comes back, to be held until its answer is read.
    pub async fn wait(&self, search: bool) -> Option<WindowSlot> {
        let slot = if search { Some(self.search.acquire().await) } else { None };
        self.account.until_ready().await;
        slot
    }
}

/// The budget from HubSpot's rate-limit headers. Search answers carry no interval headers, so
/// a value is only replaced by an answer that carries it.
#[derive(Default)]
pub struct BudgetTracker(Mutex<LiveBudget>);

impl BudgetTracker {
    pub fn record(&self, headers: &HeaderMap) {
        let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u32>().ok();
        let window = read("x-hubspot-ratelimit-remaining");
        let daily = read("x-hubspot-ratelimit-daily-remaining");
        if window.is_none() && daily.is_none() {
            return;
        }
        let mut budget = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if window.is_some() {
            budget.window_remaining = window;
        }
        if daily.is_some() {
            budget.daily_remaining = daily;
        }
    }

    pub fn current(&self) -> LiveBudget {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_hubspots_published_limits() {
        let p = policy(&LimitsConfig::default());
        assert_eq!(check(&LimitsConfig::default()), vec![]);
        assert_eq!((p.requests, p.window, p.daily, p.max_batch), (190, Duration::from_secs(10), Some(650_000), 100));
        assert_eq!((p.search_requests, p.search_window), (Some(4), Some(Duration::from_secs(1))));
    }

    #[test]
    fn overrides_apply_and_are_checked() {
        let o = LimitsConfig { requests: Some(250), max_batch: Some(50), ..Default::default() };
        let p = policy(&o);
        assert_eq!((p.requests, p.max_batch), (250, 50));
        assert_eq!(check(&o), vec![]);
        let keys = |o: LimitsConfig| check(&o).into_iter().map(|p| p.key).collect::<Vec<_>>();
        assert_eq!(keys(LimitsConfig { max_batch: Some(101), ..Default::default() }), ["limits.max_batch"]);
        let zero = LimitsConfig { requests: Some(0), window: Some(Duration::ZERO), ..Default::default() };
        assert_eq!(keys(zero), ["limits.requests", "limits.window"]);
    }

    #[test]
    fn quota_never_admits_more_than_the_limit_per_window() {
        for (requests, window) in [(190, 10_000u64), (4, 1_000), (2, 1_000), (250, 10_000)] {
            let window = Duration::from_millis(window);
            let q = quota(requests, window);
            // The burst at the window's start, then one per interval: b - 1 + ceil(window / T).
            let admitted =
                q.burst_size().get() as u128 - 1 + window.as_nanos().div_ceil(q.replenish_interval().as_nanos());
            assert!(admitted <= requests as u128, "{requests}/{window:?} admits {admitted}");
            // Calls sent within `window + JITTER` may all arrive within one window when the first is late.
            let late = q.burst_size().get() as u128 - 1
                + (window + JITTER).as_nanos().div_ceil(q.replenish_interval().as_nanos());
            assert!(late <= requests as u128, "{requests}/{window:?} admits {late} when the network delays a call");
        }
    }

    #[test]
    fn quota_spends_at_least_95_percent_of_hubspots_limit() {
        let window = Duration::from_secs(10);
        let q = quota(190, window);
        let sustained = window.as_nanos() / q.replenish_interval().as_nanos();
        assert!(sustained * 100 >= 190 * 95, "190 per 10 s sustains only {sustained}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_search_slot_comes_back_a_window_after_its_answer() {
        let window = AnswerWindow::new(2, Duration::from_secs(1));
        let start = tokio::time::Instant::now();
        let first = window.acquire().await;
        let _second = window.acquire().await;
        // The first call is answered after 300 ms: its slot is free again at 1.3 s, not at 1 s.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(first);
        let _third = window.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_search_in_flight_keeps_its_slot() {
        let window = AnswerWindow::new(1, Duration::from_secs(1));
        let start = tokio::time::Instant::now();
        let slow = window.acquire().await;
        let waiting = tokio::spawn(async move {
            let _next = window.acquire().await;
            start.elapsed()
        });
        // An answer that takes 5 s: the next search waits for it, then for the window.
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(slow);
        assert_eq!(waiting.await.unwrap(), Duration::from_secs(6));
    }

    #[tokio::test]
    async fn a_takeover_counts_the_whole_burst_as_spent() {
        // A slow quota (one cell every 25 s after a burst of 10), so no cell comes back while the test runs.
        let policy = RateLimitPolicy {
            requests: 400,
            window: Duration::from_secs(10_000),
            daily: None,
            search_requests: Some(4),
            search_window: Some(Duration::from_secs(1)),
            max_batch: 100,
            concurrency: None,
        };
        let fresh = Limiters::new(&policy);
        assert_eq!(fresh.burst.get(), 10);
        assert!(fresh.account.check_n(fresh.burst).is_ok(), "a fresh limiter has its burst");

        let taken_over = Limiters::new(&policy);
        taken_over.assume_spent().await;
        assert!(taken_over.account.check().is_err(), "not one call before the next cell");
    }

    #[tokio::test(start_paused = true)]
    async fn a_takeover_holds_every_search_slot_for_a_window() {
        let window = AnswerWindow::new(4, Duration::from_secs(1));
        let start = tokio::time::Instant::now();
        // One search of ours still in flight: it is answered after 300 ms, and counted from then.
        let ours = window.acquire().await;
        let answered = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(ours);
        });
        window.spend_all();
        // The three free slots are held a window from now; ours a window from its answer.
        let _next = window.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1), "no search before a window has passed");
        let (_b, _c) = (window.acquire().await, window.acquire().await);
        let _last = window.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1300), "our own search counts from its answer");
        answered.await.unwrap();
    }

    #[test]
    fn budget_keeps_values_missing_from_an_answer() {
        let tracker = BudgetTracker::default();
        let mut h = HeaderMap::new();
        h.insert("X-HubSpot-RateLimit-Remaining", "187".parse().unwrap());
        h.insert("X-HubSpot-RateLimit-Daily-Remaining", "649000".parse().unwrap());
        tracker.record(&h);
        let mut search = HeaderMap::new();
        search.insert("X-HubSpot-RateLimit-Daily-Remaining", "648999".parse().unwrap());
        tracker.record(&search);
        assert_eq!(tracker.current(), LiveBudget { window_remaining: Some(187), daily_remaining: Some(648_999) });
    }
}
