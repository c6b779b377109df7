//! The token, the 2-second windows, the daily token budget and the `x-ratelimit-*` headers; and OAuth's token
//! endpoint (the app's credentials in HTTP Basic, the refresh token in the form).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::{Pipedrive, error};

const WINDOW: Duration = Duration::from_secs(2);

/// The day's tokens a call costs (Pipedrive's published v1 costs: a search 40, a list 20, one entity 2, a write 10).
fn cost(method: &str, path: &str) -> u64 {
    if path.ends_with("/search") {
        40
    } else if method != "GET" {
        10
    } else if path.split('/').next_back().is_some_and(|last| last.chars().all(|c| c.is_ascii_digit())) {
        2
    } else {
        20
    }
}

pub(super) async fn auth_and_limits(State(pipedrive): State<Arc<Pipedrive>>, request: Request, next: Next) -> Response {
    let now = Instant::now();
    let options = &pipedrive.options;
    let headers = request.headers();
    let api_token = headers.get("x-api-token").and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| {
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "api_token")
            .map(|(_, v)| v.into_owned())
    });
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let is_search = request.uri().path().ends_with("/search");
    let cost = cost(request.method().as_str(), request.uri().path());
    let admitted = {
        let mut guard = pipedrive.lock();
        // A plain reference lets the two windows be borrowed apart.
        let state = &mut *guard;
        state.load.calls += 1;
        if is_search {
            state.load.searches += 1;
        }
        let authorised = match (&api_token, &bearer) {
            (Some(token), _) => *token == options.api_token,
            (None, Some(token)) => state.tokens.get(token).is_some_and(|expires| *expires > now),
            (None, None) => false,
        };
        if !authorised {
            return error(StatusCode::UNAUTHORIZED, "unauthorized access");
        }
        let today = Utc::now().date_naive();
        if state.day != Some(today) {
            state.day = Some(today);
            state.tokens_spent = 0;
        }
        for window in [&mut state.window, &mut state.search_window] {
            while window.front().is_some_and(|at| now.duration_since(*at) >= WINDOW) {
                window.pop_front();
            }
        }
        let (window_len, window_max) = if is_search {
            (state.search_window.len(), options.searches_per_window)
        } else {
            (state.window.len(), options.requests_per_window)
        };
        if state.tokens_spent + cost > options.daily_tokens {
            state.load.refused_for_limits += 1;
            let mut refused = limited("Daily token budget exhausted", seconds_until_midnight());
            if api_token.is_some() {
                set(refused.headers_mut(), "x-daily-requests-left", options.daily_tokens - state.tokens_spent);
            }
            return refused;
        }
        if window_len >= window_max {
            state.load.refused_for_limits += 1;
            return limited("Request over limit", 1);
        }
        if is_search {
            state.search_window.push_back(now);
        } else {
            state.window.push_back(now);
            state.load.max_in_window = state.load.max_in_window.max(state.window.len());
        }
        let since = state.load.admitted();
        state.tokens_spent += cost;
        let remaining = window_max - window_len - 1;
        (window_max, remaining, options.daily_tokens - state.tokens_spent, since)
    };
    let (limit, remaining, daily_left, since) = admitted;
    let response = next.run(request).await;
    pipedrive.lock().load.answered(since);
    let mut response = response;
    let headers = response.headers_mut();
    set(headers, "x-ratelimit-limit", limit as u64);
    set(headers, "x-ratelimit-remaining", remaining as u64);
    set(headers, "x-ratelimit-reset", 2);
    if api_token.is_some() {
        set(headers, "x-daily-requests-left", daily_left);
    }
    response
}

fn set(headers: &mut HeaderMap, name: &'static str, value: u64) {
    headers.insert(name, HeaderValue::from(value));
}

fn limited(message: &str, retry_after: u64) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, message);
    set(response.headers_mut(), "retry-after", retry_after);
    set(response.headers_mut(), "x-ratelimit-reset", retry_after);
    response
}

fn seconds_until_midnight() -> u64 {
    let now = Utc::now();
    let midnight = now.date_naive().succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0));
    midnight.map_or(1, |m| (m - now.naive_utc()).num_seconds().max(1) as u64)
}

/// `POST /oauth/token`, refresh_token grant; refresh tokens rotate.
pub(super) async fn token(State(pipedrive): State<Arc<Pipedrive>>, headers: HeaderMap, body: Bytes) -> Response {
    let options = &pipedrive.options;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let expected = format!("{}:{}", options.client_id, options.client_secret);
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| decode_base64(v.trim()));
    let refused = |error: &str, description: &str| {
        (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": description}))).into_response()
    };
    if basic.as_deref() != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Invalid client credentials"})),
        )
            .into_response();
    }
    if field("grant_type") != Some("refresh_token") {
        return refused("unsupported_grant_type", "Only refresh_token is supported by the mock");
    }
    if field("refresh_token") != Some(options.refresh_token.as_str()) {
        return refused("invalid_grant", "Invalid refresh token");
    }
    let access_token = format!("{}:{}", options.users.first().map_or(0, |u| u.id), uuid::Uuid::new_v4().simple());
    {
        let mut state = pipedrive.lock();
        state.tokens.insert(access_token.clone(), Instant::now() + Duration::from_secs(options.token_lifetime_secs));
        state.tokens_issued += 1;
    }
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "refresh_token": options.refresh_token,
        "scope": options.scope,
        "expires_in": options.token_lifetime_secs,
        "api_domain": "https://mock.pipedrive.com",
    }))
    .into_response()
}

/// The Basic credentials, decoded.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(text).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").as_deref(), Some("user:pass"));
        assert_eq!(decode_base64("YTpi").as_deref(), Some("a:b"));
        assert_eq!(decode_base64("YQ==").as_deref(), Some("a"));
    }

    #[test]
    fn costs_follow_the_published_table() {
        assert_eq!(cost("GET", "/v1/persons/search"), 40);
        assert_eq!(cost("POST", "/api/v2/activities"), 10);
        assert_eq!(cost("GET", "/api/v2/activities"), 20);
        assert_eq!(cost("GET", "/v1/persons/17"), 2);
    }
}
