//! Salesforce connector: contacts and leads, tasks, users, OAuth 2.0 (refresh token or JWT bearer), API limits.
//!
//! Layout:
//! - [`config`]: the `kind: salesforce` block; `validate`: every problem of a block at its key (what `handoffd
//!   check` prints and [`Salesforce::new`] refuses); `kind`: `kind: salesforce` for the daemon's registry.
//! - `auth`: sessions from the token endpoint (refresh token or JWT bearer), the instance URL, the `api` scope.
//! - `client`: one org over HTTP (session, limiter, `Sforce-Limit-Info`, one retry after a 401, queries).
//! - `classify`: error arrays and transport failures as the contract's `CrmError`.
//! - `limits`: the org's allocation, the local limiter, the live budget.
//! - `contacts`, `tasks`, `owners`: the calls; `soql`: escaping; `wire`: Salesforce's JSON.
//!
//! Calls per task: a task is written by an upsert of up to 200 a call on the external id field, so a write sent
//! again after a lost answer updates the task it made; contacts are created 200 a call; a search for new customers
//! is one query per object (Contact, Lead) per hundred keys.

mod auth;
mod classify;
mod client;
mod config;
mod contacts;
mod error;
mod kind;
mod limits;
mod owners;
mod soql;
mod tasks;
mod validate;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono_tz::Tz;
use handoffd_contract::auth::TokenVault;
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskRef, TaskState, TaskWrite};

pub use config::{JwtConfig, LimitsConfig, SalesforceConfig};
pub use error::SalesforceError;
pub use kind::SalesforceKind;
pub use tasks::SUBJECT_MAX_CHARS;
pub use validate::validate;

use auth::{Auth, Grant};
use client::Api;
use limits::Limiter;
use tasks::TaskFields;

/// One Salesforce org, as a [`Crm`].
pub struct Salesforce {
    config: SalesforceConfig,
    policy: RateLimitPolicy,
    default_zone: Tz,
    api: Api,
    /// Each user's time zone, read with the users: a task's `ActivityDate` is its owner's date.
    owner_zones: RwLock<HashMap<String, Tz>>,
}

impl Salesforce {
    /// Checks the config with [`validate`] (so it refuses exactly what `handoffd check` reports) and builds the
    /// connector; no network call is made here.
    pub fn new(
        config: SalesforceConfig,
        vault: Arc<dyn TokenVault>,
        http: reqwest::Client,
    ) -> Result<Self, SalesforceError> {
        let invalid = |problems| SalesforceError::Invalid { id: config.id.clone(), problems };
        let problems = validate(&config);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let grant = match (&config.refresh_token, &config.jwt, &config.client_secret) {
            (Some(refresh_token), None, Some(client_secret)) => Grant::Refresh {
                client_secret: client_secret.trim().to_owned(),
                refresh_token: refresh_token.trim().to_owned(),
            },
            (None, Some(jwt), _) => {
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(jwt.private_key.trim().as_bytes()).map_err(|e| {
                    invalid(vec![handoffd_contract::kind::ConfigProblem::at("jwt.private_key", e.to_string())])
                })?;
                Grant::Jwt { username: jwt.username.trim().to_owned(), key: Box::new(key) }
            }
            _ => unreachable!("`validate` requires `refresh_token` with `client_secret`, or `jwt`"),
        };
        let auth = Auth::new(
            &config.id,
            &config.base_url,
            config.client_id.trim(),
            grant,
            http.clone(),
            config.request_timeout,
            vault,
        );
        let policy = limits::policy(&config.limits);
        let limiter = Limiter::new(&policy, limits::concurrent(&config.limits));
        let api = Api::new(http, auth, &config.api_version, limiter, config.request_timeout);
        let default_zone = config.timezone.parse().unwrap_or(Tz::UTC);
        Ok(Self { config, policy, default_zone, api, owner_zones: RwLock::new(HashMap::new()) })
    }

    fn zones(&self) -> HashMap<String, Tz> {
        self.owner_zones.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn load_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        let (owners, zones) = owners::list(&self.api).await?;
        *self.owner_zones.write().unwrap_or_else(|e| e.into_inner()) = zones;
        Ok(owners)
    }
}

// Secrets never reach logs: the config's own Debug redacts them and sessions are not shown.
impl std::fmt::Debug for Salesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salesforce").field("config", &self.config).field("limits", &self.policy).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Crm for Salesforce {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn limits(&self) -> RateLimitPolicy {
        self.policy.clone()
    }

    fn live_budget(&self) -> LiveBudget {
        self.api.budget()
    }

    /// A session with the `api` scope, the external id field in place, and the users' time zones.
    async fn prepare(&self) -> Result<(), CrmError> {
        self.api.session().await?.check_api_scope()?;
        tasks::check_external_id_field(&self.api, &self.config.external_id_field).await?;
        self.load_owners().await.map(drop)
    }

    async fn find_contacts(&self, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        contacts::find(&self.api, keys).await
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CrmContact, CrmError> {
        contacts::create(&self.api, contact).await
    }

    async fn create_contacts(&self, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
        contacts::create_many(&self.api, self.policy.max_batch, contacts).await
    }

    async fn contacts_changed_since(&self, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
        contacts::changed_since(&self.api, cursor).await
    }

    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        self.load_owners().await
    }

    async fn create_tasks(&self, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        let zones = self.zones();
        let fields = TaskFields {
            external_id_field: &self.config.external_id_field,
            owner_zones: &zones,
            default_zone: self.default_zone,
        };
        tasks::create(&self.api, self.policy.max_batch, &fields, tasks).await
    }

    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        let zones = self.zones();
        let fields = TaskFields {
            external_id_field: &self.config.external_id_field,
            owner_zones: &zones,
            default_zone: self.default_zone,
        };
        tasks::update(&self.api, self.policy.max_batch, &fields, tasks).await
    }

    async fn find_tasks_by_external_keys(&self, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        tasks::find_by_external_keys(&self.api, &self.config.external_id_field, keys).await
    }

    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        tasks::states(&self.api, task_ids).await
    }
}
