//! `x-retell-signature: v=<unix ms>,d=<hex>`: HMAC-SHA256, keyed with the API key, over the raw
//! body followed by the timestamp's decimal digits (no separator). A timestamp more than five
//! minutes from our clock, either way, is refused; exactly five minutes is accepted. The edge
//! rules follow Retell's own SDK verifier (the first `v=..,d=..` match, an exact lowercase
//! digest), so what the SDK accepts we accept, and nothing else.

use chrono::{DateTime, Utc};
use handoffd_contract::webhook::{RawRequest, VerifyError};
use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use sha2::Sha256;
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

/// The header Retell signs webhooks in.
pub const SIGNATURE_HEADER: &str = "x-retell-signature";
/// How far the signed timestamp may be from our clock, either way, in milliseconds.
pub const TOLERANCE_MS: u64 = 5 * 60 * 1000;

type HmacSha256 = Hmac<Sha256>;

fn mac(api_key: &str, body: &[u8], timestamp_ms: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(api_key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    mac
}

/// The header value Retell would send for `body` at `timestamp_ms` (for tests and mocks).
pub fn sign(api_key: &str, body: &[u8], timestamp_ms: i64) -> String {
    format!("v={timestamp_ms},d={}", hex::encode(mac(api_key, body, timestamp_ms).finalize().into_bytes()))
}

/// Check the request's `x-retell-signature` against its raw body, as Retell's SDK verifies it:
/// the first `v=<digits>,d=<rest>` in the header; the timestamp read as a number (so leading
/// zeros are not signed); the digest compared, in constant time, with the lowercase hex of the
/// HMAC, exactly (an uppercase digest is refused, as the SDK refuses it).
pub fn verify(api_key: &str, request: &RawRequest<'_>) -> Result<(), VerifyError> {
    let mut values = request.headers.get_all(SIGNATURE_HEADER).iter();
    let header = values.next().ok_or(VerifyError::Missing(SIGNATURE_HEADER))?;
    if values.next().is_some() {
        return Err(VerifyError::Malformed(format!("`{SIGNATURE_HEADER}` is repeated")));
    }
    let text = header.to_str().map_err(|_| VerifyError::Malformed("the header is not text".to_owned()))?;
    let (timestamp_ms, digest) = parse_header(text)?;
    check_window(timestamp_ms, request.received_at)?;
    let expected = hex::encode(mac(api_key, request.body, timestamp_ms).finalize().into_bytes());
    if expected.as_bytes().ct_eq(digest.as_bytes()).into() { Ok(()) } else { Err(VerifyError::Mismatch) }
}

/// The first `v=<digits>,d=<rest of the header>`: the timestamp in milliseconds and the digest text.
fn parse_header(text: &str) -> Result<(i64, &str), VerifyError> {
    let captures = header_pattern()
        .captures(text)
        .ok_or_else(|| VerifyError::Malformed("expected `v=<unix ms>,d=<hex>`".to_owned()))?;
    let timestamp_ms: i64 =
        captures[1].parse().map_err(|_| VerifyError::Malformed("the timestamp `v` is out of range".to_owned()))?;
    let digest = captures.get(2).map_or("", |m| m.as_str());
    Ok((timestamp_ms, digest))
}

fn header_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"v=([0-9]+),d=(.*)").expect("a valid pattern"))
}

fn check_window(timestamp_ms: i64, now: DateTime<Utc>) -> Result<(), VerifyError> {
    if now.timestamp_millis().abs_diff(timestamp_ms) > TOLERANCE_MS { Err(VerifyError::Stale) } else { Ok(()) }
}
