//! The locked test split's lock file: `sha256sum` lines (`<hex>  <path>`, paths relative to
//! the folder `sha256sum -c` runs from). Before the split is scored, every listed file must
//! exist with its hash and every case file under the split must be listed, so a case that was
//! changed, added or removed is refused rather than scored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// What the lock file vouches for.
#[derive(Debug)]
pub struct LockedSplit {
    /// The folder every locked file is under (e.g. `eval/corpus/test`).
    pub dir: PathBuf,
    pub files: usize,
}

/// Check `lock` (paths in it resolve from `base`) and return the split it locks.
///
/// The error names counts, never a case: the split is not to be looked at, and
/// `sha256sum -c` names the files to whoever is allowed to see them.
pub fn verify(lock: &Path, base: &Path) -> anyhow::Result<LockedSplit> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("cannot read the lock file `{}`", lock.display()))?;
    let mut listed = BTreeSet::new();
    let (mut changed, mut missing) = (0usize, 0usize);
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (hash, path) = line
            .split_once(char::is_whitespace)
            .map(|(h, p)| (h.trim(), p.trim_start().trim_start_matches('*')))
            .filter(|(h, p)| h.len() == 64 && !p.is_empty())
            .with_context(|| format!("`{}` line {}: expected `<sha256 hex>  <path>`", lock.display(), i + 1))?;
        let full = base.join(path);
        listed.insert(full.clone());
        match std::fs::read(&full) {
            Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == hash.to_ascii_lowercase() => {}
            Ok(_) => changed += 1,
            Err(_) => missing += 1,
        }
    }
    anyhow::ensure!(!listed.is_empty(), "the lock file `{}` lists no file", lock.display());
    let dir = common_dir(&listed).with_context(|| format!("the files of `{}` share no folder", lock.display()))?;
    let unlisted = case_files(&dir)?.into_iter().filter(|p| !listed.contains(p)).count();
    anyhow::ensure!(
        changed == 0 && missing == 0 && unlisted == 0,
        "the locked split `{}` does not match `{}`: {changed} changed, {missing} missing, {unlisted} not \
         listed; refusing to score it (`sha256sum -c` names them)",
        dir.display(),
        lock.display()
    );
    Ok(LockedSplit { dir, files: listed.len() })
}

/// The deepest folder holding every path.
fn common_dir(paths: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    let mut iter = paths.iter();
    let mut common = iter.next()?.parent()?.to_path_buf();
    for path in iter {
        while !path.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

/// Every `*.json` file under `dir`, at any depth.
fn case_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).with_context(|| format!("cannot read `{}`", folder.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                found.push(path);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_split(root: &Path) -> PathBuf {
        let split = root.join("test/en");
        std::fs::create_dir_all(&split).unwrap();
        std::fs::write(split.join("a.json"), b"{}").unwrap();
        std::fs::write(split.join("b.json"), b"[]").unwrap();
        let line = |name: &str, body: &[u8]| format!("{}  test/en/{name}\n", hex::encode(Sha256::digest(body)));
        let lock = root.join("test.lock");
        std::fs::write(&lock, line("a.json", b"{}") + &line("b.json", b"[]")).unwrap();
        lock
    }

    #[test]
    fn a_matching_split_is_accepted() {
        let root = tempfile::tempdir().unwrap();
        let lock = write_split(root.path());
        let split = verify(&lock, root.path()).unwrap();
        assert_eq!(split.files, 2);
        assert_eq!(split.dir, root.path().join("test/en"));
    }

    #[test]
    fn a_changed_added_or_removed_case_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let lock = write_split(root.path());
        std::fs::write(root.path().join("test/en/a.json"), b"{ }").unwrap();
        let err = verify(&lock, root.path()).unwrap_err().to_string();
        assert!(err.contains("1 changed, 0 missing, 0 not listed"), "{err}");

        let lock = write_split(root.path());
        std::fs::write(root.path().join("test/en/c.json"), b"{}").unwrap();
        let err = verify(&lock, root.path()).unwrap_err().to_string();
        assert!(err.contains("0 changed, 0 missing, 1 not listed"), "{err}");
        assert!(!err.contains("c.json"), "a locked case is never named: {err}");

        std::fs::remove_file(root.path().join("test/en/c.json")).unwrap();
        std::fs::remove_file(root.path().join("test/en/b.json")).unwrap();
        let err = verify(&lock, root.path()).unwrap_err().to_string();
        assert!(err.contains("0 changed, 1 missing"), "{err}");
    }
}
