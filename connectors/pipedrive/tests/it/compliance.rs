//! The CRM compliance suite (`handoffd_mocks::compliance`), every check on a fresh Pipedrive mock and connector.
//!
//! Pipedrive has no batch endpoint for persons and its person search takes one term: the two checks about
//! batching (five contacts created in fewer than five calls; seven keys found in at most two searches) cannot
//! pass against Pipedrive's API. The suite runs with OAuth, whose access tokens expire, and with an API token,
//! which never does (so the expired-token check has nothing to check). Each run requires exactly the checks
//! named here to fail, each for the reason named, so a regression in anything else still fails it.

use std::time::Duration;

use handoffd_mocks::compliance;
use handoffd_mocks::pipedrive::PipedriveMockOptions;
use handoffd_mocks::recorded::RequestLog;
use serde_json::json;

use crate::support::{fresh_with, fresh_with_extra};

/// The checks about batching, which Pipedrive's API cannot meet, and the words their failure must contain.
const BATCHING: [(&str, &str); 2] = [
    ("contacts are created in batches, one result per input in input order", "not batched"),
    ("contacts are found by phone and email in one batched search", "not batched"),
];

/// With an API token the connector never meets the token endpoint.
const NO_TOKEN_TO_EXPIRE: (&str, &str) =
    ("an expired access token is refreshed once and the call sent again", "holds no token");

/// Fails unless `failures` are exactly `expected`, each with its reason.
fn assert_exactly(failures: &[String], expected: &[(&str, &str)]) {
    for (check, why) in expected {
        assert!(compliance::CHECKS.iter().any(|c| c.name == *check), "no check is named `{check}`");
        let prefix = format!("{check} (Pipedrive): ");
        assert!(
            failures.iter().any(|f| f.starts_with(&prefix) && f.contains(why)),
            "`{check}` did not fail for its reason ({why}); failures:\n{}",
            failures.join("\n")
        );
    }
    assert_eq!(failures.len(), expected.len(), "other checks failed, or passed:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn pipedrive_passes_the_crm_compliance_suite_but_for_batching() {
    let started = tokio::time::Instant::now();
    let options = PipedriveMockOptions::default();
    let oauth = json!({"oauth": {
        "client_id": options.client_id,
        "client_secret": options.client_secret,
        "refresh_token": options.refresh_token,
    }});
    let failures = compliance::run_all(|| fresh_with_extra(RequestLog::default(), oauth.clone())).await;
    assert_exactly(&failures, &BATCHING);
    assert!(started.elapsed() < Duration::from_secs(60), "the suite took {:?}", started.elapsed());
}

#[tokio::test]
async fn with_an_api_token_too_but_for_batching_and_expiry() {
    let failures = compliance::run_all(|| fresh_with(RequestLog::default())).await;
    assert_exactly(&failures, &[BATCHING[0], BATCHING[1], NO_TOKEN_TO_EXPIRE]);
}

#[tokio::test]
async fn the_limits_say_one_activity_a_call() {
    let (crm, _mock, _keep) = fresh_with(RequestLog::default()).await;
    let limits = crm.limits();
    assert_eq!((limits.max_batch, limits.requests, limits.window), (1, 20, Duration::from_secs(2)));
    assert_eq!(limits.daily, Some(30_000));
}
