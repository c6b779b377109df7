//! One Zoho organisation over HTTP: the `Zoho-oauthtoken` header, the limits, and the classification of every
//! failure. It never retries, except once with a new token after Zoho refused one.

use std::error::Error as _;
use std::time::Duration;

use handoffd_contract::crm::{CrmError, LiveBudget};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::limits::Limits;
use crate::wire::{ApiError, RecordResults};
use handoffd_oauth::SharedToken;

pub struct Api {
    http: reqwest::Client,
    base_url: String,
    tokens: SharedToken,
    limits: Limits,
    timeout: Duration,
}

/// One call, described so it can be sent again with a new token.
pub struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    /// A POST that only reads (a query): a lost answer hides no change.
    read_only: bool,
    /// What the call does, for messages ("upsert tasks").
    what: &'static str,
}

impl Call {
    pub fn get(path: impl Into<String>, what: &'static str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            read_only: true,
            what,
        }
    }

    pub fn write(
        method: Method,
        path: impl Into<String>,
        body: &impl Serialize,
        what: &'static str,
    ) -> Result<Self, CrmError> {
        let body = serde_json::to_vec(body).map_err(|e| CrmError::Protocol(format!("{what}: encoding: {e}")))?;
        Ok(Self { method, body: Some(body), read_only: false, ..Self::get(path, what) })
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks a POST that changes nothing.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    fn is_write(&self) -> bool {
        !self.read_only
    }
}

impl Api {
    /// The scopes the current token was granted, as the token answer listed them.
    pub async fn granted_scope(&self) -> Result<Option<String>, CrmError> {
        Ok(self.tokens.current().await?.scope)
    }

    pub fn new(
        http: reqwest::Client,
        base_url: String,
        tokens: SharedToken,
        limits: Limits,
        timeout: Duration,
    ) -> Self {
        Self { http, base_url, tokens, limits, timeout }
    }

    pub fn budget(&self) -> LiveBudget {
        self.limits.budget()
    }

    /// A read: the 2xx body as `T`, or `None` for Zoho's 204 (a search or list with no records).
    pub async fn read<T: DeserializeOwned>(&self, call: &Call) -> Result<Option<T>, CrmError> {
        let (status, headers, body) = self.send(call).await?;
        if status == StatusCode::NO_CONTENT || (status.is_success() && body.is_empty()) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(status_error(status, &headers, &body, call.what));
        }
        decode(&body, call.what).map(Some)
    }

    /// A multi-record write: one result per record. Zoho answers per record when it looked at the records,
    /// including with 400 when every record was refused; anything else is the whole call's error.
    pub async fn write(&self, call: &Call, records: usize) -> Result<RecordResults, CrmError> {
        let (status, headers, body) = self.send(call).await?;
        if status.is_success() || status == StatusCode::BAD_REQUEST {
            if let Ok(results) = serde_json::from_slice::<RecordResults>(&body)
                && results.data.len() == records
            {
                return Ok(results);
            }
            if status.is_success() {
                return Err(CrmError::Protocol(format!(
                    "{}: expected {records} record results, got: {}",
                    call.what,
                    excerpt(&body)
                )));
            }
        }
        Err(status_error(status, &headers, &body, call.what))
    }

    async fn send(&self, call: &Call) -> Result<(StatusCode, HeaderMap, Vec<u8>), CrmError> {
        let token = self.tokens.current().await?.access_token;
        let mut answer = self.attempt(call, &token).await?;
        if answer.0 == StatusCode::UNAUTHORIZED && is_token_refusal(&answer.2) {
            tracing::info!("Zoho refused the access token for {}; retrying once with a new one.", call.what);
            let fresh = self.tokens.replace(&token).await?.access_token;
            answer = self.attempt(call, &fresh).await?;
        }
        // Other integrations of the organisation spend the same credits: only Zoho knows they are gone, and only
        // its next answer says they are back.
        if answer.0 == StatusCode::TOO_MANY_REQUESTS && is_credits_spent(&answer.2) {
            self.limits.credits_spent_at_zoho(true);
        } else if answer.0 != StatusCode::TOO_MANY_REQUESTS {
            self.limits.credits_spent_at_zoho(false);
        }
        Ok(answer)
    }

    async fn attempt(&self, call: &Call, token: &str) -> Result<(StatusCode, HeaderMap, Vec<u8>), CrmError> {
        // Every call in v8's records and users APIs costs one credit.
        let _in_flight = self.limits.admit(1).await?;
        let url = format!("{}{}", self.base_url, call.path);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, format!("Zoho-oauthtoken {token}"))
            .timeout(self.timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response = request.send().await.map_err(|e| transport_error(&e, call.is_write(), call.what))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| transport_error(&e, call.is_write(), call.what))?;
        Ok((status, headers, body.to_vec()))
    }
}

/// Whether a 429 says the organisation's credits are spent (not the concurrency cap, `TOO_MANY_REQUESTS`).
fn is_credits_spent(body: &[u8]) -> bool {
    serde_json::from_slice::<ApiError>(body).is_ok_and(|e| e.code == "LIMIT_EXCEEDED")
}

/// How long to wait when Zoho says the credits are spent without saying until when: its window is a rolling
/// 24 hours, so some of them come back at any moment, and one probing call in this time costs little.
const CREDITS_PROBE: Duration = Duration::from_secs(10 * 60);

/// Whether a 401 is about the access token (expired or revoked), which a new one cures; a missing scope is not.
fn is_token_refusal(body: &[u8]) -> bool {
    serde_json::from_slice::<ApiError>(body)
        .map_or(true, |e| matches!(e.code.as_str(), "INVALID_TOKEN" | "AUTHENTICATION_FAILURE"))
}

pub fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, CrmError> {
    serde_json::from_slice(body).map_err(|e| CrmError::Protocol(format!("{what}: {e}: {}", excerpt(body))))
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned()
}

/// The longest wait taken from `Retry-After`: the credits window.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

fn transport_error(e: &reqwest::Error, write: bool, what: &str) -> CrmError {
    let mut detail = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if e.is_connect() && !e.is_timeout() {
        return CrmError::Unavailable(detail);
    }
    // The request went out: a write may have been applied.
    if write { CrmError::OutcomeUnknown(detail) } else { CrmError::Unavailable(detail) }
}

/// A whole call refused: Zoho's `{"code","details","message","status":"error"}`, or anything else it sent.
pub fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], what: &str) -> CrmError {
    let message = match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => error.describe(),
        Err(_) if body.is_empty() => status.canonical_reason().unwrap_or("no message").to_owned(),
        Err(_) => excerpt(body),
    };
    match status.as_u16() {
        429 => {
            let fallback = is_credits_spent(body).then_some(CREDITS_PROBE);
            CrmError::RateLimited { retry_after: retry_after(headers).or(fallback), message }
        }
        401 | 403 => CrmError::Auth(format!("{what}: {status}: {message}")),
        400..=499 => CrmError::Rejected { status: status.as_u16(), message },
        _ => CrmError::Unavailable(format!("{what}: {status}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_call_errors_map_to_their_classes() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let limited = br#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}"#;
        let error = status_error(StatusCode::TOO_MANY_REQUESTS, &headers, limited, "x");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        let scope = br#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#;
        let error = status_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), scope, "list users");
        assert!(matches!(&error, CrmError::Auth(m) if m.contains("OAUTH_SCOPE_MISMATCH")), "{error}");
        assert!(!is_token_refusal(scope), "a missing scope is not cured by a new token");
        assert!(is_token_refusal(
            br#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#
        ));
        let invalid =
            br#"{"code":"INVALID_DATA","details":{"api_name":"Owner"},"message":"invalid data","status":"error"}"#;
        let error = status_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), invalid, "x");
        assert!(matches!(&error, CrmError::Rejected { status: 400, message } if message.contains("Owner")), "{error}");
        let spent = br#"{"code":"LIMIT_EXCEEDED","details":{},"message":"credits exhausted","status":"error"}"#;
        let error = status_error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), spent, "x");
        assert!(matches!(error, CrmError::RateLimited { .. }), "{error}");
        assert_eq!(error.retry_after(), Some(CREDITS_PROBE), "spent credits come with a time to wait");
        let error = status_error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), limited, "x");
        assert_eq!(error.retry_after(), None, "the concurrency cap says no time");
        let error = status_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>", "x");
        assert!(matches!(error, CrmError::Unavailable(_)));
    }
}
