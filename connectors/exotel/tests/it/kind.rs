//! `kind: exotel`: validation finds every problem at its key; the kind builds what it declares.

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::kind::{BuildContext, Builds, ConnectorKind};
use handoffd_exotel::ExotelKind;
use serde_json::json;

use super::*;

#[test]
fn a_valid_block_builds_a_webhook_that_takes_gets_and_with_poll_a_poll_source() {
    let config =
        config(json!({"allowed_sources": ["203.0.113.0/24"], "base_url": "https://api.in.exotel.com", "poll": {}}));
    assert!(ExotelKind::validate(&config).is_empty(), "{:?}", ExotelKind::validate(&config));
    let context = BuildContext { vault: std::sync::Arc::new(MemoryVault::default()), http: reqwest::Client::new() };
    let built = ExotelKind::build(&config, &context).unwrap();
    assert_eq!(Builds::of(&built), ExotelKind::BUILDS);
    assert!(built.webhook_source.unwrap().events_by_get(), "Passthru delivers by GET");
    let webhooks_only: handoffd_exotel::ExotelConfig =
        serde_json::from_value(json!({"id": "e", "token": TOKEN})).unwrap();
    assert!(ExotelKind::validate(&webhooks_only).is_empty());
    assert!(ExotelKind::build(&webhooks_only, &context).unwrap().poll_source.is_none());
    let poll_without_keys: handoffd_exotel::ExotelConfig =
        serde_json::from_value(json!({"id": "e", "token": TOKEN, "poll": {}})).unwrap();
    let keys: Vec<String> = ExotelKind::validate(&poll_without_keys).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["account_sid", "api_key", "api_token"]);
}

#[test]
fn every_problem_is_reported_at_its_key() {
    let config = config(json!({
        "token": "short",
        "allowed_sources": ["exotel.com", "10.0.0.0/8"],
        "api_key": "",
        "utc_offset": "IST",
        "base_url": "api.exotel.com",
        "poll": {"look_back": "60d"},
        "poll_page_size": 500,
    }));
    let keys: Vec<String> = ExotelKind::validate(&config).into_iter().map(|p| p.key).collect();
    assert_eq!(
        keys,
        ["token", "allowed_sources[0]", "api_key", "utc_offset", "base_url", "poll_page_size", "poll.look_back"]
    );
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let shown = format!("{:?}", config(json!({})));
    assert!(!shown.contains(TOKEN) && !shown.contains(API_TOKEN), "{shown}");
}
