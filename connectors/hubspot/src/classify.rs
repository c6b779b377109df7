//! HubSpot's answers and transport failures, classified into the contract's `CrmError`.

use std::error::Error as _;
use std::time::Duration;

use handoffd_contract::crm::CrmError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::wire::ApiError;

/// Whether a lost answer may hide an applied change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Reading (GET, search, batch/read): safe to send again.
    Read,
    /// Creating or changing something.
    Write,
}

/// The longest wait taken from `Retry-After`. HubSpot's longest limit, the daily one, resets
/// within a day; anything longer is a broken answer, and would overflow the deliverer's clock.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` in seconds (HubSpot and the mock send whole seconds; fractions are accepted).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds = value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)?;
    // Capped before converting: from_secs_f64 panics on values a Duration cannot hold.
    Some(Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// A reqwest error with its causes (its own message is often just "error sending request").
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A call that got no HTTP answer.
pub fn transport_error(e: &reqwest::Error, effect: Effect, what: &str) -> CrmError {
    let detail = format!("{what}: {}", describe(e));
    if e.is_connect() && !e.is_timeout() {
        // Nothing reached HubSpot.
        return CrmError::Unavailable(detail);
    }
    match effect {
        // A timeout or a dropped connection after the request went out: it may have been applied.
        Effect::Write => CrmError::OutcomeUnknown(detail),
        Effect::Read => CrmError::Unavailable(detail),
    }
}

/// A non-2xx answer.
pub fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], what: &str) -> CrmError {
    let parsed = serde_json::from_slice::<ApiError>(body).ok();
    let message = match &parsed {
        Some(e) if !e.message.is_empty() => e.message.clone(),
        _ => String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned(),
    };
    let message =
        if message.is_empty() { status.canonical_reason().unwrap_or("no message").to_owned() } else { message };
    if let Some(e) = &parsed {
        let category = e.category.as_deref().unwrap_or("-");
        let correlation_id = e.correlation_id.as_deref().unwrap_or("-");
        tracing::debug!(
            "HubSpot answered {status} ({category}) to {what}, correlation id `{correlation_id}`: {message}"
        );
    }
    match status.as_u16() {
        429 => CrmError::RateLimited { retry_after: retry_after(headers), message },
        401 | 403 => CrmError::Auth(format!("{what}: {status}: {message}")),
        400..=499 => CrmError::Rejected { status: status.as_u16(), message },
        _ => CrmError::Unavailable(format!("{what}: {status}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(r) = retry {
            h.insert(RETRY_AFTER, r.parse().unwrap());
        }
        h
    }

    #[test]
    fn statuses_map_to_their_classes() {
        let body = br#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c0ffee00-0000-4000-8000-000000000001","policyName":"TEN_SECONDLY_ROLLING"}"#;
        match status_error(StatusCode::TOO_MANY_REQUESTS, &headers(Some("2")), body, "x") {
            CrmError::RateLimited { retry_after, message } => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
                assert_eq!(message, "You have reached your ten_secondly_rolling limit.");
            }
            other => panic!("{other:?}"),
        }
        let rejected = status_error(StatusCode::CONFLICT, &headers(None), br#"{"message":"dup"}"#, "x");
        assert!(matches!(rejected, CrmError::Rejected { status: 409, ref message } if message == "dup"));
        assert!(matches!(status_error(StatusCode::FORBIDDEN, &headers(None), b"", "x"), CrmError::Auth(_)));
        assert!(matches!(
            status_error(StatusCode::BAD_GATEWAY, &headers(None), b"<html>", "x"),
            CrmError::Unavailable(_)
        ));
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        assert_eq!(retry_after(&headers(Some("1.5"))), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&headers(Some("Wed, 21 Oct 2015 07:28:00 GMT"))), None);
        assert_eq!(retry_after(&headers(None)), None);
    }

    // Found by the hubspot_responses fuzz target: Duration::from_secs_f64 panicked on a finite
    // value too large for a Duration.
    #[test]
    fn a_huge_retry_after_is_capped_not_a_panic() {
        for value in ["400000000000000000000", "1e300", "86401"] {
            assert_eq!(retry_after(&headers(Some(value))), Some(MAX_RETRY_AFTER), "{value}");
        }
        assert_eq!(retry_after(&headers(Some("inf"))), None);
        let limited = status_error(StatusCode::TOO_MANY_REQUESTS, &headers(Some("1e300")), b"{}", "x");
        assert_eq!(limited.retry_after(), Some(MAX_RETRY_AFTER));
    }
}
