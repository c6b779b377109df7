//! The candidate rules of a backtest: a file holding a `routing:` section alone, or a whole configuration
//! (its `routing` and `business` sections are the candidate; the store and everything else come from the
//! running configuration). Validated as `handoffd check` validates a configuration, each problem at
//! file:line:key of the candidate file.

use std::path::Path;

use serde::Deserialize;

use crate::config::schema::RoutingConfig;
use crate::config::{self, ConfigReport, EnvLookup, Loaded, Problem};

/// A file with the `routing:` section alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    routing: RoutingConfig,
}

/// Which shape a candidate file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateShape {
    RoutingSection,
    WholeConfiguration,
}

/// The running configuration with the candidate's sections in place of its own.
#[derive(Debug)]
pub struct Candidate {
    pub loaded: Loaded,
    pub shape: CandidateShape,
}

/// Load `rules` over the configuration at `config_path`. A file whose only top-level key is `routing` is a
/// section; anything else must be a whole configuration.
pub fn load(rules: &Path, config_path: &Path, env: EnvLookup<'_>) -> Result<Candidate, ConfigReport> {
    let text = std::fs::read_to_string(rules)
        .map_err(|e| ConfigReport::new(rules, vec![Problem::new(None, "", format!("cannot read the file: {e}"))]))?;
    let map = config::locate::SourceMap::scan(&text).map_err(|p| ConfigReport::new(rules, vec![p]))?;
    let whole = map.paths().any(|(path, _)| !path.is_empty() && !path.contains(['.', '[']) && path != "routing");
    let mut loaded = config::load_with_env(config_path, env)?;
    if whole {
        let candidate = config::load_with_env(rules, env)?;
        loaded.config.routing = candidate.config.routing;
        loaded.config.business = candidate.config.business;
        return Ok(Candidate { loaded, shape: CandidateShape::WholeConfiguration });
    }
    let (file, map) = config::deserialize::<RoutingFile>(&text, env).map_err(|p| ConfigReport::new(rules, p))?;
    loaded.config.routing = file.routing;
    // The rest is the running configuration, valid already: what is left is the candidate's.
    let problems: Vec<Problem> = config::validate::validate(&loaded.config, &map)
        .into_iter()
        .filter(|problem| {
            problem.key == "routing" || problem.key.starts_with("routing.") || problem.key.starts_with("routing[")
        })
        .collect();
    if problems.is_empty() {
        Ok(Candidate { loaded, shape: CandidateShape::RoutingSection })
    } else {
        Err(ConfigReport::new(rules, problems))
    }
}
