//! The two signature schemes: Standard Webhooks and a configurable HMAC.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use handoffd_contract::webhook::{RawRequest, VerifyError};
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::config::{DigestEncoding, HmacAlgorithm};

pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// A checked signature scheme, its secrets decoded.
pub enum Scheme {
    StandardWebhooks { key: Vec<u8>, tolerance: Duration },
    Hmac(HmacScheme),
}

pub struct HmacScheme {
    pub header: String,
    pub algorithm: HmacAlgorithm,
    pub encoding: DigestEncoding,
    pub secret: Vec<u8>,
    pub signed: String,
    pub prefix: Option<String>,
    pub timestamp_header: Option<String>,
    pub id_header: Option<String>,
    pub tolerance: Duration,
}

/// The key of a `whsec_...` secret (the prefix is optional, as in the reference libraries).
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim());
    BASE64.decode(encoded).map_err(|e| format!("the secret after `whsec_` is not base64: {e}"))
}

/// `v1,<base64>` of a Standard Webhooks message.
pub fn standard_webhooks_sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn header<'a>(request: &'a RawRequest<'_>, name: &str) -> Result<Option<&'a str>, VerifyError> {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| VerifyError::Malformed(format!("the `{name}` header is not ASCII"))))
        .transpose()
}

fn required<'a>(request: &'a RawRequest<'_>, name: &'static str) -> Result<&'a str, VerifyError> {
    let value = header(request, name)?.map(str::trim).filter(|v| !v.is_empty()).ok_or(VerifyError::Missing(name))?;
    // A repeated id or timestamp that disagrees with itself names no one message.
    let disagrees = request.headers.get_all(name).iter().any(|other| other.to_str().map(str::trim).ok() != Some(value));
    if disagrees {
        return Err(VerifyError::Malformed(format!("`{name}` is repeated with different values")));
    }
    Ok(value)
}

/// Every signature of every `webhook-signature` line (a repeated line adds to the list).
fn signature_list<'a>(request: &'a RawRequest<'_>) -> Result<Vec<&'a str>, VerifyError> {
    let mut signatures = Vec::new();
    for line in request.headers.get_all(WEBHOOK_SIGNATURE) {
        let line = line
            .to_str()
            .map_err(|_| VerifyError::Malformed(format!("the `{WEBHOOK_SIGNATURE}` header is not ASCII")))?;
        signatures.extend(line.split(' ').map(str::trim).filter(|s| !s.is_empty()));
    }
    if signatures.is_empty() {
        return Err(VerifyError::Missing(WEBHOOK_SIGNATURE));
    }
    Ok(signatures)
}

/// A timestamp within `tolerance` of `now`, either way (exactly `tolerance` away is accepted).
fn check_window(timestamp: DateTime<Utc>, now: DateTime<Utc>, tolerance: Duration) -> Result<(), VerifyError> {
    let tolerance = chrono::Duration::from_std(tolerance).unwrap_or(chrono::Duration::MAX);
    if (now - timestamp).abs() > tolerance { Err(VerifyError::Stale) } else { Ok(()) }
}

fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

impl Scheme {
    /// Headers parsing may need (never a signature).
    pub fn kept_headers(&self) -> &'static [&'static str] {
        match self {
            Self::StandardWebhooks { .. } => &["content-type", WEBHOOK_ID, WEBHOOK_TIMESTAMP],
            Self::Hmac(_) => &["content-type"],
        }
    }

    pub fn verify(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        match self {
            Self::StandardWebhooks { key, tolerance } => {
                let id = required(request, WEBHOOK_ID)?;
                let timestamp = required(request, WEBHOOK_TIMESTAMP)?;
                let signatures = signature_list(request)?;
                // Integer seconds only, as the specification writes it.
                let seconds: i64 = timestamp
                    .parse()
                    .map_err(|_| VerifyError::Malformed(format!("`{WEBHOOK_TIMESTAMP}` is not integer seconds")))?;
                let at = DateTime::from_timestamp(seconds, 0)
                    .ok_or_else(|| VerifyError::Malformed(format!("`{WEBHOOK_TIMESTAMP}` is out of range")))?;
                check_window(at, request.received_at, *tolerance)?;
                let expected = standard_webhooks_sign(key, id, seconds, request.body);
                let expected = expected.as_bytes();
                let matched = signatures
                    .iter()
                    .filter(|candidate| candidate.starts_with("v1,"))
                    .any(|candidate| eq(candidate.as_bytes(), expected));
                if matched { Ok(()) } else { Err(VerifyError::Mismatch) }
            }
            Self::Hmac(scheme) => scheme.verify(request),
        }
    }
}

impl HmacScheme {
    fn verify(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        let value = header(request, &self.header)?
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| VerifyError::Missing(self.header_name()))?;
        let timestamp = match &self.timestamp_header {
            Some(name) => {
                let text = header(request, name)?
                    .map(str::trim)
                    .ok_or_else(|| VerifyError::Malformed(format!("the timestamp header `{name}` is missing")))?;
                let number: i64 = text
                    .parse()
                    .map_err(|_| VerifyError::Malformed(format!("the timestamp header `{name}` is not an integer")))?;
                // Milliseconds have 13 digits today; seconds 10.
                let at = if number.abs() >= 100_000_000_000 {
                    DateTime::from_timestamp_millis(number)
                } else {
                    DateTime::from_timestamp(number, 0)
                }
                .ok_or_else(|| VerifyError::Malformed(format!("the timestamp header `{name}` is out of range")))?;
                check_window(at, request.received_at, self.tolerance)?;
                Some(text)
            }
            None => None,
        };
        let id = match &self.id_header {
            Some(name) => Some(
                header(request, name)?
                    .map(str::trim)
                    .ok_or_else(|| VerifyError::Malformed(format!("the id header `{name}` is missing")))?,
            ),
            None => None,
        };
        let signed = self.signed_bytes(request.body, timestamp, id);
        let digest = self.digest(&signed);
        let candidates: Vec<&str> = value.split([' ', ',']).filter(|c| !c.is_empty()).collect();
        let matched = candidates.iter().any(|candidate| {
            let candidate = match &self.prefix {
                Some(prefix) => match candidate.strip_prefix(prefix.as_str()) {
                    Some(rest) => rest,
                    None => return false,
                },
                None => candidate,
            };
            let decoded = match self.encoding {
                DigestEncoding::Hex => hex::decode(candidate).ok(),
                DigestEncoding::Base64 => BASE64.decode(candidate).ok(),
            };
            decoded.is_some_and(|decoded| eq(&decoded, &digest))
        });
        if matched { Ok(()) } else { Err(VerifyError::Mismatch) }
    }

    fn header_name(&self) -> &'static str {
        // `VerifyError::Missing` names a static header; configured names are not, so the
        // generic name is given and the log carries the connector id.
        "the configured signature header"
    }

    /// The template with `{body}`, `{timestamp}` and `{id}` filled in (the body as raw bytes).
    pub fn signed_bytes(&self, body: &[u8], timestamp: Option<&str>, id: Option<&str>) -> Vec<u8> {
        let mut signed = Vec::with_capacity(body.len() + 64);
        let mut rest = self.signed.as_str();
        while let Some(start) = rest.find('{') {
            signed.extend_from_slice(&rest.as_bytes()[..start]);
            let after = &rest[start..];
            let (piece, len): (&[u8], usize) = if after.starts_with("{body}") {
                (body, 6)
            } else if after.starts_with("{timestamp}") {
                (timestamp.unwrap_or_default().as_bytes(), 11)
            } else if after.starts_with("{id}") {
                (id.unwrap_or_default().as_bytes(), 4)
            } else {
                (b"{", 1)
            };
            signed.extend_from_slice(piece);
            rest = &after[len..];
        }
        signed.extend_from_slice(rest.as_bytes());
        signed
    }

    pub fn digest(&self, signed: &[u8]) -> Vec<u8> {
        match self.algorithm {
            HmacAlgorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(&self.secret, signed),
            HmacAlgorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(&self.secret, signed),
            HmacAlgorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(&self.secret, signed),
        }
    }

    /// The header value a sender would write for `signed` (for tests and tools).
    pub fn encode(&self, signed: &[u8]) -> String {
        let digest = self.digest(signed);
        let encoded = match self.encoding {
            DigestEncoding::Hex => hex::encode(digest),
            DigestEncoding::Base64 => BASE64.encode(digest),
        };
        format!("{}{encoded}", self.prefix.as_deref().unwrap_or_default())
    }
}

fn mac<M: Mac + KeyInit>(key: &[u8], signed: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(signed);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(signed: &str) -> HmacScheme {
        HmacScheme {
            header: "x-sig".into(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: DigestEncoding::Hex,
            secret: b"k".to_vec(),
            signed: signed.into(),
            prefix: None,
            timestamp_header: None,
            id_header: None,
            tolerance: Duration::from_secs(300),
        }
    }

    #[test]
    fn the_template_fills_its_placeholders_and_keeps_other_braces() {
        let s = scheme("{timestamp}.{id}.{body}{x}");
        assert_eq!(s.signed_bytes(b"{\"a\":1}", Some("17"), Some("ev1")), b"17.ev1.{\"a\":1}{x}".to_vec());
        assert_eq!(scheme("{body}").signed_bytes(b"raw", None, None), b"raw".to_vec());
    }

    #[test]
    fn the_window_is_inclusive_either_way() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let five = Duration::from_secs(300);
        assert!(check_window(now - chrono::Duration::seconds(300), now, five).is_ok());
        assert!(check_window(now + chrono::Duration::seconds(300), now, five).is_ok());
        assert_eq!(check_window(now - chrono::Duration::seconds(301), now, five), Err(VerifyError::Stale));
        assert_eq!(check_window(now + chrono::Duration::seconds(301), now, five), Err(VerifyError::Stale));
    }
}
