//! OAuth: HTTP Basic client credentials, an expired access token refreshed once and the call retried.

use handoffd_contract::crm::Crm;
use handoffd_mocks::pipedrive::PipedriveMockOptions;
use handoffd_mocks::recorded::RequestLog;
use serde_json::json;

use crate::support::{connector, mock};

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_retried() {
    let log = RequestLog::default();
    let mock = mock(PipedriveMockOptions::default(), log.clone()).await;
    let options = PipedriveMockOptions::default();
    let oauth = json!({"client_id": options.client_id, "client_secret": options.client_secret, "refresh_token": options.refresh_token});
    let pipedrive = connector(&mock, json!({ "oauth": oauth }));
    pipedrive.list_owners().await.expect("the first call");
    mock.expire_tokens();
    let owners = pipedrive.list_owners().await.expect("the call after expiry");
    assert_eq!(owners.len(), 2);
    let tokens = log.requests().iter().filter(|r| r.path == "/oauth/token").count();
    assert_eq!(tokens, 2, "one refresh at start, one for the expiry");
    let users: Vec<_> = log.requests().into_iter().filter(|r| r.path == "/v1/users").collect();
    assert_eq!(users.len(), 3, "the refused call was sent once more");
    let auth = users[0].headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("Bearer"));
}

#[tokio::test]
async fn an_api_token_goes_in_its_header_never_in_the_url() {
    let log = RequestLog::default();
    let mock = mock(PipedriveMockOptions::default(), log.clone()).await;
    connector(&mock, json!({})).list_owners().await.expect("listed");
    let request = &log.requests()[0];
    assert!(request.headers.iter().any(|(n, _)| n == "x-api-token"));
    assert!(!request.query.as_deref().unwrap_or_default().contains("api_token"), "{:?}", request.query);
}

#[tokio::test]
async fn a_token_without_a_needed_scope_is_refused_before_the_first_write_naming_it() {
    let options =
        PipedriveMockOptions { scope: "base,contacts:full,activities:full,users:read".into(), ..Default::default() };
    let mock = mock(options.clone(), RequestLog::default()).await;
    let oauth = json!({"client_id": options.client_id, "client_secret": options.client_secret, "refresh_token": options.refresh_token});
    let error = connector(&mock, json!({ "oauth": oauth })).prepare().await.expect_err("search:read is missing");
    assert!(
        matches!(&error, handoffd_contract::crm::CrmError::Auth(m) if m.contains("`search:read`") && m.contains("finding persons")),
        "{error}"
    );
    // With every scope, prepare goes through.
    let mock = mock_all_scopes().await;
    let options = PipedriveMockOptions::default();
    let oauth = json!({"client_id": options.client_id, "client_secret": options.client_secret, "refresh_token": options.refresh_token});
    connector(&mock, json!({ "oauth": oauth })).prepare().await.expect("every scope granted");
}

async fn mock_all_scopes() -> handoffd_mocks::pipedrive::PipedriveHandle {
    mock(PipedriveMockOptions::default(), RequestLog::default()).await
}
