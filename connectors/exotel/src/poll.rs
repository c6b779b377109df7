//! The Call Details API as a poll source: Exotel says its StatusCallback "may be delayed or
//! fail", so finished calls are also read from
//! `GET /v1/Accounts/{sid}/Calls.json?DateCreated=gte:...;lte:...&SortBy=DateCreated:asc`.
//!
//! The cursor (JSON, opaque to the host) holds the creation time a pass reads from, the next
//! page of the pass (`Metadata.NextPageUri`), the newest creation time of a finished call seen,
//! and the oldest creation time of a call still running. The next pass starts at the older of
//! the last two, less an overlap, so a call that was running during one pass is read again
//! once it has ended. Each call becomes the interaction a StatusCallback would have made
//! (`CallSid:status`), so both are stored once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use handoffd_contract::interaction::{Call, Channel, Content, Interaction};
use handoffd_contract::poll::{PollError, PollPage, PollSettings, PollSource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::parse::{direction_and_customer, final_status, outcome, parse_time, phone_key};

/// Records whose details settle late ("~5 mins on average", Exotel says) are read again.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(15);
/// A call still running after this long is a stale record, not a call.
const STALE_RUNNING: chrono::Duration = chrono::Duration::hours(6);
/// The API's longest `DateCreated` range.
const MAX_RANGE: chrono::Duration = chrono::Duration::days(30);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    created_after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest_finished: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oldest_running: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct CallsPage {
    #[serde(rename = "Metadata", default)]
    metadata: Option<Metadata>,
    #[serde(rename = "Calls", default)]
    calls: Vec<ApiCall>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "NextPageUri", default)]
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiCall {
    sid: String,
    status: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    duration: Option<Value>,
    #[serde(default)]
    recording_url: Option<String>,
    #[serde(default)]
    answered_by: Option<String>,
}

/// The Call Details API of one account.
pub struct ExotelCalls {
    id: String,
    base_url: String,
    account_sid: String,
    api_key: String,
    api_token: String,
    page_size: u32,
    settings: PollSettings,
    offset: FixedOffset,
    http: reqwest::Client,
}

impl std::fmt::Debug for ExotelCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExotelCalls").field("id", &self.id).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl ExotelCalls {
    /// The poller of a block with `poll` (and so the API credentials, which validation requires).
    pub fn new(
        config: &crate::ExotelConfig,
        settings: &PollSettings,
        offset: FixedOffset,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let required = |value: &Option<String>, key: &str| value.clone().ok_or(format!("`poll` needs `{key}`"));
        Ok(Self {
            id: config.id.clone(),
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            account_sid: required(&config.account_sid, "account_sid")?,
            api_key: required(&config.api_key, "api_key")?,
            api_token: required(&config.api_token, "api_token")?,
            page_size: config.poll_page_size,
            settings: settings.clone(),
            offset,
            http,
        })
    }

    fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.offset).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    fn url(&self, cursor: &Cursor, now: DateTime<Utc>) -> String {
        if let Some(page) = &cursor.next_page {
            return if page.starts_with('/') { format!("{}{page}", self.base_url) } else { page.clone() };
        }
        let from = (cursor.created_after - OVERLAP).max(now - MAX_RANGE);
        let range = format!("gte:{};lte:{}", self.local(from), self.local(now));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("DateCreated", &range)
            .append_pair("SortBy", "DateCreated:asc")
            .append_pair("PageSize", &self.page_size.to_string())
            .finish();
        format!("{}/v1/Accounts/{}/Calls.json?{query}", self.base_url, self.account_sid)
    }

    fn interaction(&self, call: &ApiCall, status: &str) -> Interaction {
        let (direction, customer) =
            direction_and_customer(call.direction.as_deref(), call.from.as_deref(), call.to.as_deref());
        let answered_by = call.answered_by.as_deref().filter(|a| !a.is_empty());
        let mut analysis = Map::new();
        if let Some(by) = answered_by {
            analysis.insert("answered_by".into(), Value::String(by.to_owned()));
        }
        let duration = match &call.duration {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let at = call
            .end_time
            .as_deref()
            .or(call.date_created.as_deref())
            .and_then(|t| parse_time(t, self.offset))
            .unwrap_or_else(Utc::now);
        Interaction {
            dedup_key: format!("{}:{status}", call.sid),
            channel: Channel::Voice,
            direction,
            at,
            keys: phone_key(customer).into_iter().collect(),
            display_name: None,
            content: Content::Call(Call {
                call_id: call.sid.clone(),
                duration_secs: duration,
                recording_url: call.recording_url.clone().filter(|u| !u.is_empty()),
                analysis: if analysis.is_empty() { Value::Null } else { Value::Object(analysis) },
                ended_reason: Some(call.status.clone()),
                outcome: outcome(status, answered_by),
                ..Call::default()
            }),
        }
    }
}

#[async_trait]
impl PollSource for ExotelCalls {
    fn id(&self) -> &str {
        &self.id
    }

    fn schedule(&self) -> &str {
        &self.settings.schedule
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
        let now = Utc::now();
        let cursor = match cursor {
            None => {
                let lookback =
                    chrono::Duration::from_std(self.settings.look_back()).unwrap_or(MAX_RANGE).min(MAX_RANGE);
                Cursor { created_after: now - lookback, ..Cursor::default() }
            }
            Some(text) => serde_json::from_str::<Cursor>(text)
                .map_err(|e| PollError::InvalidCursor(format!("not an Exotel poll cursor: {e}")))?,
        };
        let response = self
            .http
            .get(self.url(&cursor, now))
            .basic_auth(&self.api_key, Some(&self.api_token))
            .send()
            .await
            .map_err(|e| PollError::Unavailable { retry_after: None, message: format!("the Call Details API: {e}") })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let message =
                format!("the Call Details API answered {status}: {}", text.chars().take(300).collect::<String>());
            return Err(match status.as_u16() {
                401 | 403 => PollError::Auth(message),
                429 | 500.. => PollError::Unavailable { retry_after, message },
                400 | 404 if cursor.next_page.is_some() => PollError::InvalidCursor(message),
                _ => PollError::Protocol(message),
            });
        }
        let page: CallsPage = response.json().await.map_err(|e| {
            PollError::Protocol(format!("the Call Details API's page is not what Exotel documents: {e}"))
        })?;
        let mut next = cursor.clone();
        let mut interactions = Vec::new();
        let settle = chrono::Duration::from_std(self.settings.settle()).unwrap_or(chrono::Duration::minutes(5));
        for call in &page.calls {
            let created = call.date_created.as_deref().and_then(|t| parse_time(t, self.offset));
            let ended = call.end_time.as_deref().and_then(|t| parse_time(t, self.offset));
            // A call that ended within `settle` is left to its StatusCallback for now: like a
            // running call, it holds the cursor so a later pass reads it.
            let settled = ended.is_none_or(|end| now - end >= settle);
            match final_status(&call.status).filter(|_| settled) {
                Some(status) => {
                    interactions.push(self.interaction(call, &status));
                    if let Some(created) = created {
                        next.newest_finished = Some(next.newest_finished.map_or(created, |n| n.max(created)));
                    }
                }
                None => {
                    // A record still "running" after hours is stale: it must not hold the cursor.
                    if let Some(created) = created.filter(|c| now - *c < STALE_RUNNING) {
                        next.oldest_running = Some(next.oldest_running.map_or(created, |o| o.min(created)));
                    }
                }
            }
        }
        let next_page = page.metadata.and_then(|m| m.next_page_uri).filter(|uri| !uri.is_empty());
        let more = next_page.is_some();
        let next = if more {
            Cursor { next_page, ..next }
        } else {
            // A running call holds the cursor at its creation (it is a real, fixed time, so the
            // cursor does not drift back); otherwise the newest finished call moves it on.
            let reached = match (next.newest_finished, next.oldest_running) {
                (Some(newest), Some(running)) => newest.min(running),
                (None, Some(running)) => running,
                (Some(newest), None) => newest.max(cursor.created_after),
                (None, None) => cursor.created_after,
            };
            Cursor { created_after: reached, ..Cursor::default() }
        };
        let next_cursor = serde_json::to_string(&next).map_err(|e| PollError::Protocol(e.to_string()))?;
        Ok(PollPage { interactions, next_cursor: Some(next_cursor), more })
    }

    /// A pass over the calls created since `at` (the Call Details API reaches back 30 days at most).
    fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
        serde_json::to_string(&Cursor { created_after: at.max(Utc::now() - MAX_RANGE), ..Cursor::default() }).ok()
    }

    /// Known between passes only (a pass's pages share one range).
    fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
        serde_json::from_str::<Cursor>(cursor).ok().filter(|c| c.next_page.is_none()).map(|c| c.created_after)
    }
}
