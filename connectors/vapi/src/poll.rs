//! The poller: Vapi sends each end-of-call report once and never again, so a report lost to an
//! outage is found here, by listing calls (`GET /call`) created in a window of time.
//!
//! The cursor is an RFC 3339 instant: every call created up to it is recorded (or was not a
//! finished call we could record). A poll lists `createdAtGt=cursor&createdAtLe=upper`; the
//! order of Vapi's list is not documented, so a full page halves the window instead of
//! guessing what was left out. The cursor never passes a call that is still running or ended
//! less than `settle` ago (its report, with the analysis, is still on its way): it stops just
//! before the earliest such call, and the next poll lists it again.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use handoffd_contract::poll::{PollError, PollPage, PollSource};
use serde_json::Value;

use crate::report::from_call;

/// Calls asked for per request (Vapi's default and a safe page).
pub const PAGE_LIMIT: usize = 100;
/// The widest window one request covers; a longer gap takes several polls (`more`).
const MAX_WINDOW: TimeDelta = TimeDelta::hours(6);
/// A window narrower than this is taken as it comes even when full (a burst of 100 calls in a
/// second); the dedup keys absorb the overlap of the next poll.
const MIN_WINDOW: TimeDelta = TimeDelta::seconds(1);

pub struct VapiPoller {
    pub id: String,
    pub base_url: String,
    pub api_key: String,
    pub schedule: String,
    pub look_back: Duration,
    pub settle: Duration,
    pub http: reqwest::Client,
    /// The clock, so tests can pin it.
    pub now: fn() -> DateTime<Utc>,
}

impl std::fmt::Debug for VapiPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapiPoller").field("id", &self.id).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

#[async_trait]
impl PollSource for VapiPoller {
    fn id(&self) -> &str {
        &self.id
    }

    fn schedule(&self) -> &str {
        &self.schedule
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
        let now = (self.now)();
        let from = match cursor {
            None => now - TimeDelta::from_std(self.look_back).unwrap_or(TimeDelta::days(1)),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|e| PollError::InvalidCursor(format!("`{text}` is not an RFC 3339 instant: {e}")))?,
        };
        if from > now {
            return Err(PollError::InvalidCursor(format!("`{}` is in the future", stamp(from))));
        }
        let mut upper = (from + MAX_WINDOW).min(now);
        let calls = loop {
            let calls = self.list(from, upper).await?;
            if calls.len() < PAGE_LIMIT || upper - from <= MIN_WINDOW {
                break calls;
            }
            upper = from + (upper - from) / 2;
        };
        let settled_before = now - TimeDelta::from_std(self.settle).unwrap_or(TimeDelta::minutes(5));
        let mut next = upper;
        let mut interactions = Vec::new();
        for call in &calls {
            let created = instant(call.get("createdAt")).unwrap_or(from);
            let ended = instant(call.get("endedAt"));
            let finished = call.get("status").and_then(Value::as_str) == Some("ended")
                && ended.is_none_or(|ended| ended <= settled_before);
            if !finished {
                // Stop just before it: the next poll lists it again, finished by then.
                next = next.min(created - TimeDelta::milliseconds(1)).max(from);
                continue;
            }
            match from_call(call, now) {
                Ok(interaction) => interactions.push(interaction),
                Err(error) => return Err(PollError::Protocol(format!("a call in `GET /call`: {}", error.0))),
            }
        }
        Ok(PollPage { interactions, next_cursor: Some(stamp(next)), more: upper < now && next == upper })
    }

    /// Calls created after `at`: the cursor is that instant.
    fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
        Some(stamp(at))
    }

    fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(cursor).ok().map(|at| at.with_timezone(&Utc))
    }
}

impl VapiPoller {
    async fn list(&self, from: DateTime<Utc>, upper: DateTime<Utc>) -> Result<Vec<Value>, PollError> {
        let url = format!("{}/call", self.base_url.trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.api_key)
            .query(&[("createdAtGt", stamp(from)), ("createdAtLe", stamp(upper)), ("limit", PAGE_LIMIT.to_string())])
            .send()
            .await
            .map_err(|e| PollError::Unavailable { retry_after: None, message: format!("`GET /call`: {e}") })?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse().ok())
                .map(Duration::from_secs);
            return Err(PollError::Unavailable { retry_after, message: format!("`GET /call` answered {status}") });
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(PollError::Auth(format!("`GET /call` answered {status}: check `api_key`")));
        }
        if status.as_u16() == 400 {
            let body = response.text().await.unwrap_or_default();
            return Err(PollError::InvalidCursor(format!("`GET /call` refused the window: {}", short(&body))));
        }
        if !status.is_success() {
            return Err(PollError::Protocol(format!("`GET /call` answered {status}")));
        }
        let body: Value =
            response.json().await.map_err(|e| PollError::Protocol(format!("`GET /call` did not answer JSON: {e}")))?;
        match body {
            Value::Array(calls) => Ok(calls),
            // Some API versions wrap lists; take the array where it is.
            Value::Object(mut object) => match object.remove("results").or_else(|| object.remove("data")) {
                Some(Value::Array(calls)) => Ok(calls),
                _ => Err(PollError::Protocol("`GET /call` answered an object without a list of calls".to_owned())),
            },
            _ => Err(PollError::Protocol("`GET /call` did not answer a list".to_owned())),
        }
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn instant(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?).ok().map(|at| at.with_timezone(&Utc))
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}
