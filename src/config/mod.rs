//! Load, interpolate and validate the YAML configuration.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub mod duration;
pub mod schema;

pub use schema::Config;

/// A configuration with the file it came from (relative paths inside it resolve from there).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
}

impl Loaded {
    /// The folder relative paths in the configuration are resolved from.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Read and parse a configuration file.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let config: Config =
        serde_saphyr::from_str(&text).with_context(|| format!("`{}` is not a valid configuration", path.display()))?;
    Ok(Loaded { config, path: path.to_owned() })
}
