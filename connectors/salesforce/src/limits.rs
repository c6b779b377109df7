//! Salesforce's API limits: the org's allocation of requests per rolling 24 hours (read live from the
//! `Sforce-Limit-Info` header on every answer), a cap on calls in flight, and 200 records per collections call.
//! Salesforce has no per-second rate limit; the local limiter spreads the daily allocation so that one backlog
//! cannot spend the whole day's budget in an hour, with a burst large enough for any backlog's first rounds.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use handoffd_contract::crm::{LiveBudget, RateLimitPolicy};
use handoffd_contract::kind::ConfigProblem;
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitsConfig;

/// Records per sObject Collections call: Salesforce's maximum.
pub const SALESFORCE_MAX_BATCH: usize = 200;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The org's limits with the config's overrides: 100,000 requests a rolling day (an Enterprise org's base), 25 in
/// flight, batches of 200.
pub fn policy(overrides: &LimitsConfig) -> RateLimitPolicy {
    let daily = overrides.daily.unwrap_or(100_000);
    RateLimitPolicy {
        requests: daily,
        window: DAY,
        daily: Some(daily),
        search_requests: None,
        search_window: None,
        max_batch: overrides.max_batch.unwrap_or(SALESFORCE_MAX_BATCH),
        concurrency: None,
    }
}

pub fn concurrent(overrides: &LimitsConfig) -> u32 {
    overrides.concurrent.unwrap_or(25)
}

/// Every problem in the `limits:` overrides, at its key under `limits.`.
pub fn check(overrides: &LimitsConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, reason: &str| problems.push(ConfigProblem::at(format!("limits.{key}"), reason));
    if overrides.daily == Some(0) {
        bad("daily", "must be more than zero");
    }
    if overrides.concurrent == Some(0) {
        bad("concurrent", "must be more than zero");
    }
    if overrides.max_batch.is_some_and(|b| b == 0 || b > SALESFORCE_MAX_BATCH) {
        bad("max_batch", "must be between 1 and 200 (the sObject Collections maximum)");
    }
    problems
}

/// A call may go when the daily allocation's spread allows it and fewer than `concurrent` are in flight.
pub struct Limiter {
    daily: DefaultDirectRateLimiter,
    in_flight: Arc<Semaphore>,
}

impl Limiter {
    pub fn new(policy: &RateLimitPolicy, concurrent: u32) -> Self {
        Self {
            daily: RateLimiter::direct(spread(policy.requests, policy.window)),
            in_flight: Arc::new(Semaphore::new(concurrent.max(1) as usize)),
        }
    }

    /// Waits for a turn; hold the permit until the answer has been read.
    pub async fn wait(&self) -> Option<OwnedSemaphorePermit> {
        // Never closed: an error would only mean no cap.
        let permit = self.in_flight.clone().acquire_owned().await.ok();
        self.daily.until_ready().await;
        permit
    }
}

/// At most `requests` in any `window`: a fortieth of it at once, the rest evenly spread.
fn spread(requests: u32, window: Duration) -> Quota {
    let burst = (requests / 40).max(1);
    let spread = (requests.max(1) - burst + 1).max(1);
    let nanos = window.as_nanos().div_ceil(u128::from(spread)).max(1);
    let period = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// The daily budget from `Sforce-Limit-Info: api-usage=18/15000` (other entries, such as `per-app-api-usage`,
/// are ignored).
#[derive(Default)]
pub struct BudgetTracker(Mutex<LiveBudget>);

impl BudgetTracker {
    pub fn record(&self, headers: &HeaderMap) {
        let Some(remaining) = headers.get("sforce-limit-info").and_then(|v| v.to_str().ok()).and_then(api_remaining)
        else {
            return;
        };
        self.set_daily_remaining(remaining);
    }

    /// Salesforce refused a call because the allocation is spent.
    pub fn spent(&self) {
        self.set_daily_remaining(0);
    }

    fn set_daily_remaining(&self, remaining: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).daily_remaining = Some(remaining);
    }

    pub fn current(&self) -> LiveBudget {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `max - used` from the header's `api-usage=used/max` entry.
fn api_remaining(header: &str) -> Option<u32> {
    let usage = header.split(',').map(str::trim).find_map(|entry| entry.strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    let (used, max) = (used.trim().parse::<u64>().ok()?, max.trim().parse::<u64>().ok()?);
    Some(u32::try_from(max.saturating_sub(used)).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_gives_the_daily_remainder() {
        assert_eq!(api_remaining("api-usage=18/15000"), Some(14_982));
        assert_eq!(api_remaining("per-app-api-usage=17/250(appName=sample), api-usage=25/5000"), Some(4_975));
        assert_eq!(api_remaining("api-usage=5001/5000"), Some(0));
        assert_eq!(api_remaining("api-usage=lots"), None);
        assert_eq!(api_remaining(""), None);
    }

    #[test]
    fn a_spent_budget_reads_zero_until_an_answer_says_otherwise() {
        let tracker = BudgetTracker::default();
        assert_eq!(tracker.current().daily_remaining, None);
        tracker.spent();
        assert_eq!(tracker.current().daily_remaining, Some(0));
        let mut headers = HeaderMap::new();
        headers.insert("Sforce-Limit-Info", "api-usage=10/100".parse().unwrap());
        tracker.record(&headers);
        assert_eq!(tracker.current(), LiveBudget { window_remaining: None, daily_remaining: Some(90) });
    }

    #[test]
    fn overrides_are_checked() {
        let keys = |o: LimitsConfig| check(&o).into_iter().map(|p| p.key).collect::<Vec<_>>();
        assert!(keys(LimitsConfig::default()).is_empty());
        assert_eq!(keys(LimitsConfig { concurrent: Some(0), ..Default::default() }), ["limits.concurrent"]);
        let p = policy(&LimitsConfig { daily: Some(5000), ..Default::default() });
        assert_eq!((p.requests, p.window, p.daily, p.max_batch), (5000, DAY, Some(5000), 200));
    }

    #[test]
    fn the_spread_never_exceeds_the_allocation_in_a_day() {
        let q = spread(100_000, DAY);
        let admitted = q.burst_size().get() as u128 - 1 + DAY.as_nanos().div_ceil(q.replenish_interval().as_nanos());
        assert!(admitted <= 100_000, "{admitted}");
        assert!(admitted >= 99_000, "{admitted}");
        assert_eq!(q.burst_size().get(), 2_500);
    }
}
