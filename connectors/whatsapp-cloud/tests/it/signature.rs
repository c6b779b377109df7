use handoffd_contract::webhook::{RawRequest, VerifyError, WebhookSource};
use handoffd_whatsapp_cloud::sign;
use http::{HeaderMap, HeaderValue, Method};

use crate::{APP_SECRET, connector};

const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;
// python3 -c "import hmac,hashlib;print(hmac.new(b'wa-test-app-secret-71',
//   b'{\"object\":\"whatsapp_business_account\",\"entry\":[]}', hashlib.sha256).hexdigest())"
const BODY_DIGEST: &str = "f032fe95aede26995a75bcd709a20503f66e0444b0feecaa30220eeeb9fc14de";

fn verify_with(header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
    let mut headers = HeaderMap::new();
    if let Some(value) = header {
        headers.insert("x-hub-signature-256", HeaderValue::from_str(value).unwrap());
    }
    let request = RawRequest {
        method: &Method::POST,
        path: "/webhooks/wa-main",
        query: "",
        headers: &headers,
        body,
        received_at: chrono::Utc::now(),
        peer: None,
    };
    connector().verify(&request).map(|_| ())
}

#[test]
fn sign_matches_an_independent_hmac() {
    assert_eq!(sign(APP_SECRET, BODY), format!("sha256={BODY_DIGEST}"));
    // The textbook HMAC-SHA256 vector (key "key").
    assert_eq!(
        sign("key", b"The quick brown fox jumps over the lazy dog"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[test]
fn a_correct_signature_verifies_in_either_case() {
    assert_eq!(verify_with(Some(&format!("sha256={BODY_DIGEST}")), BODY), Ok(()));
    assert_eq!(verify_with(Some(&format!("sha256={}", BODY_DIGEST.to_uppercase())), BODY), Ok(()));
}

#[test]
fn a_signature_over_other_bytes_or_with_another_secret_is_a_mismatch() {
    let mut tampered = BODY.to_vec();
    tampered.push(b' ');
    assert_eq!(verify_with(Some(&format!("sha256={BODY_DIGEST}")), &tampered), Err(VerifyError::Mismatch));
    assert_eq!(verify_with(Some(&sign("another-secret", BODY)), BODY), Err(VerifyError::Mismatch));
    let flipped = format!("sha256=0{}", &BODY_DIGEST[1..]);
    assert_eq!(verify_with(Some(&flipped), BODY), Err(VerifyError::Mismatch));
}

#[test]
fn a_missing_header_is_named() {
    assert_eq!(verify_with(None, BODY), Err(VerifyError::Missing("X-Hub-Signature-256")));
}

#[test]
fn malformed_headers_are_rejected_before_comparing() {
    for header in [
        BODY_DIGEST.to_owned(),                   // no scheme
        format!("sha1={BODY_DIGEST}"),            // wrong scheme
        "sha256=not-hex-at-all".to_owned(),       // not hex
        format!("sha256={}", &BODY_DIGEST[..62]), // 31 bytes
        "sha256=".to_owned(),
    ] {
        assert!(matches!(verify_with(Some(&header), BODY), Err(VerifyError::Malformed(_))), "{header}");
    }
}
