//! Zoho's limits for one organisation: API credits in a rolling 24 hours, and a cap on calls in flight.
//!
//! Zoho counts credits per organisation over a rolling day and refuses calls past them; it refuses calls past the
//! concurrency cap with `TOO_MANY_REQUESTS`. Both are kept on this side: a semaphore holds the calls in flight to
//! the cap, and a ledger of the credits spent in the last 24 hours stops the connector before Zoho would, with a
//! rate limit that lasts until the oldest credit leaves the window, so the deliverer pauses and drops nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoffd_contract::crm::{CrmError, LiveBudget, RateLimitPolicy};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::LimitsConfig;
use crate::validate::MAX_BATCH;

/// The credits window.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const DEFAULT_CREDITS: u32 = 50_000;
const DEFAULT_CONCURRENCY: u32 = 10;

pub fn policy(config: &LimitsConfig) -> RateLimitPolicy {
    let credits = config.credits_per_day.unwrap_or(DEFAULT_CREDITS);
    RateLimitPolicy {
        requests: credits,
        window: DAY,
        daily: Some(credits),
        search_requests: None,
        search_window: None,
        max_batch: config.max_batch.unwrap_or(MAX_BATCH),
        concurrency: Some(config.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1)),
    }
}

pub struct Limits {
    in_flight: Arc<Semaphore>,
    concurrency: u32,
    credits: u32,
    /// When each credit of the last 24 hours was spent, oldest first.
    spent: Mutex<VecDeque<Instant>>,
    /// Zoho's last answer said the organisation's credits are spent (others may have spent them).
    spent_at_zoho: AtomicBool,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        let concurrency = config.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1);
        Self {
            in_flight: Arc::new(Semaphore::new(concurrency as usize)),
            concurrency,
            credits: config.credits_per_day.unwrap_or(DEFAULT_CREDITS),
            spent: Mutex::new(VecDeque::new()),
            spent_at_zoho: AtomicBool::new(false),
        }
    }

    /// Spends `cost` credits and waits for a place among the calls in flight; hold the permit until the answer is
    /// read. Past the day's credits, a rate limit until enough of them have left the window.
    pub async fn admit(&self, cost: u32) -> Result<OwnedSemaphorePermit, CrmError> {
        self.spend(cost, Instant::now())?;
        // The semaphore is never closed.
        self.in_flight.clone().acquire_owned().await.map_err(|e| CrmError::Unavailable(e.to_string()))
    }

    fn spend(&self, cost: u32, now: Instant) -> Result<(), CrmError> {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        while spent.front().is_some_and(|at| now.saturating_duration_since(*at) >= DAY) {
            spent.pop_front();
        }
        let cost = cost.max(1) as usize;
        if spent.len() + cost > self.credits as usize {
            let frees_at = spent.get(spent.len() + cost - self.credits as usize - 1).map_or(now, |at| *at + DAY);
            let retry_after = frees_at.saturating_duration_since(now).max(Duration::from_secs(1));
            return Err(CrmError::RateLimited {
                retry_after: Some(retry_after),
                message: format!("the organisation's {} API credits of the last 24 hours are spent", self.credits),
            });
        }
        spent.extend(std::iter::repeat_n(now, cost));
        Ok(())
    }

    /// What Zoho's last answer said of the organisation's credits: spent (a 429 `LIMIT_EXCEEDED`) or not.
    pub fn credits_spent_at_zoho(&self, spent: bool) {
        self.spent_at_zoho.store(spent, Ordering::Relaxed);
    }

    pub fn budget(&self) -> LiveBudget {
        if self.spent_at_zoho.load(Ordering::Relaxed) {
            let window_remaining = u32::try_from(self.in_flight.available_permits()).unwrap_or(self.concurrency);
            return LiveBudget { window_remaining: Some(window_remaining), daily_remaining: Some(0) };
        }
        let now = Instant::now();
        let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let used = spent.iter().filter(|at| now.saturating_duration_since(**at) < DAY).count();
        LiveBudget {
            window_remaining: Some(u32::try_from(self.in_flight.available_permits()).unwrap_or(self.concurrency)),
            daily_remaining: Some(self.credits.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn credits_stop_the_connector_until_the_oldest_leaves_the_window() {
        let limits = Limits::new(&LimitsConfig { credits_per_day: Some(3), ..Default::default() });
        let start = Instant::now();
        limits.spend(2, start).unwrap();
        limits.spend(1, start + Duration::from_secs(3600)).unwrap();
        assert_eq!(limits.budget().daily_remaining, Some(0));
        let refused = limits.spend(1, start + Duration::from_secs(7200)).unwrap_err();
        // The first two credits leave the window 24 h after they were spent.
        assert_eq!(refused.retry_after(), Some(DAY - Duration::from_secs(7200)));
        assert!(refused.is_retriable());
        limits.spend(2, start + DAY).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn credits_spent_elsewhere_read_as_none_left_until_zoho_says_otherwise() {
        let limits = Limits::new(&LimitsConfig::default());
        limits.spend(1, Instant::now()).unwrap();
        limits.credits_spent_at_zoho(true);
        assert_eq!(limits.budget().daily_remaining, Some(0));
        limits.credits_spent_at_zoho(false);
        assert_eq!(limits.budget().daily_remaining, Some(DEFAULT_CREDITS - 1));
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_calls_in_flight_than_the_cap() {
        let limits = Limits::new(&LimitsConfig { concurrency: Some(2), ..Default::default() });
        let first = limits.admit(1).await.unwrap();
        let _second = limits.admit(1).await.unwrap();
        assert_eq!(limits.budget().window_remaining, Some(0));
        let third = tokio::time::timeout(Duration::from_secs(1), limits.admit(1)).await;
        assert!(third.is_err(), "a third call went out while two were in flight");
        drop(first);
        let _third = limits.admit(1).await.unwrap();
    }
}
