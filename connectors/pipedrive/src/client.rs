//! One Pipedrive company over HTTP: the token (`x-api-token`, or OAuth's Bearer), the limits, the budget the
//! answers report, and the classification of every failure. It never retries, except once with a new OAuth token
//! after a 401.
//!
//! Limits: Pipedrive counts requests per token in 2-second windows (searches apart, with their own limit), and a
//! company's daily budget in tokens, each endpoint costing some. Calls are paced one by one under the window's
//! limit (there is no batch endpoint to save them), and the day's tokens are counted here as they are spent: past
//! the budget the connector reports a rate limit until the next UTC day instead of sending calls Pipedrive would
//! refuse.

use std::error::Error as _;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use handoffd_contract::crm::{CrmError, LiveBudget, RateLimitPolicy};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::LimitsConfig;
use handoffd_oauth::SharedToken;

/// Pipedrive's rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(2);
const DEFAULT_REQUESTS: u32 = 20;
const DEFAULT_SEARCH_REQUESTS: u32 = 10;
const DEFAULT_DAILY_TOKENS: u32 = 30_000;

/// What a call costs from the daily budget, by kind (Pipedrive's published costs of v1 endpoints: 2 for one
/// entity, 20 for a list, 40 for a search, 10 for a write; v2 ones cost less, so the count errs on the safe side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// A list.
    List,
    /// A search.
    Search,
    /// Creating or changing one entity.
    Write,
}

impl Cost {
    fn tokens(self) -> u32 {
        match self {
            Self::List => 20,
            Self::Search => 40,
            Self::Write => 10,
        }
    }
}

pub fn policy(config: &LimitsConfig) -> RateLimitPolicy {
    RateLimitPolicy {
        requests: config.requests.unwrap_or(DEFAULT_REQUESTS),
        window: WINDOW,
        daily: Some(config.daily_tokens.unwrap_or(DEFAULT_DAILY_TOKENS)),
        search_requests: Some(config.search_requests.unwrap_or(DEFAULT_SEARCH_REQUESTS)),
        search_window: Some(WINDOW),
        // No batch endpoint: one activity a call.
        max_batch: 1,
        concurrency: None,
    }
}

pub enum Auth {
    ApiToken(String),
    OAuth(Box<SharedToken>),
}

pub struct Api {
    http: reqwest::Client,
    base_url: String,
    auth: Auth,
    calls: DefaultDirectRateLimiter,
    searches: DefaultDirectRateLimiter,
    daily_tokens: u32,
    spent: Mutex<(Option<NaiveDate>, u32)>,
    reported: Mutex<LiveBudget>,
    /// Pipedrive's last answer said the company's day is spent (other apps share the budget, so only Pipedrive
    /// knows), until an answer that is not a 429 says otherwise.
    day_spent_at_pipedrive: AtomicBool,
    timeout: Duration,
}

/// How much later than the calls after it the network (or a loaded machine) may deliver a call to Pipedrive.
///
/// What the margin protects against: Pipedrive counts a call when it arrives, in a rolling 2-second window, and we
/// know only when we send it. Calls spaced `(window + JITTER) / limit` apart put at most `limit` into any
/// `window` unless one of them arrives `JITTER` later than the calls after it. The spacing is taken at the last
/// moment before the request is written (after the token and the daily budget), so what is left is the transit
/// and our runtime's scheduling between the two: on loopback (the mock, on a loaded two-core machine) well under
/// 50 ms; HubSpot's ten-second window is given the same 50 ms. It was 100 ms, which spent 95.2% of the limit at
/// best; this spends 97.6%.
///
/// The calls are spaced evenly, not let go in bursts up to the window's limit (a sliding log): a burst puts 20
/// calls on the wire at once, the last of them arrives later than the first of the next burst by the burst's own
/// spread, and one call in 1,500 was refused that way (a debug build on a loaded machine).
const JITTER: Duration = Duration::from_millis(50);

/// Spaces calls evenly, `limit` per window plus [`JITTER`] (a GCRA quota with no burst).
fn spacing(limit: u32) -> DefaultDirectRateLimiter {
    let period = (WINDOW + JITTER) / limit.max(1);
    RateLimiter::direct(Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)))
}

/// One call.
pub struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    cost: Cost,
    what: &'static str,
}

impl Call {
    pub fn get(path: impl Into<String>, cost: Cost, what: &'static str) -> Self {
        Self { method: Method::GET, path: path.into(), query: Vec::new(), body: None, cost, what }
    }

    pub fn write(
        method: Method,
        path: impl Into<String>,
        body: &impl Serialize,
        what: &'static str,
    ) -> Result<Self, CrmError> {
        let body = serde_json::to_vec(body).map_err(|e| CrmError::Protocol(format!("{what}: encoding: {e}")))?;
        Ok(Self { method, body: Some(body), ..Self::get(path, Cost::Write, what) })
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }
}

/// Pipedrive's envelope: `{"success": true, "data": ..., "additional_data": ...}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub data: Option<T>,
    #[serde(default)]
    pub additional_data: Option<serde_json::Value>,
}

/// Pipedrive's error body: `{"success": false, "error": "...", "error_info": "..."}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    error: String,
    #[serde(default)]
    code: Option<String>,
}

impl Api {
    /// `Err` naming the scopes an OAuth token lacks (an API token has none to check).
    pub async fn check_scopes(&self) -> Result<(), CrmError> {
        match &self.auth {
            Auth::ApiToken(_) => Ok(()),
            Auth::OAuth(oauth) => {
                let granted = oauth.current().await?.scope;
                handoffd_oauth::require_scopes("Pipedrive", granted.as_deref(), &crate::oauth::NEEDED_SCOPES)
            }
        }
    }

    pub fn new(http: reqwest::Client, base_url: String, auth: Auth, limits: &LimitsConfig, timeout: Duration) -> Self {
        Self {
            http,
            base_url,
            auth,
            calls: spacing(limits.requests.unwrap_or(DEFAULT_REQUESTS)),
            searches: spacing(limits.search_requests.unwrap_or(DEFAULT_SEARCH_REQUESTS)),
            daily_tokens: limits.daily_tokens.unwrap_or(DEFAULT_DAILY_TOKENS),
            spent: Mutex::new((None, 0)),
            reported: Mutex::new(LiveBudget::default()),
            day_spent_at_pipedrive: AtomicBool::new(false),
            timeout,
        }
    }

    /// What the last answers said (`x-ratelimit-remaining`, `x-daily-requests-left`), the day's tokens counted
    /// here where Pipedrive did not say.
    pub fn budget(&self) -> LiveBudget {
        let mut budget = self.reported.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if self.day_spent_at_pipedrive.load(Ordering::Relaxed) {
            budget.daily_remaining = Some(0);
        } else if budget.daily_remaining.is_none() {
            let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
            let today = Utc::now().date_naive();
            let used = if spent.0 == Some(today) { spent.1 } else { 0 };
            budget.daily_remaining = Some(self.daily_tokens.saturating_sub(used));
        }
        budget
    }

    /// Sends the call and decodes the 2xx envelope's `data`.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<Envelope<T>, CrmError> {
        let body = self.send(call).await?;
        serde_json::from_slice(&body).map_err(|e| {
            CrmError::Protocol(format!("{}: {e}: {}", call.what, String::from_utf8_lossy(&body[..body.len().min(300)])))
        })
    }

    async fn send(&self, call: &Call) -> Result<Vec<u8>, CrmError> {
        let token = match &self.auth {
            Auth::ApiToken(token) => token.clone(),
            Auth::OAuth(oauth) => oauth.current().await?.access_token,
        };
        let (mut status, mut headers, mut body) = self.attempt(call, &token).await?;
        if status == StatusCode::UNAUTHORIZED
            && let Auth::OAuth(oauth) = &self.auth
        {
            tracing::info!("Pipedrive refused the access token for {}; retrying once with a new one.", call.what);
            let fresh = oauth.replace(&token).await?.access_token;
            (status, headers, body) = self.attempt(call, &fresh).await?;
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            if is_daily_budget_spent(&headers) {
                self.day_spent_at_pipedrive.store(true, Ordering::Relaxed);
            }
        } else {
            self.day_spent_at_pipedrive.store(false, Ordering::Relaxed);
        }
        if status.is_success() { Ok(body) } else { Err(status_error(status, &headers, &body, call.what)) }
    }

    fn spend(&self, cost: Cost) -> Result<(), CrmError> {
        let today = Utc::now().date_naive();
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.0 != Some(today) {
            *spent = (Some(today), 0);
        }
        if spent.1 + cost.tokens() > self.daily_tokens {
            return Err(CrmError::RateLimited {
                retry_after: Some(until_utc_midnight()),
                message: format!("the company's {} API tokens of today (UTC) are spent", self.daily_tokens),
            });
        }
        spent.1 += cost.tokens();
        Ok(())
    }

    async fn attempt(&self, call: &Call, token: &str) -> Result<(StatusCode, HeaderMap, Vec<u8>), CrmError> {
        self.spend(call.cost)?;
        // Pipedrive counts searches apart, in a window of their own: a search waits for that window only. (Charged
        // to both, a backlog of new customers, a search and two writes each, used two thirds of either limit.)
        if call.cost == Cost::Search {
            self.searches.until_ready().await;
        } else {
            self.calls.until_ready().await;
        }
        let url = format!("{}{}", self.base_url, call.path);
        let mut request = self.http.request(call.method.clone(), url).timeout(self.timeout);
        request = match &self.auth {
            Auth::ApiToken(_) => request.header("x-api-token", token),
            Auth::OAuth(_) => request.bearer_auth(token),
        };
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let write = call.method != Method::GET;
        let response = request.send().await.map_err(|e| transport_error(&e, write, call.what))?;
        let status = response.status();
        let headers = response.headers().clone();
        self.record(&headers);
        let body = response.bytes().await.map_err(|e| transport_error(&e, write, call.what))?;
        Ok((status, headers, body.to_vec()))
    }

    fn record(&self, headers: &HeaderMap) {
        let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u32>().ok();
        let mut budget = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(window) = read("x-ratelimit-remaining") {
            budget.window_remaining = Some(window);
        }
        if let Some(daily) = read("x-daily-requests-left") {
            budget.daily_remaining = Some(daily);
        }
    }
}

/// Whether a 429 is the daily budget's, not the 2-second window's: Pipedrive says no requests are left today, or
/// asks for a wait no burst window needs: longer than a minute, or longer than a window and reaching the daily
/// reset at UTC midnight (with OAuth no `x-daily-requests-left` comes, and in the last minute of the day the
/// daily budget's wait is short).
fn is_daily_budget_spent(headers: &HeaderMap) -> bool {
    is_daily_refusal(headers, until_utc_midnight())
}

fn is_daily_refusal(headers: &HeaderMap, to_midnight: Duration) -> bool {
    let left = headers.get("x-daily-requests-left").and_then(|v| v.to_str().ok()?.trim().parse::<u32>().ok());
    left == Some(0)
        || retry_after(headers).is_some_and(|wait| {
            wait > LONGEST_BURST_WAIT || (wait > WINDOW && wait + Duration::from_secs(1) >= to_midnight)
        })
}

/// Longer than any wait the 2-second windows ask for.
const LONGEST_BURST_WAIT: Duration = Duration::from_secs(60);

fn until_utc_midnight() -> Duration {
    let now = Utc::now();
    let midnight = now.date_naive().succ_opt().and_then(|day| day.and_hms_opt(0, 0, 0));
    midnight.map_or(Duration::from_secs(60), |m| (m - now.naive_utc()).to_std().unwrap_or(Duration::from_secs(1)))
}

/// The longest wait taken from an answer: the daily budget's reset.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After`, else `x-ratelimit-reset` (seconds until the window resets).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    [RETRY_AFTER.as_str(), "x-ratelimit-reset"].iter().find_map(|name| {
        let seconds = headers.get(*name)?.to_str().ok()?.trim().parse::<f64>().ok()?;
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
    })
}

fn transport_error(e: &reqwest::Error, write: bool, what: &str) -> CrmError {
    let mut detail = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if e.is_connect() && !e.is_timeout() {
        return CrmError::Unavailable(detail);
    }
    if write { CrmError::OutcomeUnknown(detail) } else { CrmError::Unavailable(detail) }
}

pub fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], what: &str) -> CrmError {
    let message = match serde_json::from_slice::<ApiError>(body) {
        Ok(ApiError { error, code: Some(code) }) => format!("{code}: {error}"),
        Ok(ApiError { error, code: None }) => error,
        Err(_) if body.is_empty() => status.canonical_reason().unwrap_or("no message").to_owned(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned(),
    };
    match status.as_u16() {
        429 => CrmError::RateLimited { retry_after: retry_after(headers), message },
        401 | 403 => CrmError::Auth(format!("{what}: {status}: {message}")),
        400..=499 => CrmError::Rejected { status: status.as_u16(), message },
        _ => CrmError::Unavailable(format!("{what}: {status}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_window_of_pipedrive_sees_more_than_the_limit_even_from_a_late_call() {
        let limiter = spacing(20);
        let clock = governor::clock::FakeRelativeClock::default();
        let quota = Quota::with_period((WINDOW + JITTER) / 20).unwrap();
        let limiter_on_clock = RateLimiter::direct_with_clock(quota, clock.clone());
        // The same quota as the connector's.
        assert!(limiter.check().is_ok() && limiter.check().is_err(), "no burst");
        // Send as fast as the quota lets, for 10 s of a fake clock.
        let mut at = Vec::new();
        let step = Duration::from_millis(1);
        let mut now = Duration::ZERO;
        while now < Duration::from_secs(10) {
            if limiter_on_clock.check().is_ok() {
                at.push(now);
            }
            clock.advance(step);
            now += step;
        }
        // Any call may arrive up to JITTER late and the others at once: still at most 20 in any 2 s.
        for late in 0..at.len() {
            let arrivals: Vec<Duration> =
                at.iter().enumerate().map(|(i, t)| if i == late { *t + JITTER } else { *t }).collect();
            for from in &arrivals {
                let inside = arrivals.iter().filter(|a| **a >= *from && **a < *from + WINDOW).count();
                assert!(inside <= 20, "{inside} calls in the 2 s from {from:?} with call {late} late");
            }
        }
        // And 97.5% of the limit is spent.
        assert!(at.len() * 1000 >= 975 * 10 * 10, "{} calls in 10 s", at.len());
    }

    #[test]
    fn errors_map_to_their_classes_and_waits() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", "2".parse().unwrap());
        let body = br#"{"success":false,"error":"Request over limit","errorCode":429}"#;
        let limited = status_error(StatusCode::TOO_MANY_REQUESTS, &headers, body, "x");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        let refused =
            status_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), br#"{"success":false,"error":"bad"}"#, "x");
        assert!(matches!(refused, CrmError::Rejected { status: 400, ref message } if message == "bad"));
        assert!(matches!(status_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"", "x"), CrmError::Unavailable(_)));
    }

    #[test]
    fn a_429_of_the_day_is_told_from_one_of_the_window() {
        let mut window = HeaderMap::new();
        window.insert("x-ratelimit-reset", "2".parse().unwrap());
        assert!(!is_daily_budget_spent(&window));
        let mut day = HeaderMap::new();
        day.insert(RETRY_AFTER, "36000".parse().unwrap());
        assert!(is_daily_budget_spent(&day));
        window.insert("x-daily-requests-left", "0".parse().unwrap());
        assert!(is_daily_budget_spent(&window));
    }

    #[test]
    fn a_short_wait_to_midnight_is_the_day_s() {
        let mut wait = HeaderMap::new();
        wait.insert(RETRY_AFTER, "30".parse().unwrap());
        assert!(is_daily_refusal(&wait, Duration::from_secs(30)), "the budget's wait in the day's last minute");
        assert!(!is_daily_refusal(&wait, Duration::from_secs(3600)), "a 30 s wait at noon is no daily refusal");
        let mut burst = HeaderMap::new();
        burst.insert(RETRY_AFTER, "2".parse().unwrap());
        assert!(!is_daily_refusal(&burst, Duration::from_secs(2)), "a window's wait that happens to reach midnight");
    }

    #[test]
    fn the_day_s_tokens_stop_calls_until_midnight() {
        let limits = LimitsConfig { daily_tokens: Some(25), ..Default::default() };
        let api = Api::new(reqwest::Client::new(), String::new(), Auth::ApiToken("t".into()), &limits, WINDOW);
        api.spend(Cost::Write).unwrap();
        api.spend(Cost::Write).unwrap();
        assert_eq!(api.budget().daily_remaining, Some(5));
        let refused = api.spend(Cost::Write).unwrap_err();
        assert!(refused.is_retriable() && refused.retry_after().is_some_and(|d| d <= MAX_RETRY_AFTER), "{refused}");
        assert!(api.spend(Cost::List).is_err(), "20 tokens do not fit in 5");
    }
}
