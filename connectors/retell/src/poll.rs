//! The poller: Retell retries a webhook three times, then gives up; calls whose webhooks never
//! arrived are found here, by listing calls (`POST /v3/list-calls`) by start time, ascending.
//!
//! The cursor is a start time in Unix milliseconds: every call that started up to it is
//! recorded. A poll asks for calls started after it; the cursor moves to the last call listed,
//! but never past a call still running or ended less than `settle` ago (its `call_analyzed`
//! is still on its way): it stops just before the earliest such call.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use handoffd_contract::poll::{PollError, PollPage, PollSource};
use serde_json::{Value, json};

use crate::call::interaction;

/// Calls asked for per request (Retell allows up to 1000).
pub const PAGE_LIMIT: usize = 200;

pub struct RetellPoller {
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

impl std::fmt::Debug for RetellPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetellPoller").field("id", &self.id).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

#[async_trait]
impl PollSource for RetellPoller {
    fn id(&self) -> &str {
        &self.id
    }

    fn schedule(&self) -> &str {
        &self.schedule
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
        let now = (self.now)();
        let from = match cursor {
            None => (now - TimeDelta::from_std(self.look_back).unwrap_or(TimeDelta::days(1))).timestamp_millis(),
            Some(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| PollError::InvalidCursor(format!("`{text}` is not a time in Unix milliseconds")))?,
        };
        if from > now.timestamp_millis() {
            return Err(PollError::InvalidCursor(format!("`{from}` is in the future")));
        }
        let (calls, has_more) = self.list(from).await?;
        let settled_before =
            (now - TimeDelta::from_std(self.settle).unwrap_or(TimeDelta::minutes(5))).timestamp_millis();
        let mut next = from;
        let mut interactions = Vec::new();
        for call in &calls {
            let started = call.get("start_timestamp").and_then(Value::as_i64).unwrap_or(from);
            let ended = call.get("end_timestamp").and_then(Value::as_i64);
            let status = call.get("call_status").and_then(Value::as_str);
            let finished = matches!(status, Some("ended" | "not_connected" | "error"))
                && ended.is_none_or(|ended| ended <= settled_before);
            if !finished {
                // The list is ascending: every call before this one was taken, none after it may be.
                next = (started - 1).max(from);
                break;
            }
            let event =
                if call.get("call_analysis").is_some_and(Value::is_object) { "call_analyzed" } else { "call_ended" };
            let found = interaction(call, event, now)
                .map_err(|e| PollError::Protocol(format!("a call in `list-calls`: {}", e.0)))?;
            interactions.push(found);
            next = next.max(started);
        }
        let all_taken = interactions.len() == calls.len();
        // Calls sharing the last start time may continue on the next page: list them again.
        let next = if all_taken && has_more { (next - 1).max(from) } else { next };
        Ok(PollPage { interactions, next_cursor: Some(next.to_string()), more: all_taken && has_more && next > from })
    }

    /// Calls started after `at`: the cursor is that instant in Unix milliseconds.
    fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
        Some(at.timestamp_millis().to_string())
    }

    fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
        cursor.trim().parse::<i64>().ok().and_then(DateTime::from_timestamp_millis)
    }
}

impl RetellPoller {
    async fn list(&self, after_ms: i64) -> Result<(Vec<Value>, bool), PollError> {
        let url = format!("{}/v3/list-calls", self.base_url.trim_end_matches('/'));
        let body = json!({
            "filter_criteria": {"start_timestamp": {"type": "number", "op": "gt", "value": after_ms}},
            "sort_order": "ascending",
            "limit": PAGE_LIMIT,
        });
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| PollError::Unavailable { retry_after: None, message: format!("`list-calls`: {e}") })?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse().ok())
                .map(Duration::from_secs);
            return Err(PollError::Unavailable { retry_after, message: format!("`list-calls` answered {status}") });
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(PollError::Auth(format!("`list-calls` answered {status}: check `api_key`")));
        }
        if status.as_u16() == 400 || status.as_u16() == 422 {
            return Err(PollError::InvalidCursor(format!("`list-calls` refused the filter ({status})")));
        }
        if !status.is_success() {
            return Err(PollError::Protocol(format!("`list-calls` answered {status}")));
        }
        let body: Value =
            response.json().await.map_err(|e| PollError::Protocol(format!("`list-calls` did not answer JSON: {e}")))?;
        match body {
            Value::Object(mut page) => match page.remove("items") {
                Some(Value::Array(items)) => {
                    let has_more = page.get("has_more").and_then(Value::as_bool).unwrap_or(items.len() >= PAGE_LIMIT);
                    Ok((items, has_more))
                }
                _ => Err(PollError::Protocol("`list-calls` answered an object without `items`".to_owned())),
            },
            // The older list answers a bare array.
            Value::Array(items) => {
                let has_more = items.len() >= PAGE_LIMIT;
                Ok((items, has_more))
            }
            _ => Err(PollError::Protocol("`list-calls` did not answer a list".to_owned())),
        }
    }
}
