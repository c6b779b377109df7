//! Problems found in a configuration file, printed one per line as `file:line:col: key: message`
//! so editors and CI logs can jump to them.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in the configuration text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is, when known (an unreadable file has no position).
    pub at: Option<Position>,
    /// The key path, as `connectors[1].base_url`; empty for the document itself.
    pub key: String,
    /// What is wrong, in words an admin can act on. Never contains a secret's value.
    pub message: String,
}

impl Problem {
    pub fn new(at: Option<Position>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { at, key: key.into(), message: message.into() }
    }
}

/// Every problem found in one file. Its `Display` is the report `handoffd check` prints.
#[derive(Debug, Clone)]
pub struct ConfigReport {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl ConfigReport {
    pub fn new(file: &Path, mut problems: Vec<Problem>) -> Self {
        // File order reads best; problems without a position (the file itself) come first.
        problems.sort_by_key(|p| p.at);
        Self { file: file.to_owned(), problems }
    }
}

impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(at) = problem.at {
                write!(f, ":{}:{}", at.line, at.column)?;
            }
            if !problem.key.is_empty() {
                write!(f, ": {}", problem.key)?;
            }
            write!(f, ": {}", problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigReport {}
