//! `kind: whatsapp_cloud` for the registry: validation finds every problem at its key, and the
//! parts built are those declared.

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::kind::{BuildContext, Builds, ConnectorKind};
use handoffd_whatsapp_cloud::{WhatsappCloudConfig, WhatsappCloudKind};
use serde_json::json;

fn parsed(value: serde_json::Value) -> WhatsappCloudConfig {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_valid_block_has_no_problem_and_builds_what_it_declares() {
    let config = crate::config();
    assert_eq!(WhatsappCloudKind::validate(&config), vec![]);
    let context = BuildContext { vault: std::sync::Arc::new(MemoryVault::default()), http: reqwest::Client::new() };
    let built = WhatsappCloudKind::build(&config, &context).unwrap();
    assert_eq!(Builds::of(&built), WhatsappCloudKind::BUILDS);
}

#[test]
fn every_problem_is_named_at_its_key() {
    let config = parsed(json!({"id": "wa", "app_secret": " ", "verify_token": "", "phone_number_id": "1066, PHONE",
        "base_url": "ftp://graph", "agent_access_tokens": ["ok", ""]}));
    let keys: Vec<String> = WhatsappCloudKind::validate(&config).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["app_secret", "verify_token", "phone_number_id", "base_url", "agent_access_tokens[1]"]);
    let none = parsed(json!({"id": "wa", "app_secret": "s", "verify_token": "t", "phone_number_id": " , "}));
    let problems = WhatsappCloudKind::validate(&none);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "phone_number_id");
}
