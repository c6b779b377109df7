//! How a request proves it comes from Vapi, by the credential the admin configured:
//! - an HMAC plan: the signature header holds `signaturePrefix` + the encoded
//!   HMAC(`secretKey`, payload), where the payload is `{timestamp}.{body}` by default, the raw
//!   body alone when `includeTimestamp` is false, or the plan's `payloadFormat`;
//! - a bearer plan: the header (default `Authorization`) holds `Bearer <token>` or the token;
//! - the legacy `secret`: the `X-Vapi-Secret` header holds it.
//!
//! Every comparison is constant-time. A signed timestamp may be Unix seconds, Unix
//! milliseconds or RFC 3339, and must be within five minutes of our clock either way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use handoffd_contract::webhook::{RawRequest, VerifyError};
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::config::{AuthenticationPlan, BearerPlan, HmacAlgorithm, HmacPlan, SignatureEncoding};

/// The header of the legacy inline server secret.
pub const LEGACY_SECRET_HEADER: &str = "x-vapi-secret";

/// How far a signed timestamp may be from our clock, either way.
pub const TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// What the connector checks, resolved from its config.
#[derive(Clone)]
pub enum Credential {
    Plan(AuthenticationPlan),
    LegacySecret(String),
}

impl Credential {
    pub fn check(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        match self {
            Self::Plan(AuthenticationPlan::Hmac(plan)) => check_hmac(plan, request),
            Self::Plan(AuthenticationPlan::Bearer(plan)) => check_bearer(plan, request),
            Self::LegacySecret(secret) => {
                let value = single_header(request, LEGACY_SECRET_HEADER, "X-Vapi-Secret")?;
                equal(value.as_bytes(), secret.as_bytes())
            }
        }
    }
}

fn check_bearer(plan: &BearerPlan, request: &RawRequest<'_>) -> Result<(), VerifyError> {
    let value = single_header(request, &plan.header_name, "the bearer plan's headerName")?;
    let token = if plan.bearer_prefix_enabled {
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(VerifyError::Malformed("expected `Bearer <token>`".to_owned())),
        }
    } else {
        value
    };
    equal(token.as_bytes(), plan.token.as_bytes())
}

fn check_hmac(plan: &HmacPlan, request: &RawRequest<'_>) -> Result<(), VerifyError> {
    let value = single_header(request, &plan.signature_header, "the HMAC plan's signatureHeader")?;
    let encoded = value
        .strip_prefix(plan.signature_prefix.as_str())
        .ok_or_else(|| VerifyError::Malformed(format!("expected the prefix `{}`", plan.signature_prefix)))?
        .trim();
    let given = match plan.signature_encoding {
        SignatureEncoding::Hex => hex::decode(encoded).map_err(|e| VerifyError::Malformed(format!("not hex: {e}")))?,
        SignatureEncoding::Base64 => {
            BASE64.decode(encoded).map_err(|e| VerifyError::Malformed(format!("not base64: {e}")))?
        }
    };
    let signs_timestamp = match &plan.payload_format {
        Some(format) => format.contains("{timestamp}"),
        None => plan.include_timestamp,
    };
    let timestamp = if signs_timestamp {
        let text = single_header(request, &plan.timestamp_header, "the HMAC plan's timestampHeader")?;
        check_window(text, request.received_at)?;
        Some(text)
    } else {
        None
    };
    let payload = signed_payload(plan, request, timestamp.unwrap_or_default())?;
    let key = secret_key(plan).map_err(|_| VerifyError::Mismatch)?;
    let expected = mac(plan.algorithm, &key, &payload);
    equal(&given, &expected)
}

/// The bytes the HMAC covers, built on the raw body (never a re-serialised one).
fn signed_payload(plan: &HmacPlan, request: &RawRequest<'_>, timestamp: &str) -> Result<Vec<u8>, VerifyError> {
    let Some(format) = &plan.payload_format else {
        return Ok(if plan.include_timestamp {
            [timestamp.as_bytes(), b".", request.body].concat()
        } else {
            request.body.to_vec()
        });
    };
    let message_id = match &plan.message_id_header {
        Some(header) if format.contains("{svix-id}") => single_header(request, header, "messageIdHeader")?,
        _ => "",
    };
    let mut payload = Vec::with_capacity(format.len() + request.body.len());
    let mut rest = format.as_str();
    while let Some(open) = rest.find('{') {
        payload.extend_from_slice(&rest.as_bytes()[..open]);
        let after = &rest[open..];
        let (piece, len): (&[u8], usize) = if after.starts_with("{body}") {
            (request.body, "{body}".len())
        } else if after.starts_with("{timestamp}") {
            (timestamp.as_bytes(), "{timestamp}".len())
        } else if after.starts_with("{method}") {
            (request.method.as_str().as_bytes(), "{method}".len())
        } else if after.starts_with("{svix-id}") {
            (message_id.as_bytes(), "{svix-id}".len())
        } else {
            (b"{", 1)
        };
        payload.extend_from_slice(piece);
        rest = &after[len..];
    }
    payload.extend_from_slice(rest.as_bytes());
    Ok(payload)
}

/// The key bytes: `secretKey` as written, or base64-decoded when `secretIsBase64`.
pub fn secret_key(plan: &HmacPlan) -> Result<Vec<u8>, base64::DecodeError> {
    if plan.secret_is_base64 { BASE64.decode(plan.secret_key.trim()) } else { Ok(plan.secret_key.as_bytes().to_vec()) }
}

/// HMAC of `payload` with the plan's algorithm.
pub fn mac(algorithm: HmacAlgorithm, key: &[u8], payload: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], payload: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length.
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, payload),
        HmacAlgorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, payload),
        HmacAlgorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, payload),
    }
}

/// Sign `body` as Vapi would with `plan` at `timestamp`: the signature header's value. For
/// tests, the mock and the demo.
pub fn sign(plan: &HmacPlan, body: &[u8], timestamp: &str) -> String {
    let payload = if plan.include_timestamp { [timestamp.as_bytes(), b".", body].concat() } else { body.to_vec() };
    let key = secret_key(plan).unwrap_or_default();
    let digest = mac(plan.algorithm, &key, &payload);
    let encoded = match plan.signature_encoding {
        SignatureEncoding::Hex => hex::encode(digest),
        SignatureEncoding::Base64 => BASE64.encode(digest),
    };
    format!("{}{encoded}", plan.signature_prefix)
}

/// A signed timestamp (Unix seconds, Unix milliseconds or RFC 3339) within [`TOLERANCE`].
fn check_window(text: &str, now: DateTime<Utc>) -> Result<(), VerifyError> {
    let at = parse_timestamp(text.trim())
        .ok_or_else(|| VerifyError::Malformed(format!("the timestamp `{text}` is not a Unix time or RFC 3339")))?;
    if (now - at).abs() > TOLERANCE {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = text.parse().ok()?;
        // Seconds stay below 10^11 until the year 5138; milliseconds passed it in 1973.
        return if number >= 100_000_000_000 {
            DateTime::from_timestamp_millis(number)
        } else {
            DateTime::from_timestamp(number, 0)
        };
    }
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// The one value of a header: missing is [`VerifyError::Missing`], repeated or not text is
/// malformed (two signatures cannot both be the one Vapi sent).
fn single_header<'a>(request: &'a RawRequest<'_>, name: &str, what: &'static str) -> Result<&'a str, VerifyError> {
    let mut values = request.headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::Missing(what))?;
    if values.next().is_some() {
        return Err(VerifyError::Malformed(format!("the header `{name}` is repeated")));
    }
    value.to_str().map(str::trim).map_err(|_| VerifyError::Malformed(format!("the header `{name}` is not text")))
}

fn equal(given: &[u8], expected: &[u8]) -> Result<(), VerifyError> {
    if given.ct_eq(expected).into() { Ok(()) } else { Err(VerifyError::Mismatch) }
}
