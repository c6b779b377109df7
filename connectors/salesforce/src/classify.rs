//! Salesforce's answers and transport failures, classified into the contract's `CrmError`.

use std::error::Error as _;
use std::time::Duration;

use handoffd_contract::crm::CrmError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::wire::{SaveError, api_errors};

/// Whether a lost answer may hide an applied change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
}

/// How long to wait after Salesforce said the org's 24-hour allocation is spent. The allocation rolls, so it
/// comes back gradually: a look every ten minutes costs nothing (a refused call is not counted) and resumes
/// soon after it does.
pub const SPENT_BUDGET_PAUSE: Duration = Duration::from_secs(10 * 60);

/// How long to wait when too many long-running calls are in flight, unless Salesforce says.
const CONCURRENCY_PAUSE: Duration = Duration::from_secs(5);

/// The longest `Retry-After` taken: a day. Anything longer is a broken answer.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Per-record and per-call error codes that say "not now" rather than "never".
const RETRIABLE_CODES: &[&str] = &[
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "REQUEST_RUNNING_TOO_LONG",
    "QUERY_TIMEOUT",
    "REQUEST_LIMIT_EXCEEDED",
];

/// Whether an error body says the org's 24-hour allocation is spent (`TotalRequests Limit exceeded.`); the
/// other `REQUEST_LIMIT_EXCEEDED` refusals (concurrent long-running requests) clear in seconds.
pub fn allocation_spent(body: &[u8]) -> bool {
    api_errors(body).iter().any(|e| e.error_code == "REQUEST_LIMIT_EXCEEDED" && e.message.contains("TotalRequests"))
}

/// `Retry-After` in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds = value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)?;
    Some(Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// A reqwest error with its causes.
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
        return CrmError::Unavailable(detail);
    }
    match effect {
        Effect::Write => CrmError::OutcomeUnknown(detail),
        Effect::Read => CrmError::Unavailable(detail),
    }
}

/// A non-2xx answer: its error array's codes and messages, classified.
pub fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], what: &str) -> CrmError {
    let errors = api_errors(body);
    let codes: Vec<&str> = errors.iter().map(|e| e.error_code.as_str()).collect();
    let message = if errors.is_empty() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned();
        if text.is_empty() { status.canonical_reason().unwrap_or("no message").to_owned() } else { text }
    } else {
        errors.iter().map(|e| format!("{}: {}", e.error_code, e.message)).collect::<Vec<_>>().join("; ")
    };
    if codes.contains(&"REQUEST_LIMIT_EXCEEDED") {
        let wait =
            if allocation_spent(body) { SPENT_BUDGET_PAUSE } else { retry_after(headers).unwrap_or(CONCURRENCY_PAUSE) };
        return CrmError::RateLimited { retry_after: Some(wait), message: format!("{what}: {message}") };
    }
    match status.as_u16() {
        429 => CrmError::RateLimited { retry_after: retry_after(headers), message: format!("{what}: {message}") },
        401 => CrmError::Auth(format!("{what}: {status}: {message}")),
        403 if codes.iter().any(|c| RETRIABLE_CODES.contains(c)) => {
            CrmError::Unavailable(format!("{what}: {status}: {message}"))
        }
        403 => CrmError::Auth(format!("{what}: {status}: {message}")),
        400..=499 => CrmError::Rejected { status: status.as_u16(), message: format!("{what}: {message}") },
        _ => CrmError::Unavailable(format!("{what}: {status}: {message}")),
    }
}

/// One record's failure in a collections answer: `Ok(message)` when it is refused for good, `Err` when the call
/// should be made again later (the whole call: with upserts and updates by id, the records already saved are
/// only saved once more).
pub fn record_error(errors: &[SaveError]) -> Result<String, CrmError> {
    let message = if errors.is_empty() {
        "Salesforce did not save the record and gave no reason".to_owned()
    } else {
        errors
            .iter()
            .map(|e| {
                let fields = if e.fields.is_empty() { String::new() } else { format!(" ({})", e.fields.join(", ")) };
                format!("{}: {}{fields}", e.status_code, e.message)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if errors.iter().any(|e| RETRIABLE_CODES.contains(&e.status_code.as_str())) {
        return Err(CrmError::Unavailable(format!("a record was not saved for now: {message}")));
    }
    Ok(message)
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
    fn error_arrays_map_to_their_classes() {
        let classify = |status: u16, body: &str| {
            status_error(StatusCode::from_u16(status).unwrap(), &headers(None), body.as_bytes(), "x")
        };
        let body = r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(allocation_spent(body.as_bytes()));
        let spent = classify(403, body);
        assert_eq!(spent.retry_after(), Some(SPENT_BUDGET_PAUSE), "{spent:?}");
        let concurrent = classify(
            403,
            r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        );
        assert_eq!(concurrent.retry_after(), Some(CONCURRENCY_PAUSE));
        assert!(matches!(concurrent, CrmError::RateLimited { .. }));
        let session = classify(401, r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#);
        assert!(matches!(session, CrmError::Auth(ref m) if m.contains("INVALID_SESSION_ID")), "{session:?}");
        let malformed = classify(400, r#"[{"message":"unexpected token: OR","errorCode":"MALFORMED_QUERY"}]"#);
        assert!(
            matches!(malformed, CrmError::Rejected { status: 400, ref message } if message.contains("MALFORMED_QUERY"))
        );
        assert!(matches!(classify(403, r#"[{"message":"no","errorCode":"API_DISABLED_FOR_ORG"}]"#), CrmError::Auth(_)));
        assert!(matches!(classify(503, "<html>down</html>"), CrmError::Unavailable(_)));
        let limited = status_error(StatusCode::TOO_MANY_REQUESTS, &headers(Some("2")), b"[]", "x");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn record_errors_are_permanent_unless_their_code_says_later() {
        let error =
            |code: &str| SaveError { status_code: code.into(), message: "m".into(), fields: vec!["OwnerId".into()] };
        assert_eq!(
            record_error(&[error("FIELD_INTEGRITY_EXCEPTION")]).unwrap(),
            "FIELD_INTEGRITY_EXCEPTION: m (OwnerId)"
        );
        assert!(matches!(record_error(&[error("UNABLE_TO_LOCK_ROW")]), Err(CrmError::Unavailable(_))));
    }
}
