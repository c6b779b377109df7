//! `handoffd check`: validate a configuration and report every problem as `file:line:col: key:
//! message`. Exit 0 when clean, 2 when not (1 stays for failures of handoffd itself), so the
//! systemd unit can run it in `ExecStartPre`.
//!
//! Two passes: the pure validation every verb runs, then the files the configuration names,
//! loaded as `run` loads them (relative paths from the configuration's folder), so a
//! configuration `check` accepts does not fail `run` on a missing vocabulary.

use std::process::ExitCode;

use crate::config::{self, ConfigReport, Loaded, Problem};
use crate::interpret::Interpreter;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Also ask the CRM (`delivery.crm`): every owner under `routing.owners` must be a known,
    /// active user there (by email or id).
    #[arg(long)]
    pub online: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let report = match config::load_with_env(path, &config::process_env) {
        Ok(loaded) => {
            let mut problems = named_files(&loaded);
            if problems.is_empty() && args.online {
                problems = online(&loaded)?;
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

/// The owners the CRM does not know or knows as inactive, each at its `routing.owners[i]` key.
/// `Err` is a CRM that could not be asked (an unreachable host, a refused token).
fn online(loaded: &Loaded) -> anyhow::Result<Vec<Problem>> {
    use anyhow::Context;
    let config = &loaded.config;
    let map = std::fs::read_to_string(&loaded.path).ok().and_then(|text| config::locate::SourceMap::scan(&text).ok());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // A scratch store holds what the connectors keep (OAuth tokens) for this one check.
    let scratch = std::env::temp_dir().join(format!("handoffd-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).context("creating a scratch folder")?;
    let result = runtime.block_on(async {
        let store = crate::store::open(&format!("sqlite://{}/check.db", scratch.display())).await?;
        let http = reqwest::Client::builder().user_agent(concat!("handoffd/", env!("CARGO_PKG_VERSION"))).build()?;
        let vault = std::sync::Arc::new(crate::deliver::StoreVault::new(store.clone(), None));
        let context = handoffd_contract::kind::BuildContext { vault, http };
        let connectors = crate::registry::Connectors::build(&config.connectors, &context)?;
        let crm = connectors
            .crms
            .get(&config.delivery.crm)
            .with_context(|| format!("delivery.crm `{}`", config.delivery.crm))?;
        let listed = crm.list_owners().await.with_context(|| format!("listing the owners of CRM `{}`", crm.id()))?;
        let router = crate::route::Router::from_config(config, None)?;
        anyhow::Ok(crate::route::sync::unresolved(&router, &listed))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(result?
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
