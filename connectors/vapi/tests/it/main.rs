//! The Vapi connector's tests, one binary: authentication, parsing, the poller, the config.

mod auth;
mod kind;
mod parse;
mod poll;

use chrono::{DateTime, TimeZone, Utc};
use handoffd_contract::webhook::RawRequest;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("a fixture")
}

/// A fixed "now" for requests (2025-12-02 06:35:00 UTC).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 2, 6, 35, 0).single().expect("a valid time")
}

pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    headers
}

pub fn request<'a>(headers: &'a HeaderMap, body: &'a [u8], at: DateTime<Utc>) -> RawRequest<'a> {
    RawRequest { method: &Method::POST, path: "/webhooks/vapi", query: "", headers, body, received_at: at, peer: None }
}
