//! `kind: twilio`: validation finds every problem at its key; the kind builds what it declares.

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::kind::{BuildContext, Builds, ConnectorKind};
use handoffd_twilio::TwilioKind;
use serde_json::json;

use super::*;

#[test]
fn a_valid_block_has_no_problem_and_builds_a_webhook_and_a_poll_source() {
    let config = config(json!({"public_url": "https://hooks.example.com/twilio", "shared_key": "k"}));
    assert!(TwilioKind::validate(&config).is_empty(), "{:?}", TwilioKind::validate(&config));
    let context = BuildContext { vault: std::sync::Arc::new(MemoryVault::default()), http: reqwest::Client::new() };
    let built = TwilioKind::build(&config, &context).unwrap();
    assert_eq!(Builds::of(&built), TwilioKind::BUILDS);
}

#[test]
fn every_problem_is_reported_at_its_key() {
    let config = config(json!({
        "auth_token": " ",
        "account_sid": "XX1",
        "public_url": "https://hooks.example.com/twilio?x=1",
        "base_url": "ftp://api",
        "poll_lookback": "a while",
        "poll_page_size": 0,
        "shared_key": "",
    }));
    let keys: Vec<String> = TwilioKind::validate(&config).into_iter().map(|p| p.key).collect();
    assert_eq!(
        keys,
        ["auth_token", "account_sid", "shared_key", "public_url", "base_url", "poll_lookback", "poll_page_size"]
    );
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
