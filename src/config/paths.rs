//! Where relative paths in the configuration resolve from: the configuration file's folder, for
//! every verb alike (`run`, `check`, `explain`, `dlq`, ...), whatever the working directory.
//! That holds for `store.url`'s SQLite file, `interpret.vocabulary` and every file a later key
//! names. Absolute paths are kept as written.

use std::path::{Path, PathBuf};

/// `path` as written in the configuration, resolved from `base_dir` (the configuration's folder).
pub fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { base_dir.join(path) }
}

/// The file a `sqlite://` store URL names; `None` for other databases and in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// `store.url` with a relative SQLite file resolved from `base_dir`; other URLs as they are.
pub fn resolve_store_url(base_dir: &Path, url: &str) -> String {
    match sqlite_file(url) {
        Some(file) if file.is_relative() => {
            let query = url.split_once('?').map(|(_, query)| format!("?{query}")).unwrap_or_default();
            format!("sqlite://{}{query}", resolve(base_dir, &file).display())
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_files_resolve_from_the_configuration_folder() {
        let base = Path::new("/etc/handoffd");
        assert_eq!(resolve_store_url(base, "sqlite://handoffd.db"), "sqlite:///etc/handoffd/handoffd.db");
        assert_eq!(
            resolve_store_url(base, "sqlite://../state/h.db?synchronous=normal"),
            "sqlite:///etc/handoffd/../state/h.db?synchronous=normal"
        );
        assert_eq!(resolve_store_url(base, "sqlite:///var/lib/handoffd/h.db"), "sqlite:///var/lib/handoffd/h.db");
        assert_eq!(resolve_store_url(base, "sqlite::memory:"), "sqlite::memory:");
        assert_eq!(resolve_store_url(base, "postgres://u@db/handoffd"), "postgres://u@db/handoffd");
        assert_eq!(sqlite_file("sqlite:///var/h.db?mode=rwc"), Some(PathBuf::from("/var/h.db")));
        assert_eq!(resolve(base, Path::new("vocabulary")), Path::new("/etc/handoffd/vocabulary"));
        assert_eq!(resolve(base, Path::new("/opt/vocabulary")), Path::new("/opt/vocabulary"));
    }
}
