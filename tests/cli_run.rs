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
        .replace("sqlite://state/handoffd.db", &format!("sqlite://{}/handoffd.db", dir.path().display()))
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
