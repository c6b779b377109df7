//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body keyed by the app secret, hex encoded.
//! Meta signs webhooks this way; the turns endpoint reuses it so bots sign with one secret.

use handoffd_contract::webhook::VerifyError;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;

/// The header Meta puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

type HmacSha256 = Hmac<Sha256>;

fn mac(app_secret: &str) -> HmacSha256 {
    // HMAC takes a key of any length, so this cannot fail.
    HmacSha256::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts keys of any length")
}

/// The full header value (`sha256=<lowercase hex>`) for `body` signed with `app_secret`.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check `X-Hub-Signature-256` against the raw body, in constant time.
pub fn verify(app_secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let header = headers.get(SIGNATURE_HEADER).ok_or(VerifyError::Missing(SIGNATURE_HEADER))?;
    let value = header.to_str().map_err(|_| VerifyError::Malformed("the header is not ASCII".to_owned()))?.trim();
    let hex_digest = value
        .split_once('=')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("sha256"))
        .map(|(_, digest)| digest)
        .ok_or_else(|| VerifyError::Malformed("expected `sha256=<hex>`".to_owned()))?;
    let digest =
        hex::decode(hex_digest).map_err(|error| VerifyError::Malformed(format!("the digest is not hex: {error}")))?;
    if digest.len() != 32 {
        return Err(VerifyError::Malformed(format!("the digest has {} bytes, expected 32", digest.len())));
    }
    let mut mac = mac(app_secret);
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| VerifyError::Mismatch)
}
