//! Every credential Vapi can call a server URL with, and the requests each must refuse.

use handoffd_contract::webhook::{VerifyError, WebhookSource};
use handoffd_vapi::auth::sign;
use handoffd_vapi::{HmacPlan, Vapi, VapiConfig};
use serde_json::json;

use super::{headers, now, request};

const BODY: &[u8] = br#"{"message":{"type":"end-of-call-report","call":{"id":"c1"}}}"#;

fn source(config: serde_json::Value) -> Vapi {
    let mut block = json!({"id": "vapi"});
    block.as_object_mut().unwrap().extend(config.as_object().unwrap().clone());
    let config: VapiConfig = serde_json::from_value(block).unwrap();
    assert!(handoffd_vapi::kind::validate(&config).is_empty(), "{:?}", handoffd_vapi::kind::validate(&config));
    Vapi::new(&config).unwrap()
}

fn hmac_plan(plan: serde_json::Value) -> (Vapi, HmacPlan) {
    let parsed: HmacPlan = serde_json::from_value({
        let mut p = plan.clone();
        p.as_object_mut().unwrap().remove("type");
        p
    })
    .unwrap();
    (source(json!({"authentication_plan": plan})), parsed)
}

#[test]
fn the_default_hmac_signs_timestamp_dot_body_in_hex() {
    let (vapi, plan) = hmac_plan(json!({"type": "hmac", "secretKey": "s3cret", "algorithm": "sha256"}));
    let ts = now().timestamp().to_string();
    // The digest computed independently of the connector: HMAC-SHA256("s3cret", ts + "." + body).
    let expected = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(BODY);
        hex::encode(mac.finalize().into_bytes())
    };
    assert_eq!(sign(&plan, BODY, &ts), expected);
    let h = headers(&[("x-signature", &expected), ("x-timestamp", &ts)]);
    assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Ok(()));
    // Milliseconds and RFC 3339 timestamps are read too (what is signed is the header as sent).
    for ts in [now().timestamp_millis().to_string(), now().to_rfc3339()] {
        let h = headers(&[("x-signature", &sign(&plan, BODY, &ts)), ("x-timestamp", &ts)]);
        assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Ok(()), "{ts}");
    }
}

#[test]
fn a_changed_body_a_wrong_key_or_a_missing_header_is_refused() {
    let (vapi, plan) = hmac_plan(json!({"type": "hmac", "secretKey": "s3cret", "algorithm": "sha256"}));
    let ts = now().timestamp().to_string();
    let good = sign(&plan, BODY, &ts);
    let h = headers(&[("x-signature", &good), ("x-timestamp", &ts)]);
    assert_eq!(vapi.authenticate(&request(&h, b"{}", now())), Err(VerifyError::Mismatch));
    let other = HmacPlan { secret_key: "other".into(), ..plan.clone() };
    let h = headers(&[("x-signature", &sign(&other, BODY, &ts)), ("x-timestamp", &ts)]);
    assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Mismatch));
    let h = headers(&[("x-timestamp", &ts)]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Missing(_))));
    let h = headers(&[("x-signature", &good)]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Missing(_))));
    let h = headers(&[("x-signature", &good), ("x-signature", &good), ("x-timestamp", &ts)]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Malformed(_))));
    let h = headers(&[("x-signature", "zz-not-hex"), ("x-timestamp", &ts)]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Malformed(_))));
}

#[test]
fn a_signed_timestamp_is_accepted_at_five_minutes_and_refused_past_them() {
    let (vapi, plan) = hmac_plan(json!({"type": "hmac", "secretKey": "s3cret", "algorithm": "sha256"}));
    for (offset_secs, accepted) in [(300, true), (-300, true), (301, false), (-301, false)] {
        let ts = (now().timestamp() + offset_secs).to_string();
        let h = headers(&[("x-signature", &sign(&plan, BODY, &ts)), ("x-timestamp", &ts)]);
        let result = vapi.authenticate(&request(&h, BODY, now()));
        assert_eq!(result.is_ok(), accepted, "{offset_secs}: {result:?}");
        if !accepted {
            assert_eq!(result, Err(VerifyError::Stale));
        }
    }
    let h = headers(&[("x-signature", &sign(&plan, BODY, "yesterday")), ("x-timestamp", "yesterday")]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Malformed(_))));
}

#[test]
fn every_option_of_the_plan_is_followed() {
    let ts = now().timestamp().to_string();
    let cases = [
        json!({"type": "hmac", "secretKey": "k", "algorithm": "sha512", "signatureEncoding": "base64"}),
        json!({"type": "hmac", "secretKey": "k", "algorithm": "sha1", "signaturePrefix": "sha1="}),
        json!({"type": "hmac", "secretKey": "c2VjcmV0LWJ5dGVz", "algorithm": "sha256", "secretIsBase64": true}),
        json!({"type": "hmac", "secretKey": "k", "algorithm": "sha256", "includeTimestamp": false,
               "signatureHeader": "X-Vapi-Signature"}),
        json!({"type": "hmac", "secretKey": "k", "algorithm": "sha256", "timestampHeader": "X-Vapi-Timestamp",
               "signaturePrefix": "v1="}),
    ];
    for case in cases {
        let (vapi, plan) = hmac_plan(case.clone());
        let h = headers(&[(&plan.signature_header, &sign(&plan, BODY, &ts)), (&plan.timestamp_header, &ts)]);
        assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Ok(()), "{case}");
    }
    // A base64 secret is used decoded: the same text used raw does not verify.
    let (vapi, plan) = hmac_plan(
        json!({"type": "hmac", "secretKey": "c2VjcmV0LWJ5dGVz", "algorithm": "sha256", "secretIsBase64": true}),
    );
    let raw = HmacPlan { secret_is_base64: false, ..plan.clone() };
    let h = headers(&[("x-signature", &sign(&raw, BODY, &ts)), ("x-timestamp", &ts)]);
    assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Mismatch));
    // Without the configured prefix the signature is malformed.
    let (vapi, plan) =
        hmac_plan(json!({"type": "hmac", "secretKey": "k", "algorithm": "sha1", "signaturePrefix": "sha1="}));
    let bare = sign(&plan, BODY, &ts).trim_start_matches("sha1=").to_owned();
    let h = headers(&[("x-signature", &bare), ("x-timestamp", &ts)]);
    assert!(matches!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Malformed(_))));
}

#[test]
fn a_payload_format_is_built_on_the_raw_body() {
    let (vapi, plan) = hmac_plan(json!({"type": "hmac", "secretKey": "k", "algorithm": "sha256",
        "payloadFormat": "{svix-id}.{timestamp}.{method}.{body}", "messageIdHeader": "x-message-id"}));
    let ts = now().timestamp().to_string();
    let payload = [format!("msg_1.{ts}.POST.").as_bytes(), BODY].concat();
    let digest = hex::encode(handoffd_vapi::auth::mac(plan.algorithm, b"k", &payload));
    let h = headers(&[("x-signature", &digest), ("x-timestamp", &ts), ("x-message-id", "msg_1")]);
    assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Ok(()));
    let h = headers(&[("x-signature", &digest), ("x-timestamp", &ts), ("x-message-id", "msg_2")]);
    assert_eq!(vapi.authenticate(&request(&h, BODY, now())), Err(VerifyError::Mismatch));
}

#[test]
fn bearer_plans_and_the_legacy_secret() {
    let vapi = source(json!({"authentication_plan": {"type": "bearer", "token": "tok-1"}}));
    let ok = headers(&[("authorization", "Bearer tok-1")]);
    assert_eq!(vapi.authenticate(&request(&ok, BODY, now())), Ok(()));
    let lower = headers(&[("authorization", "bearer tok-1")]);
    assert_eq!(vapi.authenticate(&request(&lower, BODY, now())), Ok(()));
    let bare = headers(&[("authorization", "tok-1")]);
    assert!(matches!(vapi.authenticate(&request(&bare, BODY, now())), Err(VerifyError::Malformed(_))));
    let wrong = headers(&[("authorization", "Bearer tok-2")]);
    assert_eq!(vapi.authenticate(&request(&wrong, BODY, now())), Err(VerifyError::Mismatch));

    let custom = source(json!({"authentication_plan":
        {"type": "bearer", "token": "tok-1", "headerName": "X-Api-Key", "bearerPrefixEnabled": false}}));
    let ok = headers(&[("x-api-key", "tok-1")]);
    assert_eq!(custom.authenticate(&request(&ok, BODY, now())), Ok(()));
    let prefixed = headers(&[("x-api-key", "Bearer tok-1")]);
    assert_eq!(custom.authenticate(&request(&prefixed, BODY, now())), Err(VerifyError::Mismatch));

    let legacy = source(json!({"secret": "legacy-1"}));
    let ok = headers(&[("X-Vapi-Secret", "legacy-1")]);
    assert_eq!(legacy.authenticate(&request(&ok, BODY, now())), Ok(()));
    let wrong = headers(&[("X-Vapi-Secret", "legacy-2")]);
    assert_eq!(legacy.authenticate(&request(&wrong, BODY, now())), Err(VerifyError::Mismatch));
    assert!(matches!(legacy.authenticate(&request(&headers(&[]), BODY, now())), Err(VerifyError::Missing(_))));
}
