//! `handoffd check`: validate a configuration and report every problem as `file:line:col: key:
//! message`. Exit 0 when clean, 2 when not (1 stays for failures of handoffd itself), so the
//! systemd unit can run it in `ExecStartPre`.
//!
//! Two passes: the pure validation every verb runs, then the files the configuration names,
//! loaded as `run` loads them (relative paths from the configuration's folder), so a
//! configuration `check` accepts does not fail `run` on a missing vocabulary.
//!
//! `--online` then asks each CRM what `run` will need from it: a token (refreshed through the store's vault, as
//! `run` does, so a rotated refresh token is kept), the scopes the connector needs (a missing one is named), the
//! set-up before the first write, and the owners routing can pick from.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use handoffd_contract::kind::BuildContext;

use crate::config::{self, ConfigReport, Loaded, Problem};
use crate::deliver::StoreVault;
use crate::interpret::Interpreter;
use crate::registry::Connectors;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Also call each CRM: credentials, the token's scopes, the set-up before the first write, its
    /// owners; every owner under `routing.owners` must be a known, active user of `delivery.crm`.
    #[arg(long)]
    pub online: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let report = match config::load_with_env(path, &config::process_env) {
        Ok(loaded) => {
            let mut problems = named_files(&loaded);
            if problems.is_empty() && args.online {
                let runtime = super::CommandRuntime::new()?;
                let checked = runtime.block_on(online(&loaded))?;
                problems = checked.owners;
                if problems.is_empty() {
                    checked.passed.iter().for_each(|line| println!("{line}"));
                }
                if problems.is_empty() && checked.failed {
                    return Ok(ExitCode::from(2));
                }
            }
            if problems.is_empty() {
                let ids: Vec<&str> = loaded.config.connectors.iter().map(|c| c.id()).collect();
                println!("ok: {} ({} connectors: {})", path.display(), ids.len(), ids.join(", "));
                return Ok(ExitCode::SUCCESS);
            }
            ConfigReport::new(path, problems)
        }
        Err(report) => report,
    };
    println!("{report}");
    Ok(ExitCode::from(2))
}

/// What `--online` found: whether a CRM failed its checks (each printed on its own line), and the
/// owners `delivery.crm` does not know or knows as inactive, each at its `routing.owners[i]` key.
struct Online {
    failed: bool,
    owners: Vec<Problem>,
    /// One line per CRM that passed, printed when no owner is refused (the refusals are the report then).
    passed: Vec<String>,
}

/// Each CRM asked for what `run` needs from it; a failed one is printed at once.
async fn online(loaded: &Loaded) -> anyhow::Result<Online> {
    let config = &loaded.config;
    let store_url = loaded.store_url();
    let store = crate::store::open(&store_url)
        .await
        .with_context(|| format!("opening the store `{}`", crate::daemon::redact_url(&store_url)))?;
    let token_keys = config.store.token_keys().map_err(|error| anyhow::anyhow!("store.token_keys: {error}"))?;
    let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
    let context = BuildContext { vault: Arc::new(StoreVault::new(store, token_keys)), http };
    let connectors = Connectors::build(&config.connectors, &context)?;
    let mut ids: Vec<&String> = connectors.crms.keys().collect();
    ids.sort();
    let mut found = Online { failed: false, owners: Vec::new(), passed: Vec::new() };
    for id in ids {
        let crm = &connectors.crms[id];
        let checked = async {
            crm.prepare().await.context("credentials, scopes and set-up")?;
            crm.list_owners().await.context("listing owners")
        };
        match checked.await {
            Ok(owners) => {
                let active = owners.iter().filter(|o| o.active).count();
                found
                    .passed
                    .push(format!("ok: crm `{id}`: credentials, scopes and set-up checked; {active} active owners"));
                if *id == config.delivery.crm {
                    found.owners = unknown_owners(loaded, &owners)?;
                }
            }
            Err(error) => {
                found.failed = true;
                println!("error: crm `{id}`: {error:#}");
            }
        }
    }
    Ok(found)
}

/// The owners under `routing.owners` that `listed` (the CRM's users) does not hold as active.
fn unknown_owners(loaded: &Loaded, listed: &[handoffd_contract::crm::CrmOwner]) -> anyhow::Result<Vec<Problem>> {
    let map = std::fs::read_to_string(&loaded.path).ok().and_then(|text| config::locate::SourceMap::scan(&text).ok());
    let router = crate::route::Router::from_config(&loaded.config, None)?;
    Ok(crate::route::sync::unresolved(&router, listed)
        .into_iter()
        .map(|(i, key, why)| {
            let path = format!("routing.owners[{i}].{key}");
            Problem::new(map.as_ref().and_then(|m| m.nearest(&path)), path, why)
        })
        .collect())
}

/// Problems with the files the configuration names, each at the key that names it.
fn named_files(loaded: &Loaded) -> Vec<Problem> {
    // The file was read a moment ago; interpolation keeps every key on its line, so the
    // written text names the same lines.
    let map = std::fs::read_to_string(&loaded.path).ok().and_then(|text| config::locate::SourceMap::scan(&text).ok());
    let at = |key: &str| map.as_ref().and_then(|map| map.nearest(key));
    let mut problems = Vec::new();
    match Interpreter::load(&loaded.config.interpret, loaded.base_dir()) {
        Ok(interpreter) => {
            if let Some(problem) = interpreter.model_problem() {
                problems.push(Problem::new(at("interpret.model"), "interpret.model", problem.to_owned()));
            }
            // Rules name intents by the vocabulary's codes: one it does not have would never match.
            let codes = interpreter.intent_codes();
            for (i, rule) in loaded.config.routing.rules.iter().enumerate() {
                for (j, intent) in rule.when.intent.iter().flatten().enumerate() {
                    if !codes.contains(&intent.as_str()) {
                        let key = format!("routing.rules[{i}].when.intent[{j}]");
                        let message = format!("`{intent}` is not an intent of the vocabulary ({})", codes.join(", "));
                        problems.push(Problem::new(at(&key), key, message));
                    }
                }
            }
        }
        Err(error) => {
            let dir = Interpreter::vocabulary_dir(&loaded.config.interpret, loaded.base_dir());
            problems.push(Problem::new(
            at("interpret.vocabulary"),
            "interpret.vocabulary",
            format!(
                "the vocabulary in `{}` cannot be loaded (relative paths resolve from the configuration's folder): {error:#}",
                dir.display()
            ),
        ));
        }
    }
    problems
}
