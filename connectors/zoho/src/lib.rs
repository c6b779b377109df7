//! Zoho CRM (API v8) connector: contacts, tasks, users, OAuth 2.0 refresh on the organisation's data centre,
//! API credits and the concurrency cap.
//!
//! Config (`kind: zoho`, see [`ZohoConfig`]): `data_centre` (`com`, `eu`, `in`, `com.au`, `jp`, `ca`, `sa`,
//! `uk`, `com.cn`) sets both the accounts host (`accounts.zoho.<dc>`) and the API host (`www.zohoapis.<dc>`);
//! `client_id`, `client_secret` and `refresh_token` are the OAuth client's; `base_url` and `accounts_url`
//! override the hosts; `external_key_field` names the unique Tasks field that holds the handoff id; `limits`
//! gives the organisation's credits and concurrency.
//!
//! Idempotency: tasks are written with the upsert API, `duplicate_check_fields` on the external-key field, so a
//! write sent again after a lost answer updates the task it made instead of adding one.
//!
//! Layout:
//! - [`config`](ZohoConfig), `validate`, `kind`: the block, its problems, `kind: zoho` for the registry.
//! - `client`: one organisation over HTTP (the `Zoho-oauthtoken` header, no retries but one after a refused
//!   token) and the classification of failures; `oauth`: the refresh grant; `limits`: credits and concurrency.
//! - `contacts`, `tasks`, `owners`: the calls; `coql`: Query API queries (contacts by a hundred phones and
//!   emails a call); `criteria`: search criteria and their escaping (tasks by external key); `wire`: Zoho's JSON.

mod client;
mod config;
mod contacts;
mod coql;
mod criteria;
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
use handoffd_contract::kind::ConfigProblem;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

pub use config::{LimitsConfig, ZohoConfig};
pub use kind::ZohoKind;
pub use tasks::SUBJECT_MAX_CHARS;
pub use validate::{DATA_CENTRES, validate};

use client::Api;
use limits::Limits;

/// Why a `kind: zoho` connector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZohoError {
    /// The config has the problems [`validate`] reports (what `handoffd check` prints).
    #[error("connector `{id}`: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid { id: String, problems: Vec<ConfigProblem> },
}

/// One Zoho CRM organisation, as a [`Crm`].
pub struct Zoho {
    config: ZohoConfig,
    policy: RateLimitPolicy,
    api: Api,
}

impl Zoho {
    /// Checks the config with [`validate`] and builds the connector; no network call is made here.
    pub fn new(config: ZohoConfig, vault: Arc<dyn TokenVault>, http: reqwest::Client) -> Result<Self, ZohoError> {
        let invalid = |problems| ZohoError::Invalid { id: config.id.clone(), problems };
        let problems = validate(&config);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let token_url =
            handoffd_oauth::TokenUrl::new(format!("{}/oauth/v2/token", validate::accounts_base(&config)))
                .map_err(|e| invalid(vec![ConfigProblem::at("accounts_url", format!("gives no token URL: {e}"))]))?;
        let tokens = oauth::tokens(&config, token_url, vault, http.clone(), config.request_timeout);
        let policy = limits::policy(&config.limits);
        let api =
            Api::new(http, validate::api_base(&config), tokens, Limits::new(&config.limits), config.request_timeout);
        Ok(Self { config, policy, api })
    }
}

// Secrets never reach logs: the config's own Debug redacts them.
impl std::fmt::Debug for Zoho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zoho").field("config", &self.config).field("limits", &self.policy).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Crm for Zoho {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn limits(&self) -> RateLimitPolicy {
        self.policy.clone()
    }

    fn live_budget(&self) -> LiveBudget {
        self.api.budget()
    }

    /// The token's scopes, before the first write: a missing one is one clear error naming it.
    async fn prepare(&self) -> Result<(), CrmError> {
        let granted = self.api.granted_scope().await?;
        handoffd_oauth::require_scopes("Zoho", granted.as_deref(), &oauth::NEEDED_SCOPES)
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        contacts::find(&self.api, keys).await
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        let mut results = contacts::create_many(&self.api, 1, std::slice::from_ref(contact)).await;
        results.pop().unwrap_or_else(|| Err(CrmError::Protocol("no result for the contact".to_owned())))
    }

    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        contacts::create_many(&self.api, self.policy.max_batch, contacts).await
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        contacts::changed_since(&self.api, cursor).await
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        owners::list(&self.api).await
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        tasks::create(&self.api, &self.config.external_key_field, self.policy.max_batch, tasks).await
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        tasks::update(&self.api, &self.config.external_key_field, self.policy.max_batch, tasks).await
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        tasks::find_by_external_keys(&self.api, &self.config.external_key_field, keys).await
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        tasks::states(&self.api, task_ids).await
    }
}
