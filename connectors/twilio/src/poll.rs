//! The Calls API as a poll source: finished calls that a lost status callback never brought.
//!
//! `GET /2010-04-01/Accounts/{AccountSid}/Calls.json?EndTime>=YYYY-MM-DD&PageSize=N`, then
//! `next_page_uri` until there is none. Each finished call becomes the interaction its final
//! status callback would have (`CallSid:CallStatus` dedup key), so a call seen by both is
//! stored once. The cursor (JSON, opaque to the host) holds the end time it reads from, the
//! page being read, and the newest end time seen on this pass: a pass's pages share one
//! `EndTime` filter, and the next pass starts from the newest end time, less an overlap for
//! calls whose record appears late.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::interaction::{Call, Channel, Content, Interaction};
use handoffd_contract::poll::{PollError, PollPage, PollSettings, PollSource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::parse::{direction_and_customer, is_terminal, outcome, parse_time, phone_key};

/// Calls whose record shows up this long after their end are still found.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Calls that ended at or after this instant (less [`OVERLAP`]) are read.
    ended_after: DateTime<Utc>,
    /// The next page of the current pass (a `next_page_uri`), if it has more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_page: Option<String>,
    /// The newest end time seen so far in this pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<DateTime<Utc>>,
}

/// A page of `Calls.json` (the fields the poller reads).
#[derive(Deserialize)]
struct CallsPage {
    #[serde(default)]
    calls: Vec<ApiCall>,
    #[serde(default)]
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
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
    duration: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    answered_by: Option<String>,
    #[serde(default)]
    caller_name: Option<String>,
    #[serde(default)]
    subresource_uris: Option<Map<String, Value>>,
}

/// The Calls API of one account.
pub struct TwilioCalls {
    id: String,
    base_url: String,
    account_sid: String,
    auth_token: String,
    page_size: u32,
    settings: PollSettings,
    http: reqwest::Client,
}

impl std::fmt::Debug for TwilioCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioCalls").field("id", &self.id).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl TwilioCalls {
    /// The poller of a block with `poll` (and so `account_sid`, which validation requires).
    pub fn new(config: &crate::TwilioConfig, settings: &PollSettings, http: reqwest::Client) -> Result<Self, String> {
        let account_sid = config.account_sid.clone().ok_or("`poll` needs `account_sid`")?;
        Ok(Self {
            id: config.id.clone(),
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            account_sid,
            auth_token: config.auth_token.clone(),
            page_size: config.poll_page_size,
            settings: settings.clone(),
            http,
        })
    }

    fn start(&self) -> Cursor {
        let look_back = chrono::Duration::from_std(self.settings.look_back()).unwrap_or(chrono::Duration::days(1));
        Cursor { ended_after: Utc::now() - look_back, ..Cursor::default() }
    }

    /// Calls that ended after this are left to their status callback for now.
    fn settled_before(&self) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::from_std(self.settings.settle()).unwrap_or(chrono::Duration::minutes(5))
    }

    fn url(&self, cursor: &Cursor) -> String {
        match &cursor.next_page {
            // Twilio's page URIs are paths with their query (`/2010-04-01/Accounts/...&PageToken=...`).
            Some(page) if page.starts_with('/') => format!("{}{page}", self.base_url),
            Some(page) => page.clone(),
            None => {
                // The filter takes a date: the page is then trimmed to `ended_after` here.
                let since = (cursor.ended_after - OVERLAP).format("%Y-%m-%d");
                format!(
                    "{}/2010-04-01/Accounts/{}/Calls.json?EndTime%3E={since}&PageSize={}",
                    self.base_url, self.account_sid, self.page_size
                )
            }
        }
    }

    fn interaction(&self, call: &ApiCall) -> Option<(Interaction, DateTime<Utc>)> {
        if !is_terminal(&call.status) {
            return None;
        }
        let ended =
            call.end_time.as_deref().and_then(parse_time).or(call.start_time.as_deref().and_then(parse_time))?;
        let (direction, customer) =
            direction_and_customer(call.direction.as_deref(), call.from.as_deref(), call.to.as_deref());
        let answered_by = call.answered_by.as_deref().filter(|a| !a.is_empty());
        let mut analysis = Map::new();
        if let Some(by) = answered_by {
            analysis.insert("answered_by".into(), Value::String(by.to_owned()));
        }
        if let Some(recordings) =
            call.subresource_uris.as_ref().and_then(|u| u.get("recordings")).and_then(Value::as_str)
        {
            // A reference to the call's recordings list; nothing is downloaded.
            analysis.insert("recordings_uri".into(), Value::String(format!("{}{recordings}", self.base_url)));
        }
        let interaction = Interaction {
            dedup_key: format!("{}:{}", call.sid, call.status),
            channel: Channel::Voice,
            direction,
            at: ended,
            keys: phone_key(customer).into_iter().collect(),
            display_name: call.caller_name.clone().filter(|n| !n.is_empty()),
            content: Content::Call(Call {
                call_id: call.sid.clone(),
                duration_secs: call.duration.as_deref().and_then(|d| d.parse().ok()),
                analysis: if analysis.is_empty() { Value::Null } else { Value::Object(analysis) },
                ended_reason: Some(
                    answered_by.map_or_else(|| call.status.clone(), |by| format!("{} ({by})", call.status)),
                ),
                outcome: outcome(&call.status, answered_by),
                ..Call::default()
            }),
        };
        Some((interaction, ended))
    }
}

#[async_trait]
impl PollSource for TwilioCalls {
    fn id(&self) -> &str {
        &self.id
    }

    fn schedule(&self) -> &str {
        &self.settings.schedule
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
        let cursor = match cursor {
            None => self.start(),
            Some(text) => serde_json::from_str::<Cursor>(text)
                .map_err(|e| PollError::InvalidCursor(format!("not a Twilio poll cursor: {e}")))?,
        };
        let response = self
            .http
            .get(self.url(&cursor))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(|e| PollError::Unavailable { retry_after: None, message: format!("the Calls API: {e}") })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let message = format!("the Calls API answered {status}: {}", text.chars().take(300).collect::<String>());
            return Err(match status.as_u16() {
                401 | 403 => PollError::Auth(message),
                429 | 500.. => PollError::Unavailable { retry_after, message },
                // A page token the API no longer knows: start the pass over.
                400 | 404 if cursor.next_page.is_some() => PollError::InvalidCursor(message),
                _ => PollError::Protocol(message),
            });
        }
        let page: CallsPage = response
            .json()
            .await
            .map_err(|e| PollError::Protocol(format!("the Calls API's page is not what Twilio documents: {e}")))?;
        let floor = cursor.ended_after - OVERLAP;
        let settled = self.settled_before();
        let mut newest = cursor.newest;
        let mut interactions = Vec::new();
        for call in &page.calls {
            if let Some((interaction, ended)) = self.interaction(call) {
                // Too old for this pass, or so recent that its callback may still come: the
                // cursor does not pass it, so a later pass reads it.
                if ended < floor || ended > settled {
                    continue;
                }
                newest = Some(newest.map_or(ended, |n| n.max(ended)));
                interactions.push(interaction);
            }
        }
        let more = page.next_page_uri.as_deref().is_some_and(|uri| !uri.is_empty());
        let next = if more {
            Cursor { ended_after: cursor.ended_after, next_page: page.next_page_uri.clone(), newest }
        } else {
            Cursor {
                ended_after: newest.map_or(cursor.ended_after, |n| n.max(cursor.ended_after)),
                ..Cursor::default()
            }
        };
        let next_cursor = serde_json::to_string(&next).map_err(|e| PollError::Protocol(e.to_string()))?;
        Ok(PollPage { interactions, next_cursor: Some(next_cursor), more })
    }

    /// A pass over the calls that ended since `at`.
    fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
        serde_json::to_string(&Cursor { ended_after: at, ..Cursor::default() }).ok()
    }

    /// Known between passes only: the pages of one pass are in Twilio's order, not by end time.
    fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
        serde_json::from_str::<Cursor>(cursor).ok().filter(|c| c.next_page.is_none()).map(|c| c.ended_after)
    }
}
