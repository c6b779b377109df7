//! `handoffd check` as admins and the systemd unit run it: output and exit codes.

use std::path::Path;
use std::process::Command;

fn check(config: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["check", "--config"])
        .arg(config)
        .env_remove("HANDOFFD_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8(output.stdout).unwrap())
}

#[test]
fn example_checks_clean() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml");
    let (code, stdout) = check(&example);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("ok: {} (4 connectors: wa-main, hubspot-main, vapi-main, retell-main)", example.display())
    );
}

#[test]
fn problems_are_printed_one_per_line_with_exit_code_2() {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let broken = example
        .replace("timezone: Asia/Kolkata", "timezone: Asia/Nowhere")
        .replace("crm: hubspot-main", "crm: wa-main");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, &broken).unwrap();
    let line = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;

    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{}:{}:3: business.timezone: ", path.display(), line("Asia/Nowhere"))),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("{}:{}:3: delivery.crm: ", path.display(), line("crm: wa-main"))),
        "{stdout}"
    );
}

/// `check` loads the files the configuration names as `run` does, from the configuration's
/// folder: a configuration copied away from its vocabulary is refused before `run` fails on it.
#[test]
fn a_vocabulary_run_cannot_find_is_refused() {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, &example).unwrap();
    let line = example.lines().position(|l| l.contains("vocabulary: vocabulary")).unwrap() + 1;

    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    let expected = format!(
        "{}:{line}:3: interpret.vocabulary: the vocabulary in `{}` cannot be loaded",
        path.display(),
        dir.path().join("vocabulary").display()
    );
    assert!(stdout.starts_with(&expected), "{stdout}");

    // Beside the configuration, where the relative path points, it is found.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary"),
        dir.path().join("vocabulary"),
    )
    .unwrap();
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/model"), dir.path().join("model"))
        .unwrap();
    let (code, stdout) = check(&path);
    assert_eq!(code, 0, "{stdout}");
}

/// HubSpot's own checks run in `check`: before, `check` passed these and `run` refused them
/// when it built the connector (`limits.max_batch` above HubSpot's 100, a zero timeout).
#[test]
fn check_refuses_what_building_hubspot_would_refuse() {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let broken = example.replace(
        "    access_token: ${HUBSPOT_ACCESS_TOKEN:-mock-hubspot-token}\n",
        "    access_token: ${HUBSPOT_ACCESS_TOKEN:-mock-hubspot-token}\n    request_timeout: 0s\n    limits:\n      max_batch: 500\n",
    );
    assert_ne!(broken, example, "the example still has HubSpot's access_token line");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hubspot.yaml");
    std::fs::write(&path, &broken).unwrap();
    // The vocabulary is found beside the configuration, as `run` would look for it.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary"),
        dir.path().join("vocabulary"),
    )
    .unwrap();
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/model"), dir.path().join("model"))
        .unwrap();
    let line = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;

    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{}:{}:", path.display(), line("request_timeout: 0s")))
            && lines[0].contains("connectors[1].request_timeout: must be more than zero"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("{}:{}:", path.display(), line("max_batch: 500")))
            && lines[1].contains("connectors[1].limits.max_batch: must be between 1 and 100"),
        "{stdout}"
    );
}

/// `run` refuses a CRM sync schedule it cannot parse; `check` names it first, at its line.
#[test]
fn check_refuses_a_crm_sync_schedule_run_cannot_parse() {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let broken = example.replace("crm_sync: \"0 */5 * * * *\"", "crm_sync: \"every five minutes\"");
    assert_ne!(broken, example, "the example still has its crm_sync line");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.yaml");
    std::fs::write(&path, &broken).unwrap();
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary"),
        dir.path().join("vocabulary"),
    )
    .unwrap();
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/model"), dir.path().join("model"))
        .unwrap();
    let line = broken.lines().position(|l| l.contains("every five minutes")).unwrap() + 1;

    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{}:{line}:", path.display()))
            && stdout.contains("identity.crm_sync: `every five minutes` is not a cron expression"),
        "{stdout}"
    );
}

/// A model file that is missing, or whose labels are not the vocabulary's, is a `check` error
/// naming `interpret.model` and the file; the rules alone still make briefs (see interpret_model).
#[test]
fn a_missing_or_mismatched_model_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("config/example.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, &example).unwrap();
    std::os::unix::fs::symlink(root.join("config/vocabulary"), dir.path().join("vocabulary")).unwrap();
    let line = example.lines().position(|l| l.contains("model: model/brief-model.json")).unwrap() + 1;

    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    let model = dir.path().join("model/brief-model.json");
    let expected = format!("{}:{line}:3: interpret.model: the model `{}` is not used", path.display(), model.display());
    assert!(stdout.starts_with(&expected), "{stdout}");

    // A model trained on other labels: one intent renamed.
    let shipped = std::fs::read_to_string(root.join("config/model/brief-model.json")).unwrap();
    assert!(shipped.contains("\"site_visit\""));
    std::fs::create_dir(dir.path().join("model")).unwrap();
    std::fs::write(&model, shipped.replacen("\"site_visit\"", "\"house_tour\"", 1)).unwrap();
    let (code, stdout) = check(&path);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("interpret.model: "), "{stdout}");
    assert!(stdout.contains("`intents` labels do not match the vocabulary"), "{stdout}");
    assert!(stdout.contains("house_tour") && stdout.contains("site_visit"), "{stdout}");
}

/// `check --online` calls each CRM as `run` would: the HubSpot mock passes, a Zoho token lacking the COQL scope
/// is named, and the exit code says something is wrong.
#[tokio::test(flavor = "multi_thread")]
async fn online_checks_each_crm_and_names_a_missing_scope() {
    use handoffd_mocks::zoho::{ZohoMockOptions, ZohoMockServer};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hubspot = handoffd_mocks::MockCrm::start(handoffd_mocks::MockOptions::default(), listener).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let zoho_options =
        ZohoMockOptions { scope: "ZohoCRM.modules.ALL ZohoCRM.users.READ".into(), ..ZohoMockOptions::default() };
    let zoho = ZohoMockServer::start(zoho_options.clone(), listener, Default::default()).await;

    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml")).unwrap();
    let mut config = example.replace(
        "url: sqlite://../state/handoffd.db",
        &format!("url: sqlite://{}", dir.path().join("handoffd.db").display()),
    );
    config.push_str(&format!(
        "\n  - id: zoho-main\n    kind: zoho\n    data_centre: in\n    base_url: {url}\n    accounts_url: {url}\n    \
         client_id: {}\n    client_secret: {}\n    refresh_token: {}\n",
        zoho_options.client_id,
        zoho_options.client_secret,
        zoho_options.refresh_token,
        url = zoho.base_url(),
    ));
    let path = dir.path().join("online.yaml");
    std::fs::write(&path, &config).unwrap();
    // The vocabulary and model resolve from the configuration's folder.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for entry in std::fs::read_dir(&base).unwrap() {
        let entry = entry.unwrap();
        let target = dir.path().join(entry.file_name());
        if !target.exists() {
            std::os::unix::fs::symlink(entry.path(), target).unwrap();
        }
    }

    let hubspot_url = hubspot.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_handoffd"))
            .args(["check", "--online", "--config"])
            .arg(&path)
            .env_remove("HANDOFFD_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env("HUBSPOT_BASE_URL", hubspot_url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("ok: crm `hubspot-main`: credentials, scopes and set-up checked;"), "{stdout}{stderr}");
    let zoho_line = stdout.lines().find(|l| l.starts_with("error: crm `zoho-main`")).expect(&stdout);
    assert!(zoho_line.contains("`ZohoCRM.coql.READ`"), "{zoho_line}");
}
