//! `X-Hub-Signature-256` verification on arbitrary headers and bodies: never panics, accepts what `sign` makes
//! with the same secret, rejects it under another secret or for another body.
#![no_main]

use handoffd_whatsapp_cloud::signature::{SIGNATURE_HEADER, sign, verify};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: [secret length][secret][header length][header][body...].
    let Some((&secret_len, rest)) = data.split_first() else { return };
    let (secret, rest) = rest.split_at((secret_len as usize).min(rest.len()));
    let Some((&header_len, rest)) = rest.split_first() else { return };
    let (header, body) = rest.split_at((header_len as usize).min(rest.len()));
    let secret = String::from_utf8_lossy(secret);

    // Arbitrary header: any outcome but a panic; accepted only if it is the real signature.
    if let Ok(value) = HeaderValue::from_bytes(header) {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value);
        if verify(&secret, &headers, body).is_ok() {
            let real = sign(&secret, body);
            let given = headers[SIGNATURE_HEADER].to_str().unwrap().trim().to_ascii_lowercase();
            assert_eq!(given, real, "a signature other than the real one was accepted");
        }
    }

    // The real signature verifies; with another secret it does not.
    let mut headers = HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sign(&secret, body)).unwrap());
    assert!(verify(&secret, &headers, body).is_ok(), "sign() output was rejected");
    let other = format!("{secret}x");
    assert!(verify(&other, &headers, body).is_err(), "accepted under another secret");
});
