//! The Bearer check and HubSpot's rate limits, with the `X-HubSpot-RateLimit-*` headers on every answer.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error;
use crate::hubspot::limits::{LimitHeaders, Policy, Verdict};
use crate::state::Shared;

const NO_CREDENTIALS: &str = "Authentication credentials not found. This API supports OAuth 2.0 authentication and \
    you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";

pub(crate) async fn auth_and_limits(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let now = Instant::now();
    let is_search = request.uri().path().ends_with("/search");
    let verdict = {
        let mut guard = shared.lock();
        // A plain reference lets the token lookup and the counters be borrowed apart.
        let state = &mut *guard;
        let account = match bearer(request.headers()) {
            None => None,
            Some(token) => match shared.access_tokens.iter().position(|known| known.0 == token) {
                // The account is the private app, never the token itself, so no token reaches a log or report.
                Some(index) => Some(format!("private-app-{index}")),
                None => match state.issued_tokens.get(token) {
                    Some(issued) if issued.expires_at > now => Some(issued.account.clone()),
                    Some(issued) => {
                        state.counters.unauthorized += 1;
                        let ago = now.duration_since(issued.expires_at).as_secs();
                        return error::error(
                            StatusCode::UNAUTHORIZED,
                            "EXPIRED_AUTHENTICATION",
                            format!("The OAuth token used to make this call expired {ago} second(s) ago."),
                        );
                    }
                    None => None,
                },
            },
        };
        let Some(account) = account else {
            state.counters.unauthorized += 1;
            return error::error(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", NO_CREDENTIALS);
        };
        let verdict = state.limits.check(&account, is_search, now);
        if let Verdict::Limited { policy, .. } = &verdict {
            let limited = &mut state.counters.rate_limited;
            match policy {
                Policy::TenSecondlyRolling => limited.ten_secondly_rolling += 1,
                Policy::Daily => limited.daily += 1,
                Policy::Secondly => limited.secondly += 1,
            }
        }
        verdict
    };
    match verdict {
        Verdict::Limited { policy, retry_after_secs, headers } => {
            let mut response = error::rate_limited(policy);
            add_limit_headers(response.headers_mut(), &headers);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Verdict::Allowed(headers) => {
            let mut response = next.run(request).await;
            add_limit_headers(response.headers_mut(), &headers);
            response
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn add_limit_headers(headers: &mut HeaderMap, limits: &LimitHeaders) {
    for (name, value) in limits.pairs() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
