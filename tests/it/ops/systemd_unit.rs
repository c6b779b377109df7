//! `systemd/handoffd.service` as systemd itself reads it: `systemd-analyze verify` finds nothing
//! wrong, and `systemd-analyze security --offline=yes` scores its exposure 1.5 or lower.

use std::path::PathBuf;
use std::process::Command;

/// The unit with its `/usr/bin/handoffd` pointed at the built binary (verify checks that the
/// programs exist), in a folder of its own.
fn unit_copy() -> Option<(tempfile::TempDir, PathBuf)> {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI runs on a machine with systemd-analyze");
        eprintln!("SKIPPED: systemd-analyze is not installed here");
        return None;
    }
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/handoffd.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoffd.service");
    std::fs::write(&path, unit.replace("/usr/bin/handoffd", env!("CARGO_BIN_EXE_handoffd"))).unwrap();
    Some((dir, path))
}

#[test]
fn the_unit_verifies() {
    let Some((_dir, unit)) = unit_copy() else { return };
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&unit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the host (no systemd running as PID 1 here) are not about the unit.
    let about_unit: Vec<&str> = stderr.lines().filter(|line| line.contains("handoffd.service")).collect();
    assert!(out.status.success() && about_unit.is_empty(), "systemd-analyze verify:\n{stderr}");
}

#[test]
fn the_unit_is_hardened_to_an_exposure_of_at_most_1_5() {
    let Some((_dir, unit)) = unit_copy() else { return };
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .env("SYSTEMD_COLORS", "0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|line| line.split("Overall exposure level for handoffd.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no score in:\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    println!("systemd-analyze security --offline=yes: exposure {score}");
    assert!(score <= 1.5, "exposure {score} > 1.5:\n{text}");
}

/// The .deb's configuration is the example's, with the store in the service's state directory.
#[test]
fn the_packaged_configuration_is_the_example_with_the_store_in_var_lib() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let (example, packaged) = (read("config/example.yaml"), read("systemd/handoffd.yaml"));
    let from_store = |text: &str| text[text.find("\nstore:").expect("a store block")..].to_owned();
    let expected = from_store(&example).replacen(
        "url: sqlite://../state/handoffd.db",
        "url: sqlite:///var/lib/handoffd/handoffd.db",
        1,
    );
    assert_eq!(from_store(&packaged), expected, "systemd/handoffd.yaml drifted from config/example.yaml");
    // The package's paths are the unit's.
    assert!(read("systemd/handoffd.service").contains("--config /etc/handoffd/handoffd.yaml"));
    assert!(read("Cargo.toml").contains(r#"["systemd/handoffd.yaml", "etc/handoffd/handoffd.yaml", "644"]"#));
}
