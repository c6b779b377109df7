//! Credentials a connector refreshes and the daemon keeps (e.g. OAuth2 access tokens).
//!
//! A connector never touches the database: the daemon hands it a [`TokenVault`] that persists
//! what the connector refreshed, so a restart does not spend a refresh and a rotated refresh
//! token is never lost.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub access_token: String,
    /// Present when the vendor rotated it on refresh.
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String>;
    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String>;
}

/// A vault that keeps tokens in memory only (tests, `handoffd explain`).
#[derive(Debug, Default)]
pub struct MemoryVault(std::sync::Mutex<std::collections::HashMap<String, StoredToken>>);

#[async_trait]
impl TokenVault for MemoryVault {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.get(connector_id).cloned())
    }

    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String> {
        self.0.lock().map_err(|e| e.to_string())?.insert(connector_id.to_owned(), token.clone());
        Ok(())
    }
}
