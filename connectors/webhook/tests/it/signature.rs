//! Standard Webhooks and the configurable HMAC: published vectors, windows, several
//! signatures, malformed and missing headers.

use chrono::{DateTime, Duration};
use handoffd_contract::webhook::VerifyError;
use handoffd_webhook::signature::{standard_webhooks_key, standard_webhooks_sign};

use super::*;

const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: i64 = 1_614_265_330;
const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard() -> GenericWebhook {
    connector(&format!(
        "id: gw\nsignature: {{scheme: standard_webhooks, secret: {SPEC_SECRET}}}\nfields: {{phone: /phone}}\n"
    ))
}

fn spec_headers(signature: &str, timestamp: i64) -> HeaderMap {
    headers(&[("webhook-id", SPEC_ID), ("webhook-timestamp", &timestamp.to_string()), ("webhook-signature", signature)])
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

#[test]
fn the_standard_webhooks_published_vector_signs_and_verifies() {
    let key = standard_webhooks_key(SPEC_SECRET).unwrap();
    assert_eq!(standard_webhooks_sign(&key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
    let verified = verify(&standard(), &spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP), SPEC_BODY, at(SPEC_TIMESTAMP));
    let verified = verified.unwrap();
    assert_eq!(verified.header("webhook-id"), Some(SPEC_ID), "kept as the default dedup key");
    assert_eq!(verified.header("webhook-signature"), None, "signatures are not kept");
    // The `whsec_` prefix is optional, as in the reference libraries.
    assert_eq!(standard_webhooks_key(SPEC_SECRET.trim_start_matches("whsec_")).unwrap(), key);
}

#[test]
fn one_valid_signature_among_several_is_enough() {
    let several = format!("v1,bm9wZQ== v1a,c29tZXRoaW5nIGVsc2U= {SPEC_SIGNATURE}");
    assert!(verify(&standard(), &spec_headers(&several, SPEC_TIMESTAMP), SPEC_BODY, at(SPEC_TIMESTAMP)).is_ok());
    let none_valid = "v1,bm9wZQ== v1,Zm9v";
    let refused = verify(&standard(), &spec_headers(none_valid, SPEC_TIMESTAMP), SPEC_BODY, at(SPEC_TIMESTAMP));
    assert_eq!(refused.unwrap_err(), VerifyError::Mismatch);
    // The right digest under another version is not a `v1` signature.
    let relabelled = SPEC_SIGNATURE.replacen("v1,", "v1a,", 1);
    let refused = verify(&standard(), &spec_headers(&relabelled, SPEC_TIMESTAMP), SPEC_BODY, at(SPEC_TIMESTAMP));
    assert_eq!(refused.unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn the_window_is_five_minutes_either_way_and_replays_outside_it_are_refused() {
    let connector = standard();
    let signed = spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP);
    for offset in [-300, 300] {
        assert!(verify(&connector, &signed, SPEC_BODY, at(SPEC_TIMESTAMP + offset)).is_ok(), "{offset}");
    }
    for offset in [-301, 301, 86_400] {
        assert_eq!(
            verify(&connector, &signed, SPEC_BODY, at(SPEC_TIMESTAMP + offset)).unwrap_err(),
            VerifyError::Stale
        );
    }
    // A replay with a fresh timestamp but the old signature does not match.
    let restamped = spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP + 600);
    assert_eq!(verify(&connector, &restamped, SPEC_BODY, at(SPEC_TIMESTAMP + 600)).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn missing_and_malformed_headers_are_refused() {
    let connector = standard();
    let now = at(SPEC_TIMESTAMP);
    let no_id = headers(&[("webhook-timestamp", "1614265330"), ("webhook-signature", SPEC_SIGNATURE)]);
    assert_eq!(verify(&connector, &no_id, SPEC_BODY, now).unwrap_err(), VerifyError::Missing("webhook-id"));
    let no_sig = headers(&[("webhook-id", SPEC_ID), ("webhook-timestamp", "1614265330")]);
    assert_eq!(verify(&connector, &no_sig, SPEC_BODY, now).unwrap_err(), VerifyError::Missing("webhook-signature"));
    let float = spec_headers(SPEC_SIGNATURE, 0);
    let mut float = float;
    float.insert("webhook-timestamp", HeaderValue::from_static("1614265330.5"));
    assert!(matches!(verify(&connector, &float, SPEC_BODY, now), Err(VerifyError::Malformed(_))));
    let tampered = br#"{"test": 2432232315}"#;
    assert_eq!(
        verify(&connector, &spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP), tampered, now).unwrap_err(),
        VerifyError::Mismatch
    );
}

fn hmac(block: &str) -> GenericWebhook {
    connector(&format!("id: gw\nsignature: {{scheme: hmac, {block}}}\nfields: {{phone: /phone, dedup_key: /id}}\n"))
}

#[test]
fn githubs_published_hmac_example_verifies_with_its_prefix() {
    // GitHub's documented test values for `X-Hub-Signature-256`.
    let connector = hmac(
        "header: X-Hub-Signature-256, algorithm: sha256, encoding: hex, prefix: 'sha256=', secret: \"It's a Secret to Everybody\"",
    );
    let body = b"Hello, World!";
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let now = chrono::Utc::now();
    assert!(verify(&connector, &headers(&[("x-hub-signature-256", signature)]), body, now).is_ok());
    // Upper-case hex is the same digest.
    let upper = format!("sha256={}", signature.trim_start_matches("sha256=").to_uppercase());
    assert!(verify(&connector, &headers(&[("x-hub-signature-256", &upper)]), body, now).is_ok());
    // Without the prefix it is not this vendor's header.
    let bare = signature.trim_start_matches("sha256=");
    assert_eq!(
        verify(&connector, &headers(&[("x-hub-signature-256", bare)]), body, now).unwrap_err(),
        VerifyError::Mismatch
    );
    assert!(matches!(verify(&connector, &HeaderMap::new(), body, now), Err(VerifyError::Missing(_))));
}

#[test]
fn every_algorithm_and_encoding_round_trips_and_refuses_another_key() {
    let now = chrono::Utc::now();
    let body = br#"{"id":"ev1","phone":"+15550100"}"#;
    for algorithm in ["sha1", "sha256", "sha512"] {
        for encoding in ["hex", "base64"] {
            let block = format!("header: X-Sig, algorithm: {algorithm}, encoding: {encoding}, secret: k3y");
            let connector = hmac(&block);
            let scheme =
                handoffd_webhook::kind::scheme(&serde_saphyr::from_str(&format!("{{scheme: hmac, {block}}}")).unwrap())
                    .unwrap();
            let handoffd_webhook::signature::Scheme::Hmac(scheme) = scheme else { panic!("hmac") };
            let good = scheme.encode(body);
            assert!(verify(&connector, &headers(&[("x-sig", &good)]), body, now).is_ok(), "{algorithm}/{encoding}");
            let other = hmac(&block.replace("k3y", "k3z"));
            assert_eq!(
                verify(&other, &headers(&[("x-sig", &good)]), body, now).unwrap_err(),
                VerifyError::Mismatch,
                "{algorithm}/{encoding}"
            );
        }
    }
}

#[test]
fn a_signed_timestamp_is_part_of_the_message_and_bounds_replays() {
    let connector = hmac(
        "header: X-Acme-Signature, algorithm: sha256, encoding: base64, secret: s3cr3t, signed: '{timestamp}.{body}', \
         timestamp_header: X-Acme-Timestamp",
    );
    let body = br#"{"id":"ev2","phone":"+15550101"}"#;
    let scheme = handoffd_webhook::signature::HmacScheme {
        header: "x-acme-signature".into(),
        algorithm: handoffd_webhook::config::HmacAlgorithm::Sha256,
        encoding: handoffd_webhook::config::DigestEncoding::Base64,
        secret: b"s3cr3t".to_vec(),
        signed: "{timestamp}.{body}".into(),
        prefix: None,
        timestamp_header: Some("X-Acme-Timestamp".into()),
        id_header: None,
        tolerance: std::time::Duration::from_secs(300),
    };
    let now = chrono::Utc::now();
    let millis = now.timestamp_millis().to_string();
    let signature = scheme.encode(&scheme.signed_bytes(body, Some(&millis), None));
    let signed = headers(&[("x-acme-signature", &signature), ("x-acme-timestamp", &millis)]);
    assert!(verify(&connector, &signed, body, now).is_ok(), "milliseconds are read as such");
    assert_eq!(verify(&connector, &signed, body, now + Duration::seconds(301)).unwrap_err(), VerifyError::Stale);
    assert!(verify(&connector, &signed, body, now + Duration::seconds(299)).is_ok());
    // The timestamp is signed: changing it breaks the signature.
    let later = (now.timestamp_millis() + 1000).to_string();
    let moved = headers(&[("x-acme-signature", &signature), ("x-acme-timestamp", &later)]);
    assert_eq!(verify(&connector, &moved, body, now).unwrap_err(), VerifyError::Mismatch);
}

#[test]
fn a_config_that_would_sign_nothing_useful_is_refused() {
    let config: WebhookConfig = serde_saphyr::from_str(
        "id: gw\nsignature: {scheme: hmac, header: X-Sig, algorithm: sha256, encoding: hex, secret: k, signed: '{timestamp}'}\nfields: {}\n",
    )
    .unwrap();
    let keys: Vec<String> = handoffd_webhook::kind::validate(&config).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["signature.signed", "signature.signed", "fields.dedup_key", "fields"]);
    let short: WebhookConfig = serde_saphyr::from_str(
        "id: gw\nsignature: {scheme: standard_webhooks, secret: whsec_c2hvcnQ=}\nfields: {phone: /p}\n",
    )
    .unwrap();
    let problems = handoffd_webhook::kind::validate(&short);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("bytes"), "{problems:?}");
    let shown = format!(
        "{:?}",
        connector(&format!(
            "id: gw\nsignature: {{scheme: standard_webhooks, secret: {SPEC_SECRET}}}\nfields: {{phone: /p}}\n"
        ))
    );
    assert!(!shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{shown}");
}

#[test]
fn repeated_headers_add_signatures_but_may_not_disagree_on_the_message() {
    let connector = standard();
    let now = at(SPEC_TIMESTAMP);
    // A second `webhook-signature` line is more of the list.
    let mut lines = spec_headers("v1,bm9wZQ==", SPEC_TIMESTAMP);
    lines.append("webhook-signature", HeaderValue::from_static(SPEC_SIGNATURE));
    assert!(verify(&connector, &lines, SPEC_BODY, now).is_ok());
    // Two ids or two timestamps: which message was signed is unclear, so it is refused.
    let mut two_ids = spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP);
    two_ids.append("webhook-id", HeaderValue::from_static("msg_other"));
    assert!(
        matches!(verify(&connector, &two_ids, SPEC_BODY, now), Err(VerifyError::Malformed(m)) if m.contains("webhook-id"))
    );
    let mut two_times = spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP);
    two_times.append("webhook-timestamp", HeaderValue::from_static("1614265331"));
    assert!(matches!(verify(&connector, &two_times, SPEC_BODY, now), Err(VerifyError::Malformed(_))));
    // The same value twice is still one message.
    let mut same = spec_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP);
    same.append("webhook-id", HeaderValue::from_static(SPEC_ID));
    assert!(verify(&connector, &same, SPEC_BODY, now).is_ok());
}
