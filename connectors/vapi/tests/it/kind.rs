//! The `vapi` block: what `handoffd check` refuses, and secrets kept out of logs.

use handoffd_contract::kind::ConnectorKind;
use handoffd_vapi::{VapiConfig, VapiKind};
use serde_json::json;

fn problems(block: serde_json::Value) -> Vec<String> {
    let config: VapiConfig = serde_json::from_value(block).unwrap();
    VapiKind::validate(&config).into_iter().map(|p| p.key).collect()
}

#[test]
fn a_credential_is_required_and_only_one() {
    assert_eq!(problems(json!({"id": "v"})), [""]);
    assert_eq!(
        problems(json!({"id": "v", "secret": "a", "authentication_plan": {"type": "bearer", "token": "t"}})),
        ["secret"]
    );
    assert!(problems(json!({"id": "v", "secret": "a"})).is_empty());
}

#[test]
fn plan_options_and_the_poller_are_checked() {
    assert_eq!(
        problems(json!({"id": "v", "authentication_plan": {"type": "hmac", "secretKey": "%%", "algorithm": "sha256",
            "secretIsBase64": true, "payloadFormat": "{url}{timestamp}"}})),
        ["authentication_plan.secretKey", "authentication_plan.payloadFormat", "authentication_plan.payloadFormat"]
    );
    assert_eq!(problems(json!({"id": "v", "secret": "a", "poll": {}})), ["poll"]);
    assert_eq!(
        problems(
            json!({"id": "v", "secret": "a", "api_key": "k", "poll": {"schedule": "soon"}, "base_url": "ftp://x"})
        ),
        ["base_url", "poll.schedule"]
    );
    // Vapi's own names are the keys; an unknown one is refused by serde.
    let unknown = serde_json::from_value::<VapiConfig>(json!({"id": "v", "authentication_plan":
        {"type": "hmac", "secretKey": "k", "algorithm": "sha256", "secret_key": "k"}}));
    assert!(unknown.is_err());
    let oauth = serde_json::from_value::<VapiConfig>(json!({"id": "v", "authentication_plan": {"type": "oauth2"}}));
    assert!(oauth.is_err());
}

#[test]
fn secrets_never_reach_the_debug_form() {
    let config: VapiConfig = serde_json::from_value(json!({"id": "v", "api_key": "private-key-1",
        "authentication_plan": {"type": "hmac", "secretKey": "hmac-secret-1", "algorithm": "sha256"}}))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("private-key-1") && !shown.contains("hmac-secret-1"), "{shown}");
    let config: VapiConfig = serde_json::from_value(json!({"id": "v", "secret": "legacy-secret-1"})).unwrap();
    assert!(!format!("{config:?}").contains("legacy-secret-1"));
}
