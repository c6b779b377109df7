//! Reloading the configuration while the daemon runs (SIGHUP, or `handoffd reload` through the
//! admin API).
//!
//! The new configuration is read, validated and built in full (vocabulary, rules, model,
//! routing, every connector) before anything changes; then the interpretation and the webhook
//! connectors are swapped whole. A configuration with any problem is refused with every problem
//! at its file:line:key, and the running one stays. Work in flight finishes on the configuration
//! it started with; the next round takes the new one.
//!
//! What a running daemon cannot swap (its listeners, its store, the delivery CRM's connection
//! and rate limiter, the schedules and limits below them) keeps its running value: a reload that
//! changes it says which keys wait for a restart.

use std::path::PathBuf;
use std::sync::Arc;

use handoffd_contract::kind::BuildContext;

use super::notify::ServiceManager;
use super::shared::Shared;
use crate::config::{Config, Loaded};
use crate::conversation::BriefMaker;
use crate::interpret::Interpreter;
use crate::registry::Connectors;
use crate::store::Store;

pub struct Reloader {
    pub(super) path: PathBuf,
    pub(super) running: std::sync::Mutex<RestartOnly>,
    pub(super) connectors: Shared<Connectors>,
    pub(super) briefs: Shared<BriefMaker>,
    pub(super) store: Arc<dyn Store>,
    pub(super) context: BuildContext,
    pub(super) manager: ServiceManager,
    /// One reload at a time.
    pub(super) busy: tokio::sync::Mutex<()>,
    /// [`crate::config::file_sha256`] of the configuration running now.
    pub(super) config_sha256: std::sync::Mutex<String>,
}

/// What a successful reload left for a restart.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Keys whose new values take effect at the next restart.
    pub needs_restart: Vec<String>,
}

/// The running values of the keys a reload cannot apply, compared by their printed form
/// (secrets print redacted: a rotated CRM credential is applied at restart too; see the README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartOnly(Vec<(&'static str, String)>);

impl RestartOnly {
    pub fn of(config: &Config) -> Self {
        let crm = config.connectors.iter().find(|c| c.id() == config.delivery.crm);
        Self(vec![
            ("server", format!("{:?}", config.server)),
            ("admin", format!("{:?}", config.admin)),
            ("store", format!("{:?}", config.store)),
            ("delivery", format!("{:?}", config.delivery)),
            ("identity", format!("{:?}", config.identity)),
            ("service", format!("{:?}", config.service)),
            ("log", format!("{:?}", config.log)),
            ("conversation", format!("{:?}", config.conversation)),
            ("connectors[delivery.crm]", format!("{crm:?}")),
        ])
    }

    fn changed_from(&self, running: &RestartOnly) -> Vec<String> {
        self.0.iter().zip(&running.0).filter(|(new, old)| new != old).map(|((key, _), _)| (*key).to_owned()).collect()
    }
}

impl Reloader {
    /// Read, check and build the configuration at the daemon's path, then swap it in; `Err`
    /// holds every problem (one per line, file:line:key first) and nothing changed.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let _one_at_a_time = self.busy.lock().await;
        self.manager.reloading();
        let outcome = self.build_and_swap().await;
        self.manager.ready(match &outcome {
            Ok(_) => "Running: the configuration was reloaded",
            Err(_) => "Running: a reload was refused; the previous configuration stays",
        });
        match &outcome {
            Ok(reloaded) if reloaded.needs_restart.is_empty() => {
                tracing::info!(config = %self.path.display(), "Reloaded the configuration.")
            }
            Ok(reloaded) => tracing::warn!(
                config = %self.path.display(),
                keys = %reloaded.needs_restart.join(", "),
                "Reloaded the configuration; changes under these keys take effect at the next restart."
            ),
            Err(problems) => tracing::error!(
                config = %self.path.display(),
                "Refused to reload the configuration; the running one stays:\n{problems}"
            ),
        }
        outcome
    }

    async fn build_and_swap(&self) -> Result<Reloaded, String> {
        let (loaded, sha256): (Loaded, String) = crate::config::load_hashed(&self.path, &crate::config::process_env)
            .map_err(|report| format!("{report:#}"))?;
        let config = &loaded.config;
        let interpreter = Interpreter::load(&config.interpret, loaded.base_dir())
            .map_err(|error| format!("{}: interpret: {error:#}", self.path.display()))?;
        let briefs = BriefMaker::from_config(config, Arc::new(interpreter), self.store.clone())
            .map_err(|error| format!("{}: {error:#}", self.path.display()))?;
        let connectors = Connectors::build(&config.connectors, &self.context)
            .map_err(|error| format!("{}: connectors: {error:#}", self.path.display()))?;
        let restart_only = RestartOnly::of(config);
        let needs_restart = restart_only.changed_from(&self.running.lock().expect("running config"));
        // Everything is built: swap both together.
        self.briefs.replace(briefs);
        self.connectors.replace(connectors);
        *self.config_sha256.lock().expect("config hash") = sha256;
        Ok(Reloaded { needs_restart })
    }

    /// The configuration running now: its file and [`crate::config::file_sha256`].
    pub fn config_file(&self) -> (std::path::PathBuf, String) {
        (self.path.clone(), self.config_sha256.lock().expect("config hash").clone())
    }
}
