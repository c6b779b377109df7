//! The `retell` block.

use handoffd_contract::kind::ConnectorKind;
use handoffd_retell::{RetellConfig, RetellKind};
use serde_json::json;

#[test]
fn the_block_is_checked_and_the_key_stays_out_of_logs() {
    let config: RetellConfig = serde_json::from_value(json!({"id": "r", "api_key": "key_abc123"})).unwrap();
    assert!(RetellKind::validate(&config).is_empty());
    assert!(!format!("{config:?}").contains("key_abc123"));
    let bad: RetellConfig = serde_json::from_value(
        json!({"id": "r", "api_key": " ", "base_url": "nope", "poll": {"look_back": "2m", "settle": "5m"}}),
    )
    .unwrap();
    let keys: Vec<String> = RetellKind::validate(&bad).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["api_key", "base_url", "poll.look_back"]);
    assert!(serde_json::from_value::<RetellConfig>(json!({"id": "r", "api_key": "k", "apikey": "k"})).is_err());
}
