//! `X-Twilio-Signature`: Twilio's published examples, ports, proxies, JSON bodies, SharedKey.

use handoffd_contract::webhook::{VerifyError, WebhookSource};
use handoffd_twilio::Twilio;
use handoffd_twilio::signature::{Algorithm, Keys, body_hash, sign, verify};
use http::{HeaderValue, Method};
use serde_json::json;

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

fn connector() -> Twilio {
    Twilio::new(config(json!({})))
}

#[test]
fn twilios_documented_example_signs_as_published() {
    let params = pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]);
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(sign(Algorithm::HmacSha1, b"12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

#[test]
fn twilios_documented_example_verifies_as_a_request_behind_a_proxy() {
    // The same request as it reaches the daemon: the form body in any order, the path and the
    // query as Twilio called them, TLS ended by a proxy that says so.
    let body = "To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
    let mut headers = http::HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("mycompany.com"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    headers.insert("x-twilio-signature", HeaderValue::from_static("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    let request = handoffd_contract::webhook::RawRequest {
        method: &Method::POST,
        path: "/myapp.php",
        query: "foo=1&bar=2",
        headers: &headers,
        body: body.as_bytes(),
        received_at: chrono::Utc::now(),
        peer: None,
    };
    let keys = Keys { auth_token: "12345", shared_key: None, public_url: None };
    assert!(verify(&keys, &request).is_ok());
    // With `public_url` the Host header no longer matters.
    let mut internal = headers.clone();
    internal.insert("host", HeaderValue::from_static("10.0.0.7:8080"));
    let request = handoffd_contract::webhook::RawRequest { headers: &internal, ..request };
    let keys = Keys { public_url: Some("https://mycompany.com/myapp.php"), ..keys };
    assert!(verify(&keys, &request).is_ok());
    let wrong_token = Keys { auth_token: "54321", ..keys };
    assert_eq!(verify(&wrong_token, &request).unwrap_err().error, VerifyError::Mismatch);
}

#[test]
fn twilios_documented_json_example_checks_the_body_hash_and_signs_the_url_only() {
    // The body of Twilio's JSON example and the hash its docs give for it; the body's SHA-256
    // is in the URL, and the URL alone is signed.
    let body = r#"{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}"#;
    let hash = "5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9";
    assert_eq!(body_hash(body.as_bytes()), hash);

    let mut posted = Posted::form(body.as_bytes());
    posted.headers.insert("content-type", HeaderValue::from_static("application/json"));
    posted.query = format!("bodySHA256={hash}");
    let posted = posted.signed();
    assert!(posted.verify(&connector()).is_ok());
    // One byte changed: the hash in the signed URL no longer matches the body.
    let mut tampered = posted;
    tampered.body = body.replace("CA12", "CA13").into_bytes();
    assert_eq!(tampered.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn a_signature_over_the_url_with_or_without_its_default_port_verifies() {
    let body = fixture("completed_inbound.form");
    let with_port = Posted::form(&body).signed_for("https://hooks.example.com:443/webhooks/tw-main");
    assert!(with_port.verify(&connector()).is_ok());
    // Twilio called `:443` explicitly and signed the URL without it.
    let mut explicit = Posted::form(&body).signed_for("https://hooks.example.com/webhooks/tw-main");
    explicit.headers.insert("host", HeaderValue::from_static("hooks.example.com:443"));
    assert!(explicit.verify(&connector()).is_ok());
    // Another port is another URL.
    let other = Posted::form(&body).signed_for("https://hooks.example.com:8443/webhooks/tw-main");
    assert_eq!(other.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn without_a_proxy_header_both_schemes_are_tried() {
    let mut posted =
        Posted::form(&fixture("completed_inbound.form")).signed_for("http://hooks.example.com/webhooks/tw-main");
    posted.headers.remove("x-forwarded-proto");
    assert!(posted.verify(&connector()).is_ok());
    // A proxy that says `https` rules `http` out.
    posted.headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    assert_eq!(posted.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn a_url_rewritten_by_a_proxy_is_refused_and_the_checked_urls_are_reported() {
    // Twilio called the public URL; the proxy forwarded to an internal host and path.
    let body = fixture("completed_inbound.form");
    let mut posted = Posted::form(&body).signed_for("https://voice.example.com/twilio/status?tenant=7");
    posted.query = "tenant=7".into();
    posted.headers.insert("host", HeaderValue::from_static("handoffd.internal:8080"));
    let keys = Keys { auth_token: AUTH_TOKEN, shared_key: None, public_url: None };
    let refusal = verify(&keys, &posted.request()).unwrap_err();
    assert_eq!(refusal.error, VerifyError::Mismatch);
    assert!(
        refusal.checked_urls.contains(&"https://handoffd.internal:8080/webhooks/tw-main?tenant=7".to_owned()),
        "{:?}",
        refusal.checked_urls
    );
    assert_eq!(posted.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
    // Told the public URL, the connector checks what Twilio signed.
    let behind_proxy = Twilio::new(config(json!({"public_url": "https://voice.example.com/twilio/status"})));
    assert!(posted.verify(&behind_proxy).is_ok());
}

#[test]
fn missing_wrong_and_tampered_signatures_are_refused() {
    let body = fixture("completed_inbound.form");
    let unsigned = Posted::form(&body);
    assert_eq!(unsigned.verify(&connector()).unwrap_err(), VerifyError::Missing("X-Twilio-Signature"));
    let mut forged = Posted::form(&body);
    forged.headers.insert(
        "x-twilio-signature",
        HeaderValue::from_str(&sign(Algorithm::HmacSha1, b"another-token", &forged.url(), &form_pairs(&body))).unwrap(),
    );
    assert_eq!(forged.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
    // A parameter changed after signing.
    let mut tampered = Posted::form(&body).signed();
    tampered.body = String::from_utf8(body.clone()).unwrap().replace("CallDuration=187", "CallDuration=9").into_bytes();
    assert_eq!(tampered.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
    // Two signature headers, one of them right: refused, not picked from.
    let mut twice = Posted::form(&body).signed();
    twice.headers.append("x-twilio-signature", HeaderValue::from_static("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert!(matches!(twice.verify(&connector()).unwrap_err(), VerifyError::Malformed(m) if m.contains("repeated")));
    // A parameter added after signing.
    let mut added = Posted::form(b"CallSid=CA1&CallStatus=completed").signed();
    added.body.extend_from_slice(b"&From=%2B10000000000");
    assert_eq!(added.verify(&connector()).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn repeated_parameters_are_signed_as_twilios_sdks_sign_them() {
    let body = b"CallSid=CA9&StatusCallbackEvent=ringing&StatusCallbackEvent=answered&StatusCallbackEvent=ringing";
    let posted = Posted::form(body);
    let url = posted.url();
    let expected_string = format!("{url}CallSidCA9StatusCallbackEventansweredStatusCallbackEventringing");
    assert_eq!(handoffd_twilio::signature::signed_string(&url, &form_pairs(body)), expected_string);
    assert!(posted.signed().verify(&connector()).is_ok());
}

#[test]
fn a_get_callback_is_signed_over_its_url_alone() {
    let mut posted = Posted::form(b"");
    posted.method = Method::GET;
    posted.query = "CallSid=CA7&CallStatus=completed&From=%2B919820012345".into();
    let posted = posted.signed();
    assert!(posted.verify(&connector()).is_ok());
    let verified = posted.verify(&connector()).unwrap();
    let parsed = connector().parse(&verified).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "CA7:completed");
}

#[test]
fn a_shared_key_signature_is_checked_with_the_key_and_the_named_algorithm() {
    let shared_key = "sk-secret-0f3e9a7d";
    let connector = Twilio::new(config(json!({"shared_key": shared_key})));
    let body = fixture("completed_inbound.form");
    let mut posted = Posted::form(&body);
    let signature = sign(Algorithm::HmacSha256, shared_key.as_bytes(), &posted.url(), &form_pairs(&body));
    posted.headers.insert("x-twilio-signature", HeaderValue::from_str(&signature).unwrap());
    posted.headers.insert(
        "x-twilio-webhooks-signature-settings",
        HeaderValue::from_static("key=KS0123456789abcdef0123456789abcdef,algorithm=HMAC_SHA256"),
    );
    assert!(posted.verify(&connector).is_ok());
    // The settings header says SharedKey: the Auth Token's signature does not pass.
    let mut with_token = Posted::form(&body).signed();
    with_token.headers.insert(
        "x-twilio-webhooks-signature-settings",
        HeaderValue::from_static("key=KS0123456789abcdef0123456789abcdef,algorithm=HMAC_SHA256"),
    );
    assert_eq!(with_token.verify(&connector).unwrap_err(), VerifyError::Mismatch);
    // Without the header the Auth Token is used, as Twilio's SDKs do.
    assert!(Posted::form(&body).signed().verify(&connector).is_ok());
    // No `shared_key` configured, or an algorithm nobody knows: refused, with the reason.
    assert!(
        matches!(posted.verify(&self::connector()).unwrap_err(), VerifyError::Malformed(m) if m.contains("shared_key"))
    );
    posted
        .headers
        .insert("x-twilio-webhooks-signature-settings", HeaderValue::from_static("key=KS1,algorithm=HMAC_MD5"));
    assert!(matches!(posted.verify(&connector).unwrap_err(), VerifyError::Malformed(m) if m.contains("HMAC_MD5")));
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_refusal_logs_the_urls_that_were_checked_and_never_the_token() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let mut posted = Posted::form(&fixture("completed_inbound.form")).signed_for("https://voice.example.com/twilio");
    posted.headers.insert("host", HeaderValue::from_static("handoffd.internal:8080"));
    let refused = tracing::subscriber::with_default(subscriber, || posted.verify(&connector()));
    assert_eq!(refused.unwrap_err(), VerifyError::Mismatch);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("https://handoffd.internal:8080/webhooks/tw-main"), "{text}");
    assert!(text.contains("public_url"), "the log says what to set: {text}");
    assert!(!text.contains(AUTH_TOKEN), "{text}");
}
