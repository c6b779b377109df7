//! `handoffd replay` against a running daemon: stored events run through the pipeline again
//! without duplicating what they produced, and a quarantined body is tried again (and kept once
//! when it still cannot be parsed).

use std::process::Command;
use std::time::Duration;

use super::child::Daemon;
use crate::spine::harness::{now_unix, post_signed, text_webhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_events_produce_nothing_twice_and_quarantined_ones_are_retried() {
    let daemon = Daemon::start("", &[], &[]);
    daemon.wait_listening();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    for i in 0..10 {
        let body = text_webhook(&format!("wamid.replay{i}"), "919820012345", "Asha", "price of the 2BHK?", now_unix());
        assert_eq!(post_signed(addr, &body).await, 200);
    }
    assert_eq!(post_signed(addr, r#"{"object": "whatsapp_business_account", "entry": "#).await, 200);

    let db = daemon.config.parent().unwrap().join("handoffd.db");
    let store = handoffd::store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let settled = || async {
        for _ in 0..200 {
            let counts = store.stage_counts().await.unwrap();
            if counts.inbox_unprocessed == 0 && counts.interactions >= 10 && counts.quarantined >= 1 {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the pipeline did not settle: {:?}", store.stage_counts().await.unwrap());
    };
    let before = settled().await;

    let replay = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_handoffd"))
            .arg("replay")
            .args(args)
            .arg("--config")
            .arg(&daemon.config)
            .output()
            .unwrap()
    };
    let quarantined = replay(&["--quarantined"]);
    assert!(quarantined.status.success(), "{}", String::from_utf8_lossy(&quarantined.stderr));
    assert!(
        String::from_utf8_lossy(&quarantined.stdout).contains("Queued 1 stored events"),
        "{}",
        String::from_utf8_lossy(&quarantined.stdout)
    );
    let all = replay(&["--since", "1h"]);
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    assert!(
        String::from_utf8_lossy(&all.stdout).contains("Queued 11 stored events"),
        "{}",
        String::from_utf8_lossy(&all.stdout)
    );
    // Not on a terminal: plain progress lines, ending with everything processed.
    assert!(
        String::from_utf8_lossy(&all.stderr).contains("replay: 11/11 events processed"),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );

    let after = settled().await;
    assert_eq!(after.interactions, before.interactions, "nothing produced twice");
    assert_eq!(after.quarantined, 1, "the body that still does not parse is kept once");
    assert_eq!(after.inbox_total, before.inbox_total);
    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
}
