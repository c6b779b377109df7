//! `kind: twilio`: validation finds every problem at its key; the kind builds what it declares.

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::kind::{BuildContext, Builds, ConnectorKind};
use handoffd_twilio::TwilioKind;
use serde_json::json;

use super::*;

#[test]
fn a_valid_block_builds_a_webhook_source_and_with_poll_a_poll_source() {
    let config = config(json!({"public_url": "https://hooks.example.com/twilio", "shared_key": "k", "poll": {}}));
    assert!(TwilioKind::validate(&config).is_empty(), "{:?}", TwilioKind::validate(&config));
    let context = BuildContext { vault: std::sync::Arc::new(MemoryVault::default()), http: reqwest::Client::new() };
    let built = TwilioKind::build(&config, &context).unwrap();
    assert_eq!(Builds::of(&built), TwilioKind::BUILDS);
    // Webhooks only: no account SID needed, no poller built.
    let webhooks_only: handoffd_twilio::TwilioConfig =
        serde_json::from_value(json!({"id": "t", "auth_token": "x"})).unwrap();
    assert!(TwilioKind::validate(&webhooks_only).is_empty());
    assert!(TwilioKind::build(&webhooks_only, &context).unwrap().poll_source.is_none());
}

#[test]
fn every_problem_is_reported_at_its_key() {
    let config = config(json!({
        "auth_token": " ",
        "account_sid": "XX1",
        "public_url": "https://hooks.example.com/twilio?x=1",
        "base_url": "ftp://api",
        "poll": {"look_back": "a while"},
        "poll_page_size": 0,
        "shared_key": "",
    }));
    let keys: Vec<String> = TwilioKind::validate(&config).into_iter().map(|p| p.key).collect();
    assert_eq!(
        keys,
        ["auth_token", "account_sid", "shared_key", "public_url", "base_url", "poll_page_size", "poll.look_back"]
    );
    let no_sid: handoffd_twilio::TwilioConfig =
        serde_json::from_value(json!({"id": "t", "auth_token": "x", "poll": {}})).unwrap();
    let problems = TwilioKind::validate(&no_sid);
    assert_eq!((problems.len(), problems[0].key.as_str()), (1, "account_sid"));
}

#[test]
fn unknown_keys_are_refused_and_secrets_stay_out_of_debug_output() {
    let unknown = serde_json::from_value::<handoffd_twilio::TwilioConfig>(
        json!({"id": "t", "auth_token": "x", "account_sid": ACCOUNT_SID, "authtoken": "typo"}),
    );
    assert!(unknown.unwrap_err().to_string().contains("authtoken"));
    let shown = format!("{:?}", config(json!({"shared_key": "very-secret-shared"})));
    assert!(!shown.contains(AUTH_TOKEN) && !shown.contains("very-secret-shared"), "{shown}");
}
