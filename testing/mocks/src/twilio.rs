//! Twilio's Calls API, `GET /2010-04-01/Accounts/{AccountSid}/Calls.json`, as the poller reads it:
//! HTTP Basic authentication with the account SID and Auth Token, the `EndTime>` filter (a date,
//! `YYYY-MM-DD`, as Twilio takes it), `PageSize`, newest call first, and `next_page_uri` with a
//! `PageToken`. Times are RFC 2822, as Twilio writes them. Faults: the next N answers can be
//! forced to a status (429, 500, 401).
//!
//! A server of its own (not part of [`crate::MockCrm`]), started per test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::basic_auth::basic_auth_matches;

/// One call record the mock holds.
#[derive(Debug, Clone)]
pub struct MockTwilioCall {
    pub sid: String,
    /// `queued`, `ringing`, `in-progress`, `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    pub status: String,
    pub from: String,
    pub to: String,
    /// `inbound`, `outbound-api`, `outbound-dial`.
    pub direction: String,
    pub start_time: DateTime<Utc>,
    /// `None` while the call runs.
    pub end_time: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
}

#[derive(Debug, Default)]
struct TwilioState {
    calls: Vec<MockTwilioCall>,
    forced: Vec<u16>,
    requests: usize,
}

#[derive(Clone)]
struct Shared {
    account_sid: String,
    auth_token: String,
    state: Arc<Mutex<TwilioState>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, TwilioState> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running mock of the Calls API.
#[derive(Debug)]
pub struct TwilioCallsMock {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<TwilioState>>,
    stop: CancellationToken,
}

impl TwilioCallsMock {
    /// Serve on a free loopback port.
    pub async fn start(account_sid: &str, auth_token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(TwilioState::default()));
        let shared =
            Shared { account_sid: account_sid.to_owned(), auth_token: auth_token.to_owned(), state: state.clone() };
        let router = Router::new().route("/2010-04-01/Accounts/{sid}/Calls.json", get(list)).with_state(shared);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            // The mock's own server: an accept error ends it, which the test then notices.
            let _ = axum::serve(listener, router).with_graceful_shutdown(stopped.cancelled_owned()).await;
        });
        Ok(Self { addr, state, stop })
    }

    /// The REST API host, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Add (or replace, by SID) a call record.
    pub fn put(&self, call: MockTwilioCall) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.calls.retain(|c| c.sid != call.sid);
        state.calls.push(call);
    }

    /// The next answers are these statuses (with Twilio's error body), in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).forced.extend_from_slice(statuses);
    }

    /// How many requests reached the mock.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).requests
    }
}

impl Drop for TwilioCallsMock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16()});
    (status, axum::Json(body)).into_response()
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
        let mut response = twilio_error(status, 20_500, "Injected fault");
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        return response;
    }
    if sid != shared.account_sid || !basic_auth_matches(&headers, &shared.account_sid, &shared.auth_token) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20_003, "Authenticate");
    }
    let ended_on_or_after = match query.get("EndTime>").map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")) {
        None => None,
        Some(Ok(date)) => Some(date),
        Some(Err(_)) => return twilio_error(StatusCode::BAD_REQUEST, 20_001, "Invalid EndTime>"),
    };
    let page_size: usize = query.get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let offset: usize = match query.get("PageToken").map(|t| t.strip_prefix("PA").and_then(|n| n.parse().ok())) {
        None => 0,
        Some(Some(offset)) => offset,
        Some(None) => return twilio_error(StatusCode::NOT_FOUND, 20_404, "The requested resource was not found"),
    };
    let mut matching: Vec<&MockTwilioCall> = state
        .calls
        .iter()
        .filter(|c| match ended_on_or_after {
            None => true,
            Some(date) => c.end_time.is_some_and(|end| end.date_naive() >= date),
        })
        .collect();
    // Twilio lists the newest call first.
    matching.sort_by(|a, b| b.start_time.cmp(&a.start_time).then_with(|| b.sid.cmp(&a.sid)));
    let page: Vec<Value> = matching.iter().skip(offset).take(page_size).map(|c| call_json(&sid, c)).collect();
    let base = format!("/2010-04-01/Accounts/{sid}/Calls.json?PageSize={page_size}");
    let filter = ended_on_or_after.map(|d| format!("&EndTime%3E={d}")).unwrap_or_default();
    let next = (offset + page_size < matching.len())
        .then(|| format!("{base}{filter}&Page={}&PageToken=PA{}", offset / page_size + 1, offset + page_size));
    axum::Json(json!({
        "calls": page,
        "first_page_uri": format!("{base}{filter}&Page=0"),
        "next_page_uri": next,
        "previous_page_uri": null,
        "page": offset / page_size,
        "page_size": page_size,
        "start": offset,
        "end": offset + page_size,
        "uri": format!("{base}{filter}"),
    }))
    .into_response()
}

fn call_json(account_sid: &str, call: &MockTwilioCall) -> Value {
    let duration = call.end_time.map(|end| (end - call.start_time).num_seconds().max(0).to_string());
    json!({
        "sid": call.sid,
        "account_sid": account_sid,
        "status": call.status,
        "from": call.from,
        "to": call.to,
        "direction": call.direction,
        "start_time": call.start_time.to_rfc2822(),
        "end_time": call.end_time.map(|t| t.to_rfc2822()),
        "date_created": call.start_time.to_rfc2822(),
        "duration": if call.status == "completed" { duration } else { None },
        "answered_by": call.answered_by,
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{account_sid}/Calls/{}.json", call.sid),
        "subresource_uris": {
            "recordings": format!("/2010-04-01/Accounts/{account_sid}/Calls/{}/Recordings.json", call.sid),
            "transcriptions": format!("/2010-04-01/Accounts/{account_sid}/Calls/{}/Transcriptions.json", call.sid),
        },
    })
}
