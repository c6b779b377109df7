//! `handoffd explain` and `handoffd eval` as users run them.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn handoffd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_handoffd")).args(args).current_dir(repo()).output().unwrap()
}

#[test]
fn explain_prints_the_brief_of_a_case_file() {
    let output = handoffd(&[
        "explain",
        "--config",
        "config/example.yaml",
        "--input",
        "tests/interpret_cases/106-pulsar-emi-kal-subah.json",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let brief: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(brief["disposition"], "callback");
    assert_eq!(brief["urgency"]["level"], "high");
    assert!(brief["reasked_facts"].as_array().unwrap().is_empty());
}

#[test]
fn explain_text_shows_evidence() {
    let output = handoffd(&[
        "explain",
        "--config",
        "config/example.yaml",
        "--input",
        "tests/interpret_cases/109-plumber-leak-third-time-refund-senior.json",
        "--format",
        "text",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("complaint (turn 1): \"third time\""), "{text}");
}

#[test]
fn explain_names_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.json");
    std::fs::write(&input, r#"{"now": "2026-01-01T10:00:00Z", "timezone": "UTC", "channel": "sms", "turns": [{"at": "soon", "from": "customer", "text": "hi"}]}"#).unwrap();
    let output = handoffd(&["explain", "--config", "config/example.yaml", "--input", input.to_str().unwrap()]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("turns[0].at"), "{error}");
}

#[test]
fn eval_prints_figures_and_exits_zero() {
    let output = handoffd(&["eval", "tests/interpret_cases", "--config", "config/example.yaml", "--show-misses"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("intents") && text.contains("do_not_ask"), "{text}");
    let missing = handoffd(&["eval", "tests/no-such-dir", "--config", "config/example.yaml"]);
    assert!(!missing.status.success());
}

/// Figures of the rules alone must not pass for the model's: `eval` says on stderr when the
/// configured model is not used (here its file is missing), and nothing when it is.
#[test]
fn eval_says_when_the_configured_model_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("handoffd.yaml");
    std::fs::copy(repo().join("config/example.yaml"), &config).unwrap();
    std::os::unix::fs::symlink(repo().join("config/vocabulary"), dir.path().join("vocabulary")).unwrap();
    let output = handoffd(&["eval", "tests/interpret_cases", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(
        warning.contains("warning: the model") && warning.contains("is not used, the rules run alone"),
        "{warning}"
    );

    let shipped = handoffd(&["eval", "tests/interpret_cases", "--config", "config/example.yaml"]);
    assert!(shipped.status.success());
    assert!(!String::from_utf8_lossy(&shipped.stderr).contains("is not used"));
}
