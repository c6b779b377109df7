//! A Salesforce mock and a connector pointed at it.

use std::sync::Arc;

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::crm::Crm;
use handoffd_mocks::salesforce::{SalesforceMock, SalesforceOptions};
use handoffd_mocks::{MockCrm, MockHandle, MockOptions};
use handoffd_salesforce::{Salesforce, SalesforceConfig};
use serde_json::{Value, json};

/// A mock started with `options`, and a connector for it on the refresh-token flow with `extra` config keys.
pub async fn start(options: MockOptions, extra: Value) -> (Arc<dyn Crm>, SalesforceMock, MockHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let app = options.salesforce.clone();
    let mock = MockCrm::start(options, listener).await;
    let mut block = json!({
        "id": "salesforce-test",
        "base_url": mock.salesforce_login_url(),
        "client_id": app.client_id,
        "client_secret": app.client_secret.0,
        "refresh_token": app.refresh_token.0,
        // A lost answer must be noticed quickly; the mock closes the connection at once anyway.
        "request_timeout": "5s",
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            block.as_object_mut().expect("an object").remove(&key);
        } else {
            block[key] = value;
        }
    }
    let config: SalesforceConfig = serde_json::from_value(block).expect("the config parses");
    let salesforce =
        Salesforce::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds");
    (Arc::new(salesforce), mock.salesforce(), mock)
}

/// The mock's defaults and a connector on them.
pub async fn fresh() -> (Arc<dyn Crm>, SalesforceMock, MockHandle) {
    start(MockOptions::default(), json!({})).await
}

/// Mock options whose org differs from the defaults.
pub fn with_org(org: SalesforceOptions) -> MockOptions {
    MockOptions { salesforce: org, ..MockOptions::default() }
}
