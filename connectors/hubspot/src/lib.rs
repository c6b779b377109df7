//! HubSpot CRM connector: contacts, tasks, owners, OAuth2 refresh, request limits.
//!
//! Layout:
//! - [`config`]: the `kind: hubspot` config block, with its `limits:` overrides.
//! - `validate`: every problem of a block, at its key (what `handoffd check` prints and
//!   [`Hubspot::new`] refuses); `kind`: `kind: hubspot` for the daemon's registry.
//! - `client`: one account over HTTP (bearer token, limiters, budget headers, no retries).
//! - `classify`: HubSpot's answers and transport failures as the contract's `CrmError`.
//! - `oauth`: private-app token or OAuth2 refresh (single-flight, saved to the vault).
//! - `limits`: published defaults, GCRA limiters, the live budget.
//! - `contacts`, `tasks`, `owners`: the calls; `wire`: HubSpot's JSON.
//! - `fuzzing` (hidden): answers replayed through the same code without a network, for fuzzing.

mod classify;
mod client;
mod config;
mod contacts;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod kind;
mod limits;
mod oauth;
mod owners;
mod tasks;
mod validate;
mod wire;

use std::sync::Arc;

use handoffd_contract::auth::TokenVault;
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

pub use config::{HubspotConfig, LimitsConfig, OAuthConfig};
pub use error::HubspotError;
pub use kind::HubspotKind;
pub use oauth::REFRESH_MARGIN;
pub use tasks::SUBJECT_MAX_CHARS;
pub use validate::validate;

use client::Api;
use limits::Limiters;
use oauth::TokenSource;

/// One HubSpot portal, as a [`Crm`].
pub struct Hubspot {
    config: HubspotConfig,
    policy: RateLimitPolicy,
    api: Api,
}

impl Hubspot {
    /// Checks the config with [`validate`] (so it refuses exactly what `handoffd check` reports)
    /// and builds the connector; no network call is made here (the stored OAuth token is read
    /// from `vault` on first use).
    pub fn new(config: HubspotConfig, vault: Arc<dyn TokenVault>, http: reqwest::Client) -> Result<Self, HubspotError> {
        let id = config.id.clone();
        let problems = validate(&config);
        if !problems.is_empty() {
            return Err(HubspotError::Invalid { id, problems });
        }
        let base_url = validate::api_base(&config);
        let policy = limits::policy(&config.limits);
        let tokens = match (&config.access_token, &config.oauth) {
            (Some(token), _) => TokenSource::Fixed(token.trim().to_owned()),
            (None, Some(oauth)) => {
                let token_url = validate::token_url(&base_url)
                    .map_err(|problem| HubspotError::Invalid { id: id.clone(), problems: vec![problem] })?;
                TokenSource::oauth(&id, oauth, token_url, vault, http.clone(), config.request_timeout)
            }
            (None, None) => unreachable!("`validate` requires `access_token` or `oauth`"),
        };
        let api = Api::new(http, base_url, tokens, Limiters::new(&policy), config.request_timeout);
        Ok(Self { config, policy, api })
    }
}

// Secrets never reach logs: the config's own Debug redacts them and tokens are not shown.
impl std::fmt::Debug for Hubspot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hubspot").field("config", &self.config).field("limits", &self.policy).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Crm for Hubspot {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn limits(&self) -> RateLimitPolicy {
        self.policy.clone()
    }

    fn live_budget(&self) -> LiveBudget {
        self.api.budget()
    }

    async fn assume_budget_spent(&self) -> bool {
        self.api.assume_budget_spent().await;
        true
    }

    async fn prepare(&self) -> Result<(), CrmError> {
        // Side by side: each is a read, then a create when missing.
        let marker = async {
            match self.config.contact_marker {
                Some(_) => contacts::prepare(&self.api).await,
                None => Ok(()),
            }
        };
        let (marker, tasks) = tokio::join!(marker, tasks::prepare(&self.api));
        marker.and(tasks)
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        contacts::find(&self.api, keys).await
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        contacts::create(&self.api, self.config.contact_marker.as_deref(), contact).await
    }

    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        contacts::create_many(&self.api, self.policy.max_batch, self.config.contact_marker.as_deref(), contacts).await
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        contacts::changed_since(&self.api, cursor).await
    }

    async fn contacts_changed_elsewhere(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        page: Option<&str>,
    ) -> Result<Option<ContactPage>, CrmError> {
        let Some(marker) = self.config.contact_marker.as_deref() else { return Ok(None) };
        contacts::changed_elsewhere(&self.api, marker, since, page).await.map(Some)
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        owners::list(&self.api).await
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        tasks::create(&self.api, self.policy.max_batch, tasks).await
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        tasks::update(&self.api, self.policy.max_batch, tasks).await
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        tasks::find_by_external_keys(&self.api, keys).await
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        tasks::states(&self.api, self.policy.max_batch, task_ids).await
    }
}
