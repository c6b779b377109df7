//! Load, interpolate and validate the YAML configuration.
//!
//! Layout, in the order a file goes through them:
//! - `locate`: the YAML event stream -> key path to line map (and every scalar's byte range);
//! - `interpolate`: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`, `${cred:NAME}`,
//!   inside scalar values, every error collected;
//! - serde (through `serde_path_to_error`): the first structural error, with its key path;
//! - `validate`: every semantic problem at once;
//! - `report`: the `file:line:col: key: message` lines `handoffd check` prints;
//! - `paths`: relative paths (the SQLite file, the vocabulary) resolve from the file's folder.

use std::path::{Path, PathBuf};

pub mod duration;
pub mod interpolate;
pub mod json_schema;
pub mod locate;
pub mod paths;
pub mod report;
pub mod schema;
pub mod validate;

pub use interpolate::EnvLookup;
pub use report::{ConfigReport, Position, Problem};
pub use schema::Config;

use locate::SourceMap;

/// A configuration with the file it came from: relative paths inside it resolve from the file's
/// folder (see [`paths`]), so every verb finds the same files from any working directory.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
}

impl Loaded {
    /// The folder relative paths in the configuration are resolved from.
    pub fn base_dir(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// A path written in the configuration, resolved from [`Loaded::base_dir`].
    pub fn resolve(&self, path: &Path) -> PathBuf {
        paths::resolve(self.base_dir(), path)
    }

    /// `store.url`, its SQLite file resolved from [`Loaded::base_dir`].
    pub fn store_url(&self) -> String {
        paths::resolve_store_url(self.base_dir(), &self.config.store.url)
    }
}

/// Read, interpolate (from the process environment), parse and validate a configuration file.
/// The error's `Display` is the full report, one problem per line (a [`ConfigReport`] inside).
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    Ok(load_with_env(path, &process_env)?)
}

/// The process environment, as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// [`load`] with an explicit environment, reporting every problem found.
pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Loaded, ConfigReport> {
    load_hashed(path, env).map(|(loaded, _)| loaded)
}

/// [`load_with_env`], with the [`file_sha256`] of the very bytes that were parsed (what the admin
/// API reports as the running configuration's hash).
pub fn load_hashed(path: &Path, env: EnvLookup<'_>) -> Result<(Loaded, String), ConfigReport> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigReport::new(path, vec![Problem::new(None, "", format!("cannot read the file: {e}"))]))?;
    let config = parse(&text, env).map_err(|problems| ConfigReport::new(path, problems))?;
    Ok((Loaded { config, path: path.to_owned() }, file_sha256(text.as_bytes())))
}

/// The hash that identifies a configuration: SHA-256 (hex) of the file's bytes as written, before
/// interpolation. So a secret taken from `${ENV}` or a credential never enters it (its value can
/// change without changing the hash; a reload is what applies it), and an admin can compare it
/// with `sha256sum` of the file on disk. The vocabulary and model files it names are not in it.
pub fn file_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Interpolate, parse and validate configuration text. Stops after the stage that found
/// problems: interpolation and validation report all of theirs, serde its first.
pub fn parse(text: &str, env: EnvLookup<'_>) -> Result<Config, Vec<Problem>> {
    let (config, map) = deserialize::<Config>(text, env)?;
    let problems = validate::validate(&config, &map);
    if problems.is_empty() { Ok(config) } else { Err(problems) }
}

/// Interpolate and deserialize configuration text into `T` (a whole configuration, or a file holding one
/// section of it, such as the candidate rules of `handoffd backtest`), with the map of where each key is
/// written. Interpolation reports all of its problems, serde its first; nothing is validated.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    text: &str,
    env: EnvLookup<'_>,
) -> Result<(T, SourceMap), Vec<Problem>> {
    let written = SourceMap::scan(text).map_err(|p| vec![p])?;
    let resolved = interpolate::interpolate(text, &written, env)?;
    // Interpolation keeps every key on its line, so this map names the same lines as the file.
    let map = SourceMap::scan(&resolved).map_err(|p| vec![p])?;
    let mut error_path = None;
    let parsed = serde_saphyr::with_deserializer_from_str(&resolved, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            error_path = Some(e.path().to_string());
            e.into_inner()
        })
    });
    let value: T = parsed.map_err(|e| vec![structural(&e, error_path.as_deref(), &map)])?;
    Ok((value, map))
}

/// A serde error as a problem at its key. Connector configs are buffered by serde to read
/// `kind` first, so an unknown key inside one is reported at the connector; the key's own
/// line is found from the name in the message.
fn structural(error: &serde_saphyr::Error, path: Option<&str>, map: &SourceMap) -> Problem {
    let text = error.without_snippet().to_string();
    let message = strip_location(&text);
    let mut key = path.filter(|p| *p != ".").unwrap_or_default().to_owned();
    let mut at = error
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| Position { line: l.line() as usize, column: l.column().max(1) as usize });
    if let Some(field) = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
        let field_path = locate::join_key(&key, field);
        if !key.ends_with(field)
            && let Some(located) = map.get(&field_path)
        {
            key = field_path;
            at = Some(located.at);
        }
    }
    Problem::new(at.or_else(|| map.nearest(&key)), key, message)
}

/// serde-saphyr appends ` at line L, column C`; the report puts the position first instead.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => &message[..i],
        _ => message,
    }
}
