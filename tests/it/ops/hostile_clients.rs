//! 1,500 clients that connect and send nothing, trickle their headers, or declare a body and
//! stall, against a daemon held to systemd's default of 1,024 open files: signed webhooks keep
//! being acknowledged, `/healthz` answers, and the memory comes back once they are gone.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::child::Daemon;
use crate::spine::harness::{now_unix, post_signed, text_webhook};

const EACH_KIND: usize = 500;

async fn hold_connections(port: u16) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(3 * EACH_KIND);
    for i in 0..3 * EACH_KIND {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else { continue };
        let _ = match i % 3 {
            // Sends nothing at all.
            0 => Ok(()),
            // Starts its headers and never finishes them.
            1 => stream.write_all(b"POST /webhooks/wa-main HTTP/1.1\r\nHost: x\r\nX-Slow: ").await,
            // Declares a body it never sends.
            _ => {
                stream
                    .write_all(b"POST /webhooks/wa-main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n{\"object\"")
                    .await
            }
        };
        held.push(stream);
    }
    held
}

fn available() -> bool {
    if std::process::Command::new("prlimit").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI runs on a machine with prlimit (util-linux)");
        eprintln!("SKIPPED: prlimit is not installed here");
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_do_not_stop_webhooks_or_health() {
    if !available() {
        return;
    }
    let daemon = Daemon::start("", &["prlimit", "--nofile=1024:1024", "--"], &[]);
    daemon.wait_listening();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    for i in 0..5 {
        let body = text_webhook(&format!("wamid.warm{i}"), "919820012345", "Asha", "hello", now_unix());
        assert_eq!(post_signed(addr, &body).await, reqwest::StatusCode::OK);
    }
    let baseline = daemon.rss_kb();

    let held = hold_connections(daemon.port).await;
    assert!(held.len() > 1_000, "the test holds its connections: {}", held.len());
    let mut latencies = Vec::new();
    for i in 0..30 {
        let body = text_webhook(&format!("wamid.under-siege{i}"), "919820012345", "Asha", "still there?", now_unix());
        let sent = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(5), post_signed(addr, &body))
            .await
            .unwrap_or_else(|_| panic!("webhook {i} got no answer while {} clients were held", held.len()));
        latencies.push(sent.elapsed());
        assert_eq!(status, reqwest::StatusCode::OK, "webhook {i}");
    }
    let health = reqwest::get(format!("http://{addr}/healthz")).await.expect("healthz answers");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let during = daemon.rss_kb();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    println!(
        "{} held connections: webhook latency median {:?}, max {:?}; RSS {} kB before, {} kB during",
        held.len(),
        median,
        latencies.last().unwrap(),
        baseline,
        during
    );
    assert!(median < Duration::from_millis(50), "webhooks stay fast under siege: median {median:?}");

    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = daemon.rss_kb();
    println!("RSS {after} kB after the clients left");
    assert!(after < baseline + 40 * 1024, "RSS returns near its baseline: {baseline} kB -> {during} kB -> {after} kB");

    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
    assert!(!log.contains("Too many open files"), "the cap keeps the daemon inside its descriptors:\n{log}");
}
