//! `oauth2`'s HTTP client over our reqwest client (the crate's own reqwest feature pins another reqwest
//! version). 429 and 5xx come back as errors of their own so they are classified as retriable; every other
//! answer goes to `oauth2`, which reads a token or RFC 6749's error from it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest `Retry-After` taken at its word.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub struct TokenHttp {
    http: reqwest::Client,
    timeout: Duration,
}

impl TokenHttp {
    pub fn new(http: reqwest::Client, timeout: Duration) -> Self {
        Self { http, timeout }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("{}", describe(.0))]
    Transport(reqwest::Error),
    #[error("rate limited: {body}")]
    RateLimited { retry_after: Option<Duration>, body: String },
    #[error("server error {status}: {body}")]
    Server { status: u16, body: String },
}

impl<'c> AsyncHttpClient<'c> for TokenHttp {
    type Error = TokenHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TokenHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .timeout(self.timeout)
                .send()
                .await
                .map_err(TokenHttpError::Transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(TokenHttpError::Transport)?.to_vec();
            if status.as_u16() == 429 {
                return Err(TokenHttpError::RateLimited { retry_after: retry_after(&headers), body: excerpt(&body) });
            }
            if status.is_server_error() {
                return Err(TokenHttpError::Server { status: status.as_u16(), body: excerpt(&body) });
            }
            let mut out = http::Response::builder().status(status);
            if let Some(h) = out.headers_mut() {
                *h = headers;
            }
            out.body(body).map_err(|e| TokenHttpError::Server { status: status.as_u16(), body: e.to_string() })
        })
    }
}

/// `Retry-After` in seconds (the only form the CRMs send), capped.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds = value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)?;
    // Capped before converting: from_secs_f64 panics on values a Duration cannot hold.
    Some(Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// A reqwest error with its causes (its own message is often just "error sending request").
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a refusal body says: a JSON `message`, `error_description` or `error` (vendors use each), else the
/// body's start.
pub(crate) fn refusal_text(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |name: &str| fields.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        match (field("error"), field("error_description").or_else(|| field("message"))) {
            (Some(code), Some(text)) => return format!("{code}: {text}"),
            (None, Some(text)) => {
                return field("status").map(|code| format!("{code}: {text}")).unwrap_or_else(|| text.to_owned());
            }
            (Some(code), None) => return code.to_owned(),
            (None, None) => {}
        }
    }
    excerpt(body)
}

fn excerpt(body: &[u8]) -> String {
    let end = body.len().min(300);
    String::from_utf8_lossy(&body[..end]).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_what_the_vendor_said() {
        assert_eq!(refusal_text(br#"{"error":"invalid_code"}"#), "invalid_code");
        assert_eq!(
            refusal_text(br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#),
            "invalid_grant: expired access/refresh token"
        );
        assert_eq!(
            refusal_text(br#"{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}"#),
            "BAD_REFRESH_TOKEN: missing or invalid refresh token"
        );
        assert_eq!(refusal_text(b"<html>bad gateway</html>"), "<html>bad gateway</html>");
    }

    #[test]
    fn retry_after_takes_seconds_only_and_is_capped() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, value.parse().unwrap());
            h
        };
        assert_eq!(retry_after(&headers("1.5")), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&headers("1e300")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }
}
