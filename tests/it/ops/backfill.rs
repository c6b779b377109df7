//! `handoffd backfill`: calls older than the poller's look-back arrive once through the running
//! daemon, a second run adds nothing, and without a daemon the pages go into the store's inbox.

use std::process::Command;
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::json;

use super::child::Daemon;

const VAPI_KEY: &str = "vapi-private-key";

/// A finished Vapi call as `GET /call` lists it, created `ago` before now.
fn old_call(id: &str, phone: &str, ago: TimeDelta) -> serde_json::Value {
    let stamp = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let created = Utc::now() - ago;
    let ended = created + TimeDelta::minutes(3);
    json!({"id": id, "type": "inboundPhoneCall", "status": "ended", "createdAt": stamp(created),
        "startedAt": stamp(created), "endedAt": stamp(ended), "endedReason": "customer-ended-call",
        "customer": {"number": phone},
        "artifact": {"messages": [
            {"role": "bot", "message": "Skyline Homes, how can I help?", "secondsFromStart": 1.0},
            {"role": "user", "message": "Is the 2BHK still available? Please call me back.", "secondsFromStart": 4.0}]}})
}

fn backfill(config: &std::path::Path, since: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["backfill", "--connector", "vapi-main", "--since", since, "--config"])
        .arg(config)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_older_than_the_look_back_arrive_once_and_a_second_run_adds_nothing() {
    let vapi = handoffd_mocks::vapi::start(VAPI_KEY).await.unwrap();
    vapi.add_call(old_call("call-10d", "+919820011111", TimeDelta::days(10)));
    vapi.add_call(old_call("call-2d", "+919820022222", TimeDelta::days(2)));
    let connector = format!(
        "  - id: vapi-main\n    kind: vapi\n    secret: s\n    api_key: {VAPI_KEY}\n    base_url: {}\n    \
         default_region: IN\n    poll: {{schedule: \"0 0 0 1 1 *\", look_back: 1h, settle: 1s}}\n  - id: hubspot-main\n",
        vapi.base_url()
    );
    let mut daemon = Daemon::start_edited("", &[], &[], |text| text.replacen("  - id: hubspot-main\n", &connector, 1));
    daemon.wait_listening();
    // The scheduled poller's first poll (after the migrations: the store is the daemon's from then
    // on) looks back one hour: it finds neither call.
    let waited = std::time::Instant::now();
    while vapi.list_requests() == 0 && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let db = daemon.config.parent().unwrap().join("handoffd.db");
    let store = handoffd::store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let settled = |interactions: i64| {
        let store = store.clone();
        async move {
            for _ in 0..600 {
                let counts = store.stage_counts().await.unwrap();
                if counts.inbox_unprocessed == 0 && counts.interactions >= interactions {
                    return counts;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the pipeline did not settle: {:?}", store.stage_counts().await.unwrap());
        }
    };
    assert!(vapi.list_requests() > 0, "the poller ran");
    assert_eq!(settled(0).await.interactions, 0, "older than the look-back: not polled");

    let first = backfill(&daemon.config, "30d");
    let (out, err) = (String::from_utf8_lossy(&first.stdout), String::from_utf8_lossy(&first.stderr));
    assert!(first.status.success(), "{out}\n{err}");
    assert!(err.contains("Using the running daemon's admin API"), "{err}");
    assert!(out.contains("2 interactions committed"), "{out}");
    // Not on a terminal: plain progress lines.
    assert!(err.contains("backfill: "), "{err}");
    let after_first = settled(2).await;
    assert_eq!(after_first.interactions, 2, "each old call once");

    let second = backfill(&daemon.config, "30d");
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let after_second = settled(2).await;
    assert_eq!(after_second.interactions, 2, "a second run adds nothing");
    assert!(after_second.inbox_total > after_first.inbox_total, "its pages were committed, then deduplicated");

    let (exit, log) = daemon.terminate();
    assert!(exit.success(), "{log}");
    let standalone = backfill(&daemon.config, "3d");
    let err = String::from_utf8_lossy(&standalone.stderr);
    assert!(standalone.status.success(), "{err}");
    assert!(err.contains("using the store directly"), "{err}");
    assert!(String::from_utf8_lossy(&standalone.stdout).contains("1 interactions committed"));
    let counts = store.stage_counts().await.unwrap();
    assert_eq!(counts.inbox_unprocessed, 1, "queued in the store's inbox for the next start: {counts:?}");
}
