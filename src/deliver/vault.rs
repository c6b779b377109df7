//! OAuth tokens a connector refreshed, kept in the store so a restart does not spend a refresh
//! and a rotated refresh token is never lost.

use std::sync::Arc;

use async_trait::async_trait;
use handoffd_contract::auth::{StoredToken, TokenVault};

use crate::store::Store;

pub struct StoreVault(pub Arc<dyn Store>);

#[async_trait]
impl TokenVault for StoreVault {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String> {
        let Some(text) = self.0.load_token(connector_id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        serde_json::from_str(&text).map(Some).map_err(|e| format!("stored token of `{connector_id}`: {e}"))
    }

    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String> {
        let text = serde_json::to_string(token).map_err(|e| e.to_string())?;
        self.0.save_token(connector_id, &text, chrono::Utc::now()).await.map_err(|e| e.to_string())
    }
}
