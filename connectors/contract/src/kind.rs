//! How a connector kind registers itself: its `kind:` name, its config block, a pure validation
//! that `handoffd check` runs, and what it builds. The daemon's registry lists kinds by this
//! trait, one line each, and knows nothing else of them.

use std::fmt::Debug;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::auth::TokenVault;
use crate::crm::Crm;
use crate::messenger::Messenger;
use crate::poll::PollSource;
use crate::routes::Route;
use crate::webhook::WebhookSource;

/// One vendor's connector kind (`kind: whatsapp_cloud`).
pub trait ConnectorKind: 'static {
    /// The `kind:` value in the config (fixed by DESIGN.md: admins' tooling writes it).
    const NAME: &'static str;
    /// What [`ConnectorKind::build`] returns, known without building (e.g. which kinds may be
    /// named by `delivery.crm`).
    const BUILDS: Builds;
    /// The kind's config block: serde with `deny_unknown_fields`, a doc comment per key.
    type Config: DeserializeOwned + schemars::JsonSchema + Debug + Send + Sync + 'static;

    /// The connector id (`id:`), used in its webhook path.
    fn id(config: &Self::Config) -> &str;

    /// The region for phone numbers written without a country code (`default_region:`).
    fn default_region(config: &Self::Config) -> Option<&str>;

    /// Every problem in the block, each at its key. Pure: no network, no file, no secret looked
    /// up. Whatever [`ConnectorKind::build`] would refuse must be found here, so `handoffd check`
    /// refuses everything `handoffd run` would.
    fn validate(config: &Self::Config) -> Vec<ConfigProblem>;

    /// Build the connector's parts. Makes no network call.
    fn build(config: &Self::Config, context: &BuildContext) -> Result<Built, BuildError>;
}

/// Which parts a kind builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Builds {
    pub webhook_source: bool,
    pub poll_source: bool,
    pub crm: bool,
    pub messenger: bool,
    pub routes: bool,
}

impl Builds {
    /// Which of `built`'s parts are there: a kind's [`ConnectorKind::BUILDS`] must equal it.
    pub fn of(built: &Built) -> Self {
        Self {
            webhook_source: built.webhook_source.is_some(),
            poll_source: built.poll_source.is_some(),
            crm: built.crm.is_some(),
            messenger: built.messenger.is_some(),
            routes: !built.routes.is_empty(),
        }
    }
}

/// What the daemon gives every connector it builds.
#[derive(Clone)]
pub struct BuildContext {
    /// Where refreshed credentials (OAuth tokens) are kept across restarts.
    pub vault: Arc<dyn TokenVault>,
    /// The daemon's HTTP client (its user agent, its connection pool).
    pub http: reqwest::Client,
}

impl Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext").finish_non_exhaustive()
    }
}

/// A connector's parts: each is present when the kind builds it.
#[derive(Clone, Default)]
pub struct Built {
    pub webhook_source: Option<Arc<dyn WebhookSource>>,
    pub poll_source: Option<Arc<dyn PollSource>>,
    pub crm: Option<Arc<dyn Crm>>,
    pub messenger: Option<Arc<dyn Messenger>>,
    /// HTTP routes beyond `/webhooks/{id}`.
    pub routes: Vec<Route>,
}

impl Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built").field("builds", &Builds::of(self)).field("routes", &self.routes).finish()
    }
}

/// One problem in a connector's config block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key path inside the block (`limits.max_batch`, `oauth`); empty for the block itself.
    pub key: String,
    /// What is wrong, in words an admin can act on. Never a secret's value.
    pub message: String,
}

impl ConfigProblem {
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }

    /// A problem with the block as a whole (e.g. a required choice not made).
    pub fn block(message: impl Into<String>) -> Self {
        Self::at("", message)
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() { f.write_str(&self.message) } else { write!(f, "`{}`: {}", self.key, self.message) }
    }
}

/// The connector could not be built (its config passed validation, so this is rare: a
/// resource the platform refused).
#[derive(Debug, thiserror::Error)]
#[error("connector `{id}`: {message}")]
pub struct BuildError {
    pub id: String,
    pub message: String,
}
