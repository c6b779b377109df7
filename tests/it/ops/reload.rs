//! Reloading a running daemon: SIGHUP applies a rotated webhook secret without a restart, and
//! `handoffd reload` of a broken configuration is refused with file:line:key while the running
//! configuration keeps serving.

use std::process::Command;
use std::time::Duration;

use super::child::Daemon;
use crate::spine::harness::{APP_SECRET, now_unix, post_webhook, text_webhook};

async fn signed_with(addr: std::net::SocketAddr, secret: &str, wamid: &str) -> reqwest::StatusCode {
    let body = text_webhook(wamid, "919820012345", "Asha", "hello", now_unix());
    post_webhook(addr, &body, Some(handoffd_whatsapp_cloud::sign(secret, body.as_bytes()))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_new_secret_and_a_bad_config_is_refused_while_the_old_one_serves() {
    let daemon = Daemon::start("", &[], &[]);
    daemon.wait_listening();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    assert_eq!(signed_with(addr, APP_SECRET, "wamid.r1").await, 200);

    // Rotate the app secret and SIGHUP, as `systemctl reload` does.
    let original = std::fs::read_to_string(&daemon.config).unwrap();
    std::fs::write(&daemon.config, original.replace(APP_SECRET, "rotated-app-secret")).unwrap();
    assert!(Command::new("kill").args(["-HUP", &daemon.pid().to_string()]).status().unwrap().success());
    let mut rotated = false;
    for attempt in 0..100 {
        if signed_with(addr, "rotated-app-secret", &format!("wamid.r2-{attempt}")).await == 200 {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rotated, "the new secret is accepted after SIGHUP:\n{}", daemon.log());
    assert_eq!(signed_with(addr, APP_SECRET, "wamid.r3").await, 401, "the old secret is not");

    // A broken configuration: refused by the daemon with its problems, nothing changes.
    let rotated_text = std::fs::read_to_string(&daemon.config).unwrap();
    std::fs::write(&daemon.config, rotated_text.replace("quiet_period: 1s", "quiet_period: soon")).unwrap();
    assert!(Command::new("kill").args(["-HUP", &daemon.pid().to_string()]).status().unwrap().success());
    let mut refused = false;
    for _ in 0..300 {
        if daemon.log().contains("Refused to reload the configuration") {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the daemon logs the refusal:\n{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("handoffd.yaml:") && log.contains("conversation.quiet_period"), "file:line:key:\n{log}");
    assert_eq!(signed_with(addr, "rotated-app-secret", "wamid.r3b").await, 200, "the running configuration serves on");
    // `handoffd reload` checks the file first and prints the same problems.
    let out =
        Command::new(env!("CARGO_BIN_EXE_handoffd")).args(["reload", "--config"]).arg(&daemon.config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad reload exits non-zero: {stderr}");
    assert!(
        stderr.contains("handoffd.yaml:") && stderr.contains("conversation.quiet_period"),
        "file:line:key: {stderr}"
    );
    assert_eq!(signed_with(addr, "rotated-app-secret", "wamid.r4").await, 200, "the running configuration serves on");

    // Fixed again: `handoffd reload` reports success.
    std::fs::write(&daemon.config, &rotated_text).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_handoffd")).args(["reload", "--config"]).arg(&daemon.config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Reloaded"));

    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
    assert!(!log.contains("rotated-app-secret"), "the secret is not logged");
}
