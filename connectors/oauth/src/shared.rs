//! The access token a connector sends, shared through the vault with every instance that uses the same store.
//!
//! Within a process one caller refreshes at a time (the others wait on the lock and reuse the result). Across
//! processes the vault's refresh right ([`TokenVault::begin_refresh`], a lease in the store) lets one instance
//! refresh while the others wait and then read what it saved. Before refreshing, the vault is read again: a
//! token another instance saved meanwhile is used instead (that is also how a 401 on a token someone else
//! already replaced is answered). A vendor that rotates refresh tokens refuses the old one once it is used, so
//! the new one is saved before the refresh right is given up; if saving fails the right is kept until it
//! expires and saving is tried again on the next call.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::auth::{StoredToken, TokenVault};
use handoffd_contract::crm::CrmError;
use tokio::sync::Mutex;

use crate::grant::Grant;

/// Refresh this long before the token expires, so no call goes out with a dying token.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How long one instance may hold the right to refresh: longer than a token request takes.
const REFRESH_HOLD: Duration = Duration::from_secs(60);

/// How often an instance waiting for another's refresh reads the vault again.
const WAIT_STEP: Duration = Duration::from_millis(200);

/// Attempts at saving a freshly minted token before carrying on with it unsaved.
const SAVE_ATTEMPTS: u32 = 3;

pub struct SharedToken {
    connector_id: String,
    /// For messages.
    vendor: &'static str,
    grant: Box<dyn Grant>,
    vault: Arc<dyn TokenVault>,
    /// The refresh token in the config: used until the vault holds a newer (rotated) one, and again when the
    /// vault's is refused (an admin authorised the app again and put the new one in the config).
    configured_refresh_token: Option<String>,
    /// Who holds the refresh right: unique to this client in this process life.
    holder: String,
    hold: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    token: Option<StoredToken>,
    /// The token was minted but could not be saved: saved again before the next use.
    unsaved: bool,
}

impl SharedToken {
    pub fn new(
        connector_id: &str,
        vendor: &'static str,
        grant: Box<dyn Grant>,
        vault: Arc<dyn TokenVault>,
        configured_refresh_token: Option<String>,
    ) -> Self {
        Self {
            connector_id: connector_id.to_owned(),
            vendor,
            grant,
            vault,
            configured_refresh_token,
            holder: format!("{connector_id}/{}", uuid::Uuid::new_v4().simple()),
            hold: REFRESH_HOLD,
            state: Mutex::default(),
        }
    }

    /// How long the refresh right is held at most (tests shorten it to see a crashed holder's lapse).
    pub fn with_refresh_hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// The token to send now: the one in memory while it is fresh, else the vault's, else a new one.
    pub async fn current(&self) -> Result<StoredToken, CrmError> {
        let mut state = self.state.lock().await;
        self.save_if_unsaved(&mut state).await;
        if let Some(token) = &state.token
            && is_fresh(token, Utc::now())
        {
            return Ok(token.clone());
        }
        self.renew(&mut state, None).await
    }

    /// After the vendor refused `rejected`: the token someone (here or in another instance) put in its place,
    /// or a new one.
    pub async fn replace(&self, rejected: &str) -> Result<StoredToken, CrmError> {
        let mut state = self.state.lock().await;
        self.save_if_unsaved(&mut state).await;
        if let Some(token) = &state.token
            && usable(token, Some(rejected))
        {
            return Ok(token.clone());
        }
        self.renew(&mut state, Some(rejected)).await
    }

    async fn renew(&self, state: &mut State, rejected: Option<&str>) -> Result<StoredToken, CrmError> {
        let give_up = tokio::time::Instant::now() + self.hold + WAIT_STEP * 10;
        loop {
            let stored = self.load().await;
            if let Some(token) = stored.filter(|t| usable(t, rejected)) {
                state.token = Some(token.clone());
                return Ok(token);
            }
            let granted = match self.vault.begin_refresh(&self.connector_id, &self.holder, self.hold).await {
                Ok(granted) => granted,
                // A busy store (SQLite's lock) is waited out like another holder; a store that stays down is not.
                Err(e) if tokio::time::Instant::now() >= give_up => {
                    return Err(CrmError::Unavailable(format!(
                        "could not coordinate the {} token refresh: {e}",
                        self.vendor
                    )));
                }
                Err(e) => {
                    tracing::warn!(connector = %self.connector_id, "Could not take the {} refresh right yet: {e}", self.vendor);
                    false
                }
            };
            if !granted {
                if tokio::time::Instant::now() >= give_up {
                    return Err(CrmError::Unavailable(format!(
                        "another instance has been refreshing the {} token of `{}` for over {:?}",
                        self.vendor, self.connector_id, self.hold
                    )));
                }
                tokio::time::sleep(WAIT_STEP).await;
                continue;
            }
            // Read again under the right: a holder that finished between our read and our taking it saved its token.
            let stored = self.load().await;
            if let Some(token) = stored.as_ref().filter(|t| usable(t, rejected)) {
                self.end_refresh().await;
                state.token = Some(token.clone());
                return Ok(token.clone());
            }
            let result = self.mint(stored.as_ref()).await;
            match result {
                Ok(token) => {
                    state.unsaved = !self.save(&token).await;
                    if !state.unsaved {
                        self.end_refresh().await;
                    }
                    state.token = Some(token.clone());
                    return Ok(token);
                }
                Err(error) => {
                    self.end_refresh().await;
                    return Err(error);
                }
            }
        }
    }

    /// A new token from the newest refresh token known; the one used is kept when the answer has none.
    async fn mint(&self, stored: Option<&StoredToken>) -> Result<StoredToken, CrmError> {
        let stored_refresh = stored.and_then(|t| t.refresh_token.clone());
        let refresh = stored_refresh.clone().or_else(|| self.configured_refresh_token.clone());
        tracing::debug!(connector = %self.connector_id, "Refreshing the {} access token.", self.vendor);
        let (minted, used) = match self.grant.mint(refresh.as_deref()).await {
            Err(CrmError::Auth(message))
                if stored_refresh.is_some()
                    && self.configured_refresh_token.is_some()
                    && self.configured_refresh_token != stored_refresh =>
            {
                tracing::warn!(
                    connector = %self.connector_id,
                    "{} refused the stored refresh token ({message}); trying the configured one.",
                    self.vendor
                );
                (
                    self.grant.mint(self.configured_refresh_token.as_deref()).await?,
                    self.configured_refresh_token.clone(),
                )
            }
            other => (other?, refresh),
        };
        Ok(StoredToken { refresh_token: minted.refresh_token.clone().or(used), ..minted })
    }

    async fn load(&self) -> Option<StoredToken> {
        match self.vault.load(&self.connector_id).await {
            Ok(token) => token,
            // Not fatal: a refresh gets a new token (and saves it again).
            Err(e) => {
                tracing::warn!(connector = %self.connector_id, "Could not read the stored {} token: {e}", self.vendor);
                None
            }
        }
    }

    /// Whether the token is in the vault now.
    async fn save(&self, token: &StoredToken) -> bool {
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.vault.save(&self.connector_id, token).await {
                Ok(()) => return true,
                Err(e) => tracing::error!(
                    connector = %self.connector_id,
                    attempt,
                    "Could not save the refreshed {} token (another instance cannot use it, and a rotated refresh \
                     token lives only in this process until it is saved): {e}",
                    self.vendor
                ),
            }
            tokio::time::sleep(Duration::from_millis(100) * attempt).await;
        }
        false
    }

    async fn save_if_unsaved(&self, state: &mut State) {
        if state.unsaved
            && let Some(token) = state.token.clone()
            && self.save(&token).await
        {
            state.unsaved = false;
            self.end_refresh().await;
        }
    }

    async fn end_refresh(&self) {
        if let Err(e) = self.vault.end_refresh(&self.connector_id, &self.holder).await {
            // It lapses by itself after `hold`.
            tracing::warn!(connector = %self.connector_id, "Could not give the {} refresh right up: {e}", self.vendor);
        }
    }
}

/// Usable for at least `REFRESH_MARGIN` more (a token without an expiry is used until it is refused).
pub fn is_fresh(token: &StoredToken, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
    token.expires_at.is_none_or(|at| at - margin > now)
}

fn usable(token: &StoredToken, rejected: Option<&str>) -> bool {
    rejected != Some(token.access_token.as_str()) && is_fresh(token, Utc::now())
}

#[cfg(test)]
mod tests;
