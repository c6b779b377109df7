//! `handoffd run` as an admin runs it: a real process, a real SIGTERM.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_stops_accepting_finishes_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml")).unwrap();
    let config = example
        .replace("sqlite://../state/handoffd.db", &format!("sqlite://{}/handoffd.db", dir.path().display()))
        .replace("listen: 127.0.0.1:8080", &format!("listen: 127.0.0.1:{port}"))
        .replace("listen: 127.0.0.1:9464", &format!("listen: 127.0.0.1:{admin_port}"))
        .replace("vocabulary: vocabulary", &format!("vocabulary: {}/config/vocabulary", env!("CARGO_MANIFEST_DIR")));
    let path = dir.path().join("handoffd.yaml");
    std::fs::File::create(&path).unwrap().write_all(config.as_bytes()).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the daemon did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let stopping = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(stopping.elapsed() < Duration::from_secs(30), "the daemon did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(log.contains("handoffd has stopped"), "{log}");
    assert!(!log.contains("demo-app-secret"), "secrets never reach the logs");
}

fn handoffd(args: &[&str], config: &std::path::Path, cwd: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("HANDOFFD_CONFIG")
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Relative paths resolve from the configuration's folder for `check`, `run` and the admin
/// verbs alike, whatever the working directory; the admin verbs take `--config` after their
/// subcommand, refuse a store that does not exist instead of creating it, and name a
/// quarantined body by the id the daemon logged.
#[tokio::test]
async fn every_verb_resolves_paths_from_the_configuration_folder() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::os::unix::fs::symlink(concat!(env!("CARGO_MANIFEST_DIR"), "/config/vocabulary"), dir.path().join("vocab"))
        .unwrap();
    std::os::unix::fs::symlink(concat!(env!("CARGO_MANIFEST_DIR"), "/config/model"), dir.path().join("model")).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml")).unwrap();
    let config = example
        .replace("sqlite://../state/handoffd.db", "sqlite://state/h.db")
        .replace("listen: 127.0.0.1:8080", &format!("listen: 127.0.0.1:{port}"))
        .replace("listen: 127.0.0.1:9464", &format!("listen: 127.0.0.1:{admin_port}"))
        .replace("vocabulary: vocabulary", "vocabulary: vocab");
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, config).unwrap();
    let db = dir.path().join("state/h.db");
    let cwd = elsewhere.path();

    let checked = handoffd(&["check"], &path, cwd);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));

    let listed = handoffd(&["dlq", "list"], &path, cwd);
    assert!(!listed.status.success(), "no store yet");
    let error = String::from_utf8_lossy(&listed.stderr);
    assert!(error.contains(&format!("the store `{}` does not exist", db.display())), "{error}");
    assert!(!db.exists() && !dir.path().join("state").exists(), "an admin verb creates no store");
    assert!(std::fs::read_dir(cwd).unwrap().next().is_none(), "nor anything in the working directory");

    let mut child = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["run", "--config"])
        .arg(&path)
        .current_dir(cwd)
        .env_remove("HANDOFFD_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the daemon did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The listeners are bound before the store is opened: the store follows shortly.
    while !db.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "`run` made no store beside the configuration");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A signed body the connector cannot parse is quarantined.
    let body = r#"{"object": "whatsapp_business_account", "entry": "not a list"}"#;
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/wa-main"))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", handoffd_whatsapp_cloud::sign("demo-app-secret", body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let listed = loop {
        let listed = handoffd(&["quarantine", "list"], &path, cwd);
        let stdout = String::from_utf8_lossy(&listed.stdout).into_owned();
        if listed.status.success() && !stdout.contains("empty") {
            break stdout;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "nothing was quarantined: {stdout}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let exit = child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(exit.success(), "{log}");

    let logged = log
        .split("kept as quarantine entry `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no quarantine line in the log:\n{log}"));
    assert!(listed.starts_with(&format!("{logged}\t")), "list names the logged id `{logged}`: {listed}");
    let shown = handoffd(&["quarantine", "show", logged], &path, cwd);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.starts_with(&format!("quarantined body {logged}\n")), "{shown}");

    let dead = handoffd(&["dlq", "list"], &path, cwd);
    assert!(dead.status.success(), "{}", String::from_utf8_lossy(&dead.stderr));
    assert_eq!(String::from_utf8_lossy(&dead.stdout).trim(), "The dead-letter queue is empty.");
    assert!(std::fs::read_dir(cwd).unwrap().next().is_none(), "nothing was written to the working directory");
}
