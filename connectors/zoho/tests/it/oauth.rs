//! The refresh grant on the accounts server, and an expired access token refreshed once and the call retried.

use handoffd_contract::crm::{Crm, CrmError};
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::zoho::ZohoMockOptions;

use crate::support::{connector, mock};

fn token_calls(log: &RequestLog) -> usize {
    log.requests().iter().filter(|r| r.path == "/oauth/v2/token").count()
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_retried() {
    let log = RequestLog::default();
    let mock = mock(ZohoMockOptions::default(), log.clone()).await;
    let zoho = connector(&mock);
    zoho.list_owners().await.expect("the first call");
    zoho.list_owners().await.expect("a second call reuses the token");
    assert_eq!(token_calls(&log), 1);

    mock.expire_tokens();
    let owners = zoho.list_owners().await.expect("the call after expiry succeeds");
    assert_eq!(owners.len(), 2);
    assert_eq!(token_calls(&log), 2, "one refresh for one expiry");
    let calls: Vec<_> = log.requests().into_iter().filter(|r| r.path == "/crm/v8/users").collect();
    assert_eq!(calls.len(), 4, "the refused call was sent once more, not more");
    let auth = calls[0].headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("Zoho-oauthtoken"), "Zoho's own scheme");
}

#[tokio::test]
async fn a_refused_refresh_token_is_an_auth_error_with_zohos_reason() {
    let options = ZohoMockOptions { refresh_token: "1000.another".into(), ..ZohoMockOptions::default() };
    let mock = mock(options, RequestLog::default()).await;
    let error = connector(&mock).list_owners().await.expect_err("the refresh is refused");
    assert!(matches!(&error, CrmError::Auth(m) if m.contains("invalid_code")), "{error}");
    assert!(!error.is_retriable());
}

#[tokio::test]
async fn a_token_without_a_needed_scope_is_refused_before_the_first_write_naming_it() {
    let options =
        ZohoMockOptions { scope: "ZohoCRM.modules.ALL ZohoCRM.users.READ".into(), ..ZohoMockOptions::default() };
    let mock = mock(options, RequestLog::default()).await;
    let error = connector(&mock).prepare().await.expect_err("ZohoCRM.coql.READ is missing");
    assert!(matches!(&error, CrmError::Auth(m) if m.contains("`ZohoCRM.coql.READ`")), "{error}");
    let mock = mock_default().await;
    connector(&mock).prepare().await.expect("every scope granted");
}

async fn mock_default() -> handoffd_mocks::zoho::ZohoHandle {
    mock(ZohoMockOptions::default(), RequestLog::default()).await
}
