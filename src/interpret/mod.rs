//! The handoff brief: vocabulary, rules, soft time, vendor analysis.

use serde::Deserialize;

pub mod when;

/// `interpret:`: where the vocabulary lives and how the brief is made.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterpretConfig {
    /// Folder of vocabulary YAML files (intents, objections, facts, time expressions per
    /// language). Relative paths are resolved from the configuration file's folder.
    #[serde(default)]
    pub vocabulary: Option<std::path::PathBuf>,
}
