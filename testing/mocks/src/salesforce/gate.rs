//! The session check and the org's 24-hour allocation, with `Sforce-Limit-Info` on every answer; and the cap on
//! long-running requests in flight (Salesforce: 25 requests that have run 20 s or more, production orgs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error;
use crate::state::Shared;

pub(super) async fn session_and_allocation(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let usage = {
        let mut state = shared.lock();
        let token = bearer(&request);
        let valid = token.and_then(|t| state.salesforce.sessions.get(t)).is_some_and(|session| !session.expired);
        if !valid {
            state.counters.unauthorized += 1;
            return error::invalid_session();
        }
        let org = &mut state.salesforce;
        if org.allocation_spent || org.api_used >= org.options.daily_max {
            let usage = limit_info(org.api_used.max(org.options.daily_max), org.options.daily_max);
            state.counters.rate_limited.daily += 1;
            state.salesforce.load.refused_for_limits += 1;
            let mut response = error::allocation_spent();
            response.headers_mut().insert("sforce-limit-info", usage);
            return response;
        }
        org.api_used += 1;
        limit_info(org.api_used, org.options.daily_max)
    };
    let mut response = next.run(request).await;
    response.headers_mut().insert("sforce-limit-info", usage);
    response
}

/// A request runs "long" once it has been in flight this long.
const LONG_RUNNING: Duration = Duration::from_secs(20);

/// Leaves the in-flight calls when the call is answered or dropped.
struct InFlight {
    shared: Arc<Shared>,
    call: u64,
    since: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let org = &mut state.salesforce;
        org.in_flight_since.remove(&self.call);
        org.load.answered(self.since);
    }
}

/// Outermost on the API routes (the answer time included): counts calls in flight, and refuses a call while the
/// org's cap of long-running requests is in flight, as Salesforce does.
pub(super) async fn concurrency(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let in_flight = {
        let mut state = shared.lock();
        let org = &mut state.salesforce;
        org.load.calls += 1;
        if request.uri().path().ends_with("/query") || request.uri().path().ends_with("/composite") {
            org.load.searches += 1;
        }
        let now = Instant::now();
        let long_running = org.in_flight_since.values().filter(|since| now.duration_since(**since) >= LONG_RUNNING);
        if long_running.count() >= org.options.long_running_max {
            org.load.refused_for_limits += 1;
            return error::concurrent_limit();
        }
        org.next_call += 1;
        let call = org.next_call;
        org.in_flight_since.insert(call, now);
        InFlight { shared: shared.clone(), call, since: org.load.admitted() }
    };
    let response = next.run(request).await;
    drop(in_flight);
    response
}

fn limit_info(used: u64, max: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("api-usage={used}/{max}")).unwrap_or(HeaderValue::from_static("api-usage=0/0"))
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then_some(token.trim())
}
