use std::sync::Arc;

use handoffd_contract::auth::MemoryVault;
use handoffd_contract::crm::Crm;
use handoffd_mocks::pipedrive::{PipedriveHandle, PipedriveMock, PipedriveMockOptions, PipedriveMockServer};
use handoffd_mocks::recorded::RequestLog;
use handoffd_pipedrive::{Pipedrive, PipedriveConfig};
use serde_json::{Value, json};

pub async fn mock(options: PipedriveMockOptions, log: RequestLog) -> PipedriveHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    PipedriveMockServer::start(options, listener, log).await
}

/// A connector for `mock` with its API token, `extra` keys merged in (`oauth` replaces the token).
pub fn connector(mock: &PipedriveHandle, extra: Value) -> Pipedrive {
    let mut block = json!({
        "id": "pipedrive-compliance",
        "base_url": mock.base_url(),
        "oauth_url": mock.base_url(),
        "request_timeout": "5s",
    });
    let extra = extra.as_object().cloned().unwrap_or_default();
    if !extra.contains_key("oauth") {
        block["api_token"] = json!(PipedriveMockOptions::default().api_token);
    }
    for (key, value) in extra {
        block[key] = value;
    }
    let config: PipedriveConfig = serde_json::from_value(block).expect("the config parses");
    Pipedrive::new(config, Arc::new(MemoryVault::default()), reqwest::Client::new()).expect("it builds")
}

pub async fn fresh_with(log: RequestLog) -> (Arc<dyn Crm>, PipedriveMock, PipedriveHandle) {
    fresh_with_extra(log, json!({})).await
}

/// A fresh mock and a connector with `extra` config keys (see [`connector`]).
pub async fn fresh_with_extra(log: RequestLog, extra: Value) -> (Arc<dyn Crm>, PipedriveMock, PipedriveHandle) {
    let mock = mock(PipedriveMockOptions::default(), log).await;
    let crm: Arc<dyn Crm> = Arc::new(connector(&mock, extra));
    (crm, mock.view(), mock)
}
