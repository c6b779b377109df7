//! Pipedrive connector: persons, activities, users, an API token or OAuth 2.0, the token budget.
//!
//! Config (`kind: pipedrive`, see [`PipedriveConfig`]): `api_token` (sent as the `x-api-token` header) or `oauth`
//! (`client_id`, `client_secret`, `refresh_token`; tokens from `oauth_url`); `base_url` (the company domain);
//! `lookup_window`; `limits` (`requests` and `search_requests` per 2-second window, `daily_tokens`).
//!
//! Pipedrive has no batch endpoint: [`limits`](Crm::limits) says `max_batch` 1, and the client paces single calls
//! under the 2-second window and counts the day's tokens. Activities go through API v2 (priority, owner, reads by
//! several ids); persons, users, activity fields and the lookup of lost writes through v1. How a lost write is
//! found again: see `activities`.
//!
//! Layout: `config` (block and validation), `kind`, `client` (auth, limits, budget, errors), `oauth`, `persons`,
//! `activities`, `users`.

mod activities;
mod client;
mod config;
mod kind;
mod oauth;
mod persons;
mod users;

use std::sync::Arc;

use handoffd_contract::auth::TokenVault;
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::kind::ConfigProblem;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

pub use config::{LimitsConfig, OAuthConfig, PipedriveConfig, validate};
pub use kind::PipedriveKind;

use activities::Priorities;
use client::{Api, Auth};

/// Why a `kind: pipedrive` connector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipedriveError {
    /// The config has the problems [`validate`] reports (what `handoffd check` prints).
    #[error("connector `{id}`: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid { id: String, problems: Vec<ConfigProblem> },
}

/// One Pipedrive company, as a [`Crm`].
pub struct Pipedrive {
    config: PipedriveConfig,
    policy: RateLimitPolicy,
    api: Api,
    priorities: Priorities,
}

impl Pipedrive {
    /// Checks the config with [`validate`] and builds the connector; no network call is made here.
    pub fn new(
        config: PipedriveConfig,
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
    ) -> Result<Self, PipedriveError> {
        let invalid = |problems| PipedriveError::Invalid { id: config.id.clone(), problems };
        let problems = validate(&config);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let auth = match (&config.api_token, &config.oauth) {
            (Some(token), _) => Auth::ApiToken(token.trim().to_owned()),
            (None, Some(oauth)) => {
                let url = format!("{}/oauth/token", config.oauth_url.trim_end_matches('/'));
                let token_url = handoffd_oauth::TokenUrl::new(url)
                    .map_err(|e| invalid(vec![ConfigProblem::at("oauth_url", format!("gives no token URL: {e}"))]))?;
                Auth::OAuth(Box::new(oauth::tokens(
                    &config.id,
                    oauth,
                    token_url,
                    vault,
                    http.clone(),
                    config.request_timeout,
                )))
            }
            (None, None) => return Err(invalid(vec![ConfigProblem::block("needs `api_token` or `oauth`")])),
        };
        let policy = client::policy(&config.limits);
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let api = Api::new(http, base_url, auth, &config.limits, config.request_timeout);
        Ok(Self { config, policy, api, priorities: Priorities::default() })
    }
}

// Secrets never reach logs: the config's own Debug redacts them.
impl std::fmt::Debug for Pipedrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipedrive").field("config", &self.config).field("limits", &self.policy).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Crm for Pipedrive {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn limits(&self) -> RateLimitPolicy {
        self.policy.clone()
    }

    fn live_budget(&self) -> LiveBudget {
        self.api.budget()
    }

    /// Reads the activity priority options once (their ids differ per company).
    /// The token's scopes (a missing one is one clear error naming it), then the activity priorities.
    async fn prepare(&self) -> Result<(), CrmError> {
        self.api.check_scopes().await?;
        self.priorities.load(&self.api).await.map(|_| ())
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        persons::find(&self.api, keys).await
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        persons::create(&self.api, contact).await
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        persons::changed_since(&self.api, cursor).await
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        users::list(&self.api).await
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        activities::create(&self.api, &self.priorities, tasks).await
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        activities::update(&self.api, &self.priorities, tasks).await
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        activities::find_by_external_keys(&self.api, self.config.lookup_window, keys).await
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        activities::states(&self.api, task_ids).await
    }
}
