//! HTTP Basic authentication as the voice vendors' REST APIs take it.

use axum::http::{HeaderMap, header};
use base64::Engine as _;

/// Whether `Authorization: Basic` carries exactly `user:password`.
pub(crate) fn basic_auth_matches(headers: &HeaderMap, user: &str, password: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .is_some_and(|decoded| decoded == format!("{user}:{password}").as_bytes())
}
