//! The `Authorization: Zoho-oauthtoken ...` check, the concurrency cap and the credits of a rolling 24 hours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::{Zoho, error};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Leaves the in-flight count when the call is answered (or dropped).
struct InFlight(Arc<Zoho>, Instant);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.load.answered(self.1);
    }
}

pub(super) async fn auth_and_limits(State(zoho): State<Arc<Zoho>>, request: Request, next: Next) -> Response {
    let now = Instant::now();
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
        .map(str::trim)
        .map(str::to_owned);
    let is_search = request.uri().path().ends_with("/search") || request.uri().path().ends_with("/coql");
    let in_flight = {
        let mut state = zoho.lock();
        state.load.calls += 1;
        if is_search {
            state.load.searches += 1;
        }
        let Some(token) = token else {
            return error(StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE", "Authentication failed", json!({}));
        };
        match state.tokens.get(&token) {
            Some(expires) if *expires > now => {}
            _ => return error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "invalid oauth token", json!({})),
        }
        while state.credits.front().is_some_and(|at| now.duration_since(*at) >= DAY) {
            state.credits.pop_front();
        }
        if state.credits.len() as u64 >= zoho.options.credits_per_day {
            state.load.refused_for_limits += 1;
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "LIMIT_EXCEEDED",
                "the API credits of the organisation are exhausted",
                json!({}),
            );
        }
        if state.in_flight >= zoho.options.concurrency {
            state.load.refused_for_limits += 1;
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "too many concurrent requests",
                json!({}),
            );
        }
        state.credits.push_back(now);
        state.in_flight += 1;
        let since = state.load.admitted();
        InFlight(zoho.clone(), since)
    };
    let response = next.run(request).await;
    drop(in_flight);
    response
}
