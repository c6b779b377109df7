use std::sync::Arc;

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::crm::Crm;
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::zoho::{ZohoHandle, ZohoMock, ZohoMockOptions, ZohoMockServer};
use handoffd_zoho::{Zoho, ZohoConfig};
use serde_json::json;

/// A Zoho mock with its defaults, requests added to `log`.
pub async fn mock(options: ZohoMockOptions, log: RequestLog) -> ZohoHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    ZohoMockServer::start(options, listener, log).await
}

/// A connector for `mock`, both hosts pointed at it.
pub fn connector(mock: &ZohoHandle) -> Zoho {
    let defaults = ZohoMockOptions::default();
    let config: ZohoConfig = serde_json::from_value(json!({
        "id": "zoho-compliance",
        "data_centre": "in",
        "base_url": mock.base_url(),
        "accounts_url": mock.base_url(),
        "client_id": defaults.client_id,
        "client_secret": defaults.client_secret,
        "refresh_token": defaults.refresh_token,
        // A lost answer must be noticed quickly; the mock closes the connection at once anyway.
        "request_timeout": "5s",
    }))
    .expect("the config parses");
    Zoho::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds")
}

/// A fresh mock and connector for one check; the handle keeps the mock running.
pub async fn fresh_with(log: RequestLog) -> (Arc<dyn Crm>, ZohoMock, ZohoHandle) {
    let mock = mock(ZohoMockOptions::default(), log).await;
    let crm: Arc<dyn Crm> = Arc::new(connector(&mock));
    (crm, mock.view(), mock)
}
