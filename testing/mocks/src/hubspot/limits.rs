//! HubSpot's rate limits as HubSpot applies them, per account (a private-app token, or an OAuth app):
//! a rolling ten-second window, a daily budget (UTC day), and a separate per-second limit on search endpoints,
//! which count toward the daily budget but not toward the ten-second window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};

use crate::MockLimits;

const TEN_SECONDS: Duration = Duration::from_secs(10);
const ONE_SECOND: Duration = Duration::from_secs(1);

/// Which of HubSpot's policies refused a request; its name is the 429 body's `policyName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The rolling ten-second window.
    TenSecondlyRolling,
    /// The daily budget.
    Daily,
    /// The search endpoints' per-second limit.
    Secondly,
}

impl Policy {
    /// HubSpot's `policyName`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TenSecondlyRolling => "TEN_SECONDLY_ROLLING",
            Self::Daily => "DAILY",
            Self::Secondly => "SECONDLY",
        }
    }

    /// HubSpot's 429 message.
    pub fn message(self) -> &'static str {
        match self {
            Self::TenSecondlyRolling => "You have reached your ten_secondly_rolling limit.",
            Self::Daily => "You have reached your daily limit.",
            Self::Secondly => "You have reached your secondly limit.",
        }
    }
}

/// The `X-HubSpot-RateLimit-*` headers of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHeaders {
    pub daily: u64,
    pub daily_remaining: u64,
    /// `(max, remaining)` of the ten-second window; absent on search endpoints, as on HubSpot.
    pub interval: Option<(u32, u32)>,
}

impl LimitHeaders {
    /// The headers as (name, value) pairs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("x-hubspot-ratelimit-daily", self.daily.to_string()),
            ("x-hubspot-ratelimit-daily-remaining", self.daily_remaining.to_string()),
        ];
        if let Some((max, remaining)) = self.interval {
            pairs.push(("x-hubspot-ratelimit-interval-milliseconds", "10000".to_owned()));
            pairs.push(("x-hubspot-ratelimit-max", max.to_string()));
            pairs.push(("x-hubspot-ratelimit-remaining", remaining.to_string()));
        }
        pairs
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed(LimitHeaders),
    Limited { policy: Policy, retry_after_secs: u64, headers: LimitHeaders },
}

#[derive(Debug, Default)]
struct AccountUsage {
    /// Accepted non-search requests in the last ten seconds: what the limit counts.
    accepted: VecDeque<Instant>,
    /// Every non-search request in the last ten seconds, refused or not: what the client actually sent.
    received: VecDeque<Instant>,
    /// Accepted search requests in the last second.
    searches: VecDeque<Instant>,
    /// Every search request in the last second.
    searches_received: VecDeque<Instant>,
    day: Option<NaiveDate>,
    daily_used: u64,
}

/// Usage of every account, and the busiest windows seen.
#[derive(Debug)]
pub struct RateLimits {
    limits: MockLimits,
    accounts: HashMap<String, AccountUsage>,
    /// Most non-search requests any account sent in a rolling ten seconds (refused ones included).
    pub max_received_in_10s: u64,
    /// Most search requests any account sent in a rolling second (refused ones included).
    pub max_search_received_in_1s: u64,
    /// Set by the compliance suite: every account has spent its daily budget until this is cleared.
    daily_exhausted: bool,
}

impl RateLimits {
    pub fn new(limits: MockLimits) -> Self {
        Self {
            limits,
            accounts: HashMap::new(),
            max_received_in_10s: 0,
            max_search_received_in_1s: 0,
            daily_exhausted: false,
        }
    }

    /// Spends every account's daily budget (`true`), or gives every account a fresh one (`false`), as the next UTC
    /// day would.
    pub fn set_daily_exhausted(&mut self, exhausted: bool) {
        self.daily_exhausted = exhausted;
        let used = if exhausted { self.limits.daily_max } else { 0 };
        for usage in self.accounts.values_mut() {
            usage.daily_used = used;
        }
    }

    /// Counts one request of `account` arriving at `now` and decides whether it may proceed.
    pub fn check(&mut self, account: &str, is_search: bool, now: Instant) -> Verdict {
        self.check_on(account, is_search, now, Utc::now().date_naive())
    }

    fn check_on(&mut self, account: &str, is_search: bool, now: Instant, today: NaiveDate) -> Verdict {
        let limits = self.limits;
        let usage = self.accounts.entry(account.to_owned()).or_default();
        if usage.day != Some(today) {
            usage.day = Some(today);
            usage.daily_used = 0;
        }
        if self.daily_exhausted {
            usage.daily_used = usage.daily_used.max(limits.daily_max);
        }
        for window in [&mut usage.accepted, &mut usage.received] {
            prune(window, now, TEN_SECONDS);
        }
        for window in [&mut usage.searches, &mut usage.searches_received] {
            prune(window, now, ONE_SECOND);
        }

        if is_search {
            usage.searches_received.push_back(now);
            self.max_search_received_in_1s = self.max_search_received_in_1s.max(usage.searches_received.len() as u64);
        } else {
            usage.received.push_back(now);
            self.max_received_in_10s = self.max_received_in_10s.max(usage.received.len() as u64);
        }

        let headers_now = |usage: &AccountUsage| LimitHeaders {
            daily: limits.daily_max,
            daily_remaining: limits.daily_max.saturating_sub(usage.daily_used),
            interval: (!is_search).then(|| {
                let used = u32::try_from(usage.accepted.len()).unwrap_or(u32::MAX);
                (limits.ten_second_max, limits.ten_second_max.saturating_sub(used))
            }),
        };

        if usage.daily_used >= limits.daily_max {
            let retry_after_secs = seconds_until_utc_midnight();
            return Verdict::Limited { policy: Policy::Daily, retry_after_secs, headers: headers_now(usage) };
        }
        let (window, max, span, policy) = if is_search {
            (&mut usage.searches, limits.search_per_second, ONE_SECOND, Policy::Secondly)
        } else {
            (&mut usage.accepted, limits.ten_second_max, TEN_SECONDS, Policy::TenSecondlyRolling)
        };
        if window.len() >= max as usize {
            let retry_after_secs = window.front().map_or(1, |oldest| {
                let free_at = *oldest + span;
                free_at.saturating_duration_since(now).as_secs_f64().ceil().max(1.0) as u64
            });
            return Verdict::Limited { policy, retry_after_secs, headers: headers_now(usage) };
        }
        window.push_back(now);
        usage.daily_used += 1;
        Verdict::Allowed(headers_now(usage))
    }
}

fn prune(window: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while window.front().is_some_and(|at| now.saturating_duration_since(*at) >= span) {
        window.pop_front();
    }
}

fn seconds_until_utc_midnight() -> u64 {
    let now = Utc::now();
    let midnight = now.date_naive().succ_opt().and_then(|day| day.and_hms_opt(0, 0, 0));
    midnight.map_or(1, |midnight| (midnight - now.naive_utc()).num_seconds().max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ten: u32, daily: u64, search: u32) -> RateLimits {
        RateLimits::new(MockLimits { ten_second_max: ten, daily_max: daily, search_per_second: search })
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date")
    }

    #[test]
    fn the_window_rolls() {
        let mut limits = limits(3, 100, 4);
        let start = Instant::now();
        for i in 0..3 {
            assert!(matches!(limits.check_on("a", false, start + Duration::from_secs(i), day()), Verdict::Allowed(_)));
        }
        let refused = limits.check_on("a", false, start + Duration::from_secs(5), day());
        assert!(
            matches!(refused, Verdict::Limited { policy: Policy::TenSecondlyRolling, retry_after_secs: 5, .. }),
            "{refused:?}"
        );
        // Another account has its own window.
        assert!(matches!(limits.check_on("b", false, start, day()), Verdict::Allowed(_)));
        // Ten seconds after the first request, one slot is free again.
        assert!(matches!(limits.check_on("a", false, start + Duration::from_secs(10), day()), Verdict::Allowed(_)));
        assert_eq!(limits.max_received_in_10s, 4);
    }

    #[test]
    fn search_has_its_own_limit_and_no_interval_headers() {
        let mut limits = limits(1, 100, 2);
        let now = Instant::now();
        let Verdict::Allowed(headers) = limits.check_on("a", true, now, day()) else { panic!("first search refused") };
        assert_eq!(headers.interval, None);
        assert!(matches!(limits.check_on("a", true, now, day()), Verdict::Allowed(_)));
        assert!(matches!(limits.check_on("a", true, now, day()), Verdict::Limited { policy: Policy::Secondly, .. }));
        // Searches did not use the ten-second window.
        assert!(matches!(limits.check_on("a", false, now, day()), Verdict::Allowed(_)));
    }

    #[test]
    fn the_daily_budget_resets_with_the_utc_day() {
        let mut limits = limits(100, 2, 4);
        let now = Instant::now();
        let next_day = day().succ_opt().expect("a next day");
        assert!(matches!(limits.check_on("a", false, now, day()), Verdict::Allowed(_)));
        let Verdict::Allowed(headers) = limits.check_on("a", false, now, day()) else { panic!("refused") };
        assert_eq!(headers.daily_remaining, 0);
        assert!(matches!(limits.check_on("a", false, now, day()), Verdict::Limited { policy: Policy::Daily, .. }));
        assert!(matches!(limits.check_on("a", false, now, next_day), Verdict::Allowed(_)));
    }
}
