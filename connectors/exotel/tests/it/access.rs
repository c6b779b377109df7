//! Exotel signs nothing: the token in the URL and the source allowlist are checked, and the
//! token is never stored.

use handoffd_contract::webhook::VerifyError;
use serde_json::json;

use super::*;

#[test]
fn the_right_token_passes_and_is_not_kept_with_the_event() {
    let arrived = Arrived::passthru(std::str::from_utf8(&fixture("passthru_agentstream.query")).unwrap());
    let verified = arrived.verify(&connector(json!({}))).unwrap();
    assert!(!verified.query().contains(TOKEN), "the secret stays out of the inbox: {}", verified.query());
    assert!(verified.query().contains("CallSid=7a9e41c2b0d3f58e61a2c4d5e6f70812"));
}

#[test]
fn a_missing_or_wrong_token_is_refused() {
    let mut arrived = Arrived::post(&fixture("statuscallback_completed.form"), "application/x-www-form-urlencoded");
    arrived.query = String::new();
    assert!(matches!(arrived.verify(&connector(json!({}))), Err(VerifyError::Missing(_))));
    arrived.query = "token=ex-callback-token-8d41f0c3".into();
    assert_eq!(arrived.verify(&connector(json!({}))).unwrap_err(), VerifyError::Mismatch);
    arrived.query = format!("token={}", &TOKEN[..TOKEN.len() - 1]);
    assert_eq!(arrived.verify(&connector(json!({}))).unwrap_err(), VerifyError::Mismatch);
    // The token must be the URL's, not the body's.
    arrived.query = String::new();
    arrived.body = format!("token={TOKEN}&CallSid=x&Status=completed").into_bytes();
    assert!(matches!(arrived.verify(&connector(json!({}))), Err(VerifyError::Missing(_))));
}

#[test]
fn with_an_allowlist_only_listed_sources_pass() {
    let listed = connector(json!({"allowed_sources": ["203.0.113.0/28", "2001:db8::1"]}));
    let mut arrived = Arrived::post(&fixture("statuscallback_completed.form"), "application/x-www-form-urlencoded");
    arrived.peer = Some("203.0.113.9".parse().unwrap());
    assert!(arrived.verify(&listed).is_ok());
    arrived.peer = Some("2001:db8::1".parse().unwrap());
    assert!(arrived.verify(&listed).is_ok());
    arrived.peer = Some("203.0.113.17".parse().unwrap());
    assert_eq!(arrived.verify(&listed).unwrap_err(), VerifyError::Mismatch);
    // The address is unknown (no socket): not listed, so refused.
    arrived.peer = None;
    assert_eq!(arrived.verify(&listed).unwrap_err(), VerifyError::Mismatch);
    // The right address does not make up for a wrong token.
    arrived.peer = Some("203.0.113.9".parse().unwrap());
    arrived.query = "token=nope".into();
    assert_eq!(arrived.verify(&listed).unwrap_err(), VerifyError::Mismatch);
}
