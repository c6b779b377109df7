//! The session check and the org's 24-hour allocation, with `Sforce-Limit-Info` on every answer.

use std::sync::Arc;

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

fn limit_info(used: u64, max: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("api-usage={used}/{max}")).unwrap_or(HeaderValue::from_static("api-usage=0/0"))
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then_some(token.trim())
}
