//! Credentials a connector refreshes and the daemon keeps (e.g. OAuth2 access tokens).
//!
//! A connector never touches the database: the daemon hands it a [`TokenVault`] that persists
//! what the connector refreshed, so a restart does not spend a refresh and a rotated refresh
//! token is never lost. Several instances may share one vault (one PostgreSQL): the vault also says which of
//! them may refresh a token now ([`TokenVault::begin_refresh`]), so a rotated refresh token is used once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub access_token: String,
    /// Present when the vendor rotated it on refresh.
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Where to call the API with this token, when the vendor says so per token (Salesforce's `instance_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
    /// The scopes granted, as the token answer listed them (`None`: it did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl StoredToken {
    /// A token with nothing but its access token (tests, fixed tokens).
    pub fn access_only(access_token: impl Into<String>) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: None,
            expires_at: None,
            instance_url: None,
            scope: None,
        }
    }
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .field("scope", &self.scope)
            .finish()
    }
}

#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String>;
    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String>;

    /// Take the right to refresh `connector_id`'s token for at most `hold`, among every instance sharing this
    /// vault; `false` while another holder has it (it will save what it gets: read it then). A vault that only
    /// one process uses may always say yes (the connector refreshes one caller at a time within a process).
    async fn begin_refresh(&self, connector_id: &str, holder: &str, hold: Duration) -> Result<bool, String> {
        let _ = (connector_id, holder, hold);
        Ok(true)
    }

    /// Give the right to refresh up, once the new token is saved.
    async fn end_refresh(&self, connector_id: &str, holder: &str) -> Result<(), String> {
        let _ = (connector_id, holder);
        Ok(())
    }
}

/// A vault that keeps tokens in memory only (tests, `handoffd explain`). Clients sharing one (tests of several
/// instances) refresh one at a time, as they would sharing a store.
#[derive(Debug, Default)]
pub struct MemoryVault {
    tokens: std::sync::Mutex<std::collections::HashMap<String, StoredToken>>,
    /// Connector id -> (holder, until when) of the right to refresh.
    refreshing: std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>,
}

#[async_trait]
impl TokenVault for MemoryVault {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String> {
        Ok(self.tokens.lock().map_err(|e| e.to_string())?.get(connector_id).cloned())
    }

    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String> {
        self.tokens.lock().map_err(|e| e.to_string())?.insert(connector_id.to_owned(), token.clone());
        Ok(())
    }

    async fn begin_refresh(&self, connector_id: &str, holder: &str, hold: Duration) -> Result<bool, String> {
        let mut refreshing = self.refreshing.lock().map_err(|e| e.to_string())?;
        let now = std::time::Instant::now();
        match refreshing.get(connector_id) {
            Some((current, until)) if current != holder && *until > now => Ok(false),
            _ => {
                refreshing.insert(connector_id.to_owned(), (holder.to_owned(), now + hold));
                Ok(true)
            }
        }
    }

    async fn end_refresh(&self, connector_id: &str, holder: &str) -> Result<(), String> {
        let mut refreshing = self.refreshing.lock().map_err(|e| e.to_string())?;
        if refreshing.get(connector_id).is_some_and(|(current, _)| current == holder) {
            refreshing.remove(connector_id);
        }
        Ok(())
    }
}
