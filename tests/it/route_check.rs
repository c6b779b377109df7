//! `handoffd check` on routing: every refusal names file:line:key, and `--online` asks the CRM's
//! owners API (the mock HubSpot's `/crm/v3/owners`) whether each owner exists and is active.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap()
}

/// Writes `text` beside the example (so its vocabulary and model resolve) and runs `check`.
fn check(text: &str, extra: &[&str]) -> (i32, String, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let path = dir.join(format!("route-check-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["check", "--config"])
        .arg(&path)
        .args(extra)
        .env_remove("HANDOFFD_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let out = String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
    (output.status.code().unwrap_or(-1), out, path)
}

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`")) + 1
}

fn expect(text: &str, problems: &[(&str, &str, &str)]) {
    let (code, out, path) = check(text, &[]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out.lines().count(), problems.len(), "{out}");
    for (needle, key, message) in problems {
        let prefix = format!("{}:{}:", path.display(), line_of(text, needle));
        assert!(
            out.lines().any(|l| l.starts_with(&prefix) && l.contains(&format!(": {key}: ")) && l.contains(message)),
            "no `{prefix}..{key}: ..{message}` in:\n{out}"
        );
    }
}

#[test]
fn unknown_pools_owners_and_values_are_refused_at_their_lines() {
    let text = example()
        .replace("      pool: visits\n", "      pool: visitz\n")
        .replace("    visits: [\"75480001\"]", "    visits: [\"75480001\", \"nobody@example.com\"]")
        .replace("when: {urgency: [high]}", "when: {urgency: [burning]}")
        .replace("default_pool: sales", "default_pool: sale");
    expect(
        &text,
        &[
            ("pool: visitz", "routing.rules[0].pool", "`visitz` is not a pool"),
            ("nobody@example.com", "routing.pools.visits[1]", "is not the email or id of any owner"),
            ("burning", "routing.rules[1].when.urgency[0]", "`burning` is not one of high, medium, low"),
            ("default_pool: sale", "routing.default_pool", "`sale` is not a pool"),
        ],
    );
}

#[test]
fn malformed_hours_bad_zones_duplicates_and_bad_dates() {
    let text = example()
        .replace("hours: {mon: \"09:30-19:30\", tue", "hours: {mon: \"09:30-9\", tue")
        .replace("timezone: \"Asia/Kolkata\"", "timezone: \"Asia/Kolkatta\"")
        .replace("    - id: \"75480002\"", "    - id: \"75480001\" # again")
        .replace("{from: \"2026-12-24\", to: \"2026-12-26\"}", "{from: \"2026-12-24\", to: \"Boxing Day\"}");
    expect(
        &text,
        &[
            ("09:30-9\"", "routing.owners[0].hours.mon", "not `HH:MM`"),
            ("Asia/Kolkatta", "routing.owners[0].timezone", "not an IANA time zone"),
            ("Boxing Day", "routing.owners[0].away[0]", "neither a date"),
            ("# again", "routing.owners[1].id", "is already the id of `routing.owners[0]`"),
            // The pool still names the id that is gone.
            ("sales: [", "routing.pools.sales[1]", "`75480002` is not the email or id of any owner"),
        ],
    );
}

#[test]
fn a_pool_nobody_is_ever_on_shift_for_is_refused() {
    let text = example().replace(
        "hours: {mon: \"09:30-19:30\", tue: \"09:30-19:30\", wed: \"09:30-19:30\", thu: \"09:30-19:30\", fri: \"09:30-19:30\", sat: \"10:00-18:00\"}",
        "hours: {}",
    );
    // `visits` holds only Asha, who now has no working day; `sales` still has Vikram (no hours: always on).
    expect(&text, &[("    visits:", "routing.pools.visits", "nobody in this pool is ever on shift")]);
}

#[test]
fn a_rule_naming_an_intent_the_vocabulary_lacks_is_refused() {
    let text = example().replace("intent: [site_visit]", "intent: [site_vist]");
    expect(
        &text,
        &[("site_vist", "routing.rules[0].when.intent[0]", "`site_vist` is not an intent of the vocabulary")],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_refuses_an_email_the_crm_does_not_know() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = handoffd_mocks::MockCrm::start(handoffd_mocks::MockOptions::default(), listener).await;
    let base = mock.base_url();
    let text = example()
        .replace("${HUBSPOT_BASE_URL:-http://127.0.0.1:8090/hubspot}", &base)
        .replace(
            "    - id: \"75480001\"\n      name: Asha Rao",
            "    - email: Asha.Rao@example.com\n      name: Asha Rao",
        )
        .replace(
            "    - id: \"75480002\"\n      name: Vikram Shah",
            "    - email: vikram.shah@example.com\n      name: Vikram Shah",
        )
        .replace("[\"75480001\", \"75480002\"]", "[asha.rao@example.com, vikram.shah@example.com]")
        .replace("visits: [\"75480001\"]", "visits: [asha.rao@example.com]")
        .replace("sales: \"75480001\"", "sales: asha.rao@example.com");
    assert!(text.contains(&base), "the example's HubSpot base_url is replaced");
    // Offline, both emails are fine: nothing can tell.
    let offline = text.clone();
    let (code, out, _) = tokio::task::spawn_blocking(move || check(&offline, &[])).await.unwrap();
    assert_eq!(code, 0, "{out}");
    // Online, the mock's owners are Asha Rao and Miguel Torres: Vikram's email is refused at its line.
    let online = text.clone();
    let (code, out, path) = tokio::task::spawn_blocking(move || check(&online, &["--online"])).await.unwrap();
    assert_eq!(code, 2, "{out}");
    let line = line_of(&text, "- email: vikram.shah@example.com");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("{}:{line}:", path.display()))
            && out
                .contains("routing.owners[1].email: unknown in the CRM: no user with email `vikram.shah@example.com`"),
        "{out}"
    );
}
