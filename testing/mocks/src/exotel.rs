//! Exotel's bulk Call Details API, `GET /v1/Accounts/{sid}/Calls.json`, as the poller reads it:
//! HTTP Basic authentication with the API key and token, the `DateCreated=gte:...;lte:...`
//! filter (times `YYYY-MM-DD HH:mm:ss` in the account's zone, `+05:30` here, at most a month
//! apart), `SortBy=DateCreated:asc`, `PageSize` (at most 100), and `Metadata.NextPageUri`.
//! Faults: the next N answers can be forced to a status.
//!
//! A server of its own (not part of [`crate::MockCrm`]), started per test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::basic_auth::basic_auth_matches;

/// The zone the mock writes and reads times in (an Indian account's).
pub fn exotel_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("+05:30 is a valid offset")
}

/// One call record the mock holds.
#[derive(Debug, Clone)]
pub struct MockExotelCall {
    pub sid: String,
    /// `queued`, `in-progress`, `completed`, `failed`, `busy`, `no-answer`.
    pub status: String,
    pub from: String,
    pub to: String,
    /// `inbound`, `outbound-api`, `outbound-dial`.
    pub direction: String,
    pub date_created: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub recording_url: Option<String>,
}

#[derive(Debug, Default)]
struct ExotelState {
    calls: Vec<MockExotelCall>,
    forced: Vec<u16>,
    requests: usize,
}

#[derive(Clone)]
struct Shared {
    account_sid: String,
    api_key: String,
    api_token: String,
    state: Arc<Mutex<ExotelState>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ExotelState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running mock of the Call Details API.
#[derive(Debug)]
pub struct ExotelCallsMock {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<ExotelState>>,
    stop: CancellationToken,
}

impl ExotelCallsMock {
    /// Serve on a free loopback port.
    pub async fn start(account_sid: &str, api_key: &str, api_token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(ExotelState::default()));
        let shared = Shared {
            account_sid: account_sid.to_owned(),
            api_key: api_key.to_owned(),
            api_token: api_token.to_owned(),
            state: state.clone(),
        };
        let router = Router::new().route("/v1/Accounts/{sid}/Calls.json", get(list)).with_state(shared);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(stopped.cancelled_owned()).await;
        });
        Ok(Self { addr, state, stop })
    }

    /// The API host, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Add (or replace, by SID) a call record.
    pub fn put(&self, call: MockExotelCall) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.calls.retain(|c| c.sid != call.sid);
        state.calls.push(call);
    }

    /// The next answers are these statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).forced.extend_from_slice(statuses);
    }

    /// How many requests reached the mock.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).requests
    }
}

impl Drop for ExotelCallsMock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn exotel_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"RestException": {"Status": status.as_u16(), "Message": message}});
    (status, axum::Json(body)).into_response()
}

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&exotel_offset()).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn parse_local(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    exotel_offset().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// The lower and upper bounds of a `DateCreated` filter, each optional.
type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `gte:2026-01-01 00:00:00;lte:2026-01-31 23:59:59` -> the bounds.
fn date_range(text: &str) -> Option<Bounds> {
    let (mut gte, mut lte) = (None, None);
    for part in text.split(';') {
        match part.split_once(':') {
            Some(("gte", at)) => gte = Some(parse_local(at)?),
            Some(("lte", at)) => lte = Some(parse_local(at)?),
            _ => return None,
        }
    }
    Some((gte, lte))
}

async fn list(
    State(shared): State<Shared>,
    Path(sid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = shared.lock();
    state.requests += 1;
    if !state.forced.is_empty() {
        let status = StatusCode::from_u16(state.forced.remove(0)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return exotel_error(status, "Injected fault");
    }
    if sid != shared.account_sid || !basic_auth_matches(&headers, &shared.api_key, &shared.api_token) {
        return exotel_error(StatusCode::UNAUTHORIZED, "Authentication is required to view this resource.");
    }
    let (gte, lte) = match query.get("DateCreated").map(|r| date_range(r)) {
        None => (None, None),
        Some(Some(range)) => range,
        Some(None) => return exotel_error(StatusCode::BAD_REQUEST, "Invalid DateCreated filter"),
    };
    if let (Some(gte), Some(lte)) = (gte, lte)
        && lte - gte > chrono::Duration::days(31)
    {
        return exotel_error(StatusCode::BAD_REQUEST, "DateCreated range is longer than a month");
    }
    let page_size: usize = query.get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return exotel_error(StatusCode::BAD_REQUEST, "PageSize must be between 1 and 100");
    }
    let offset: usize = match query.get("After").map(|t| t.strip_prefix("cur").and_then(|n| n.parse().ok())) {
        None => 0,
        Some(Some(offset)) => offset,
        Some(None) => return exotel_error(StatusCode::BAD_REQUEST, "Invalid page cursor"),
    };
    let mut matching: Vec<&MockExotelCall> = state
        .calls
        .iter()
        .filter(|c| gte.is_none_or(|g| c.date_created >= g) && lte.is_none_or(|l| c.date_created <= l))
        .collect();
    matching.sort_by(|a, b| a.date_created.cmp(&b.date_created).then_with(|| a.sid.cmp(&b.sid)));
    let page: Vec<Value> = matching.iter().skip(offset).take(page_size).map(|c| call_json(&sid, c)).collect();
    let filter = query.get("DateCreated").map(|r| format!("&DateCreated={}", urlencode(r))).unwrap_or_default();
    let base = format!("/v1/Accounts/{sid}/Calls.json?PageSize={page_size}&SortBy=DateCreated%3Aasc{filter}");
    let next = (offset + page_size < matching.len()).then(|| format!("{base}&After=cur{}", offset + page_size));
    axum::Json(json!({
        "Metadata": {
            "Total": matching.len(),
            "PageSize": page_size,
            "FirstPageUri": base,
            "PrevPageUri": null,
            "NextPageUri": next,
        },
        "Calls": page,
    }))
    .into_response()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn call_json(account_sid: &str, call: &MockExotelCall) -> Value {
    json!({
        "Sid": call.sid,
        "ParentCallSid": null,
        "DateCreated": local(call.date_created),
        "DateUpdated": local(call.end_time.unwrap_or(call.date_created)),
        "AccountSid": account_sid,
        "To": call.to,
        "From": call.from,
        "PhoneNumberSid": "08039591234",
        "Status": call.status,
        "StartTime": local(call.date_created),
        "EndTime": call.end_time.map(local),
        "Duration": call.end_time.map(|end| (end - call.date_created).num_seconds().max(0)),
        "Price": "1.500",
        "Direction": call.direction,
        "AnsweredBy": "human",
        "ForwardedFrom": "",
        "CallerName": "",
        "Uri": format!("/v1/Accounts/{account_sid}/Calls/{}.json", call.sid),
        "RecordingUrl": call.recording_url,
    })
}
