//! `handoffd backup DIR` while the daemon runs: both SQLite files copied consistently, and the
//! copy opens as a store holding what was acknowledged.

use std::process::Command;

use super::child::Daemon;
use crate::spine::harness::{now_unix, post_signed, text_webhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_daemon_holds_every_acknowledged_event() {
    let daemon = Daemon::start("", &[], &[]);
    daemon.wait_listening();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    for i in 0..20 {
        let body = text_webhook(&format!("wamid.backup{i}"), "919820012345", "Asha", "hello", now_unix());
        assert_eq!(post_signed(addr, &body).await, reqwest::StatusCode::OK);
    }

    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("copy");
    let backup = |dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_handoffd"))
            .args(["backup", "--config"])
            .arg(&daemon.config)
            .arg(dir)
            .output()
            .unwrap()
    };
    let out = backup(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("handoffd-inbox.db") && listed.contains("handoffd.db"), "{listed}");

    let copy = handoffd::store::open(&format!("sqlite://{}", dir.join("handoffd.db").display())).await.unwrap();
    let counts = copy.stage_counts().await.unwrap();
    assert_eq!(counts.inbox_total, 20, "every acknowledged webhook is in the copy: {counts:?}");

    let again = backup(&dir);
    assert!(!again.status.success(), "a second backup into the same folder is refused, not overwritten");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
}
