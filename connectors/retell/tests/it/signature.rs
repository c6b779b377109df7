//! `x-retell-signature`, with the edge rules of Retell's own SDK verifier.

use handoffd_contract::webhook::{RawRequest, VerifyError};
use handoffd_retell::sign;
use handoffd_retell::signature::{SIGNATURE_HEADER, verify};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, Method};

use super::now;

const KEY: &str = "key_retell_webhook_badge";
const BODY: &[u8] = br#"{"event":"call_ended","call":{"call_id":"c1"}}"#;

fn check(values: &[&str], body: &[u8], at_ms: i64) -> Result<(), VerifyError> {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
    }
    let received_at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap();
    verify(
        KEY,
        &RawRequest {
            method: &Method::POST,
            path: "/webhooks/retell",
            query: "",
            headers: &headers,
            body,
            received_at,
            peer: None,
        },
    )
}

/// The digest computed here, independently: HMAC-SHA256(api key, body + decimal ms).
fn digest(body: &[u8], ms: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(body);
    mac.update(ms.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn body_then_timestamp_is_signed() {
    let ms = now().timestamp_millis();
    let header = format!("v={ms},d={}", digest(BODY, &ms.to_string()));
    assert_eq!(sign(KEY, BODY, ms), header);
    assert_eq!(check(&[&header], BODY, ms), Ok(()));
    assert_eq!(check(&[&header], b"{}", ms), Err(VerifyError::Mismatch));
    // The key is the API key: another key's signature fails.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"another key").unwrap();
    mac.update(BODY);
    mac.update(ms.to_string().as_bytes());
    let other = format!("v={ms},d={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(check(&[&other], BODY, ms), Err(VerifyError::Mismatch));
}

#[test]
fn five_minutes_either_way_is_accepted_and_a_millisecond_more_is_not() {
    let ms = now().timestamp_millis();
    let five = 5 * 60 * 1000;
    for (offset, accepted) in [(five, true), (-five, true), (five + 1, false), (-five - 1, false), (0, true)] {
        let signed_at = ms + offset;
        let header = sign(KEY, BODY, signed_at);
        let result = check(&[&header], BODY, ms);
        assert_eq!(result.is_ok(), accepted, "{offset}: {result:?}");
        if !accepted {
            assert_eq!(result, Err(VerifyError::Stale));
        }
    }
}

#[test]
fn the_digest_must_be_lowercase_hex_as_the_sdk_compares_it() {
    let ms = now().timestamp_millis();
    let lower = digest(BODY, &ms.to_string());
    assert_eq!(check(&[&format!("v={ms},d={lower}")], BODY, ms), Ok(()));
    assert_eq!(check(&[&format!("v={ms},d={}", lower.to_uppercase())], BODY, ms), Err(VerifyError::Mismatch));
    assert_eq!(
        check(&[&format!("v={ms},d={lower} ")], BODY, ms),
        Err(VerifyError::Mismatch),
        "the digest is the rest of the header"
    );
}

#[test]
fn the_timestamp_is_signed_as_a_number() {
    let ms = now().timestamp_millis();
    // Leading zeros are read away: what is signed is the number's digits.
    let header = format!("v=0{ms},d={}", digest(BODY, &ms.to_string()));
    assert_eq!(check(&[&header], BODY, ms), Ok(()));
    let header = format!("v=0{ms},d={}", digest(BODY, &format!("0{ms}")));
    assert_eq!(check(&[&header], BODY, ms), Err(VerifyError::Mismatch));
}

#[test]
fn missing_repeated_and_malformed_headers_are_refused() {
    let ms = now().timestamp_millis();
    let good = sign(KEY, BODY, ms);
    assert_eq!(check(&[], BODY, ms), Err(VerifyError::Missing(SIGNATURE_HEADER)));
    assert!(matches!(check(&[&good, &good], BODY, ms), Err(VerifyError::Malformed(_))));
    for bad in ["", "garbage", "d=abc,v=123", "v=,d=abc", "v=abc,d=00", &format!("v={ms}")] {
        assert!(matches!(check(&[bad], BODY, ms), Err(VerifyError::Malformed(_))), "{bad}");
    }
    // Like the SDK, the first `v=<digits>,d=` anywhere in the header counts.
    assert_eq!(check(&[&format!("t=1,{good}")], BODY, ms), Ok(()));
}
