//! The admin API and the verbs that use it (issue 24, item 5): dead letters, quarantine, audit,
//! pause/resume (kept in the store), the configuration's hash; through the running daemon, and
//! through the store once it has stopped; a wrong token refused and logged without the token.

use std::process::{Command, Output};
use std::time::Duration;

use super::child::Daemon;
use crate::spine::harness::{eventually, now_unix, post_signed, text_webhook};

const TOKEN: &str = "admin-token-4f1d9c";
const WRONG_TOKEN: &str = "not-the-token-7e2a";

fn handoffd(daemon_config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handoffd")).args(args).arg("--config").arg(daemon_config).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_verbs_go_through_the_daemon_while_it_runs_and_through_the_store_after() {
    let mut daemon = Daemon::start_edited("", &[], &[], |config| {
        config.replace("admin:\n  listen:", &format!("admin:\n  token: {TOKEN}\n  listen:"))
    });
    daemon.wait_listening();
    let loaded = handoffd::config::load(&daemon.config).unwrap();
    let admin = format!("http://{}", loaded.config.admin.listen);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    let http = reqwest::Client::new();

    // A wrong token: 401, and the log says so without the token.
    let refused = http.get(format!("{admin}/admin/dead-letters")).bearer_auth(WRONG_TOKEN).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let refused = http.get(format!("{admin}/admin/config")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "no token at all");

    // The configuration's hash is the file's.
    let on_disk = handoffd::config::file_sha256(&std::fs::read(&daemon.config).unwrap());
    let hash = handoffd(&daemon.config, &["config-hash"]);
    assert!(hash.status.success(), "{}", text(&hash.stderr));
    assert!(text(&hash.stdout).contains(&format!("{on_disk}  ")), "{}", text(&hash.stdout));
    assert_eq!(text(&hash.stdout).matches(&on_disk).count(), 2, "on disk and running: {}", text(&hash.stdout));

    // Delivery paused: the task waits in the outbox instead of failing at the (unreachable) CRM.
    let paused = handoffd(&daemon.config, &["connector", "pause", "hubspot-main"]);
    assert!(paused.status.success(), "{}", text(&paused.stderr));
    assert!(text(&paused.stderr).contains("Using the running daemon's admin API"), "{}", text(&paused.stderr));
    let webhook_source = handoffd(&daemon.config, &["connector", "pause", "wa-main"]);
    assert!(!webhook_source.status.success(), "a webhook source is not paused");
    assert!(text(&webhook_source.stderr).contains("cannot be paused"), "{}", text(&webhook_source.stderr));
    let listed = handoffd(&daemon.config, &["connector", "list"]);
    assert!(text(&listed.stdout).contains("hubspot-main\thubspot\tcrm:delivery\tpaused"), "{}", text(&listed.stdout));
    let metrics = http.get(format!("{admin}/metrics")).bearer_auth(TOKEN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("handoffd_connector_paused{connector=\"hubspot-main\"} 1"), "{metrics}");

    let body = text_webhook("wamid.admin1", "919820012345", "Asha", "please call me about the 2BHK", now_unix());
    assert_eq!(post_signed(addr, &body).await, 200);
    assert_eq!(post_signed(addr, r#"{"object": "whatsapp_business_account", "entry": "#).await, 200);
    let db = daemon.config.parent().unwrap().join("handoffd.db");
    let store = handoffd::store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    eventually(Duration::from_secs(20), "the task queued", || async {
        let counts = store.stage_counts().await.unwrap();
        (counts.outbox_pending == 1 && counts.quarantined == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = store.stage_counts().await.unwrap();
    assert_eq!((counts.outbox_pending, counts.dead_letters), (1, 0), "nothing leaves a paused CRM's outbox");

    // Resumed: the CRM is unreachable, so the job exhausts its retries and becomes a dead letter.
    assert_eq!(store.paused_connectors().await.unwrap(), ["hubspot-main"], "the pause is in the store");
    let resumed = handoffd(&daemon.config, &["connector", "resume", "hubspot-main"]);
    assert!(text(&resumed.stdout).contains("is resumed"), "{}", text(&resumed.stdout));
    eventually(Duration::from_secs(30), "a dead letter", || async {
        (store.stage_counts().await.unwrap().dead_letters == 1).then_some(())
    })
    .await;

    let list = handoffd(&daemon.config, &["dlq", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(text(&list.stderr).contains("Using the running daemon's admin API"), "{}", text(&list.stderr));
    let line = text(&list.stdout);
    let id = line.split('\t').next().unwrap().trim().to_owned();
    let handoff = line.split("handoff ").nth(1).unwrap().split('\t').next().unwrap().to_owned();
    let show = handoffd(&daemon.config, &["dlq", "show", &id]);
    assert!(text(&show.stdout).contains(&format!("handoff:    {handoff}")), "{}", text(&show.stdout));
    assert!(text(&show.stdout).contains("crm:        hubspot-main"), "{}", text(&show.stdout));

    // The handoff's decisions, printed whatever their events, and the customer's timeline.
    let audit = handoffd(&daemon.config, &["audit", "--handoff", &handoff]);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    assert!(text(&audit.stdout).lines().count() >= 2, "{}", text(&audit.stdout));
    assert!(text(&audit.stdout).contains("dead_lettered"), "{}", text(&audit.stdout));
    let timeline = handoffd(&daemon.config, &["audit", "--customer", "+919820012345"]);
    assert!(timeline.status.success(), "{}", text(&timeline.stderr));
    assert!(text(&timeline.stdout).contains("please call me"), "{}", text(&timeline.stdout));
    let nobody = handoffd(&daemon.config, &["audit", "--customer", "+14155550100"]);
    assert!(!nobody.status.success());

    // Quarantine through the API: listed, shown raw, dropped.
    let quarantined = handoffd(&daemon.config, &["quarantine", "list"]);
    let quarantine_id = text(&quarantined.stdout).split('\t').next().unwrap().trim().to_owned();
    let shown = handoffd(&daemon.config, &["quarantine", "show", &quarantine_id]);
    assert!(text(&shown.stdout).contains("\"entry\": "), "{}", text(&shown.stdout));
    let dropped = handoffd(&daemon.config, &["quarantine", "drop", &quarantine_id]);
    assert!(dropped.status.success(), "{}", text(&dropped.stderr));
    assert_eq!(store.stage_counts().await.unwrap().quarantined, 0);
    let missing = http.get(format!("{admin}/admin/quarantine/{quarantine_id}")).bearer_auth(TOKEN).send().await;
    assert_eq!(missing.unwrap().status(), 404);

    // Replayed from the dead letters: back in the outbox (and, the CRM still unreachable, dead again).
    let replayed = handoffd(&daemon.config, &["dlq", "replay", &id]);
    assert!(replayed.status.success(), "{}", text(&replayed.stderr));
    let (exit, log) = daemon.terminate();
    assert!(exit.success(), "{log}");
    assert!(log.contains("Refused an admin request: 401."), "{log}");
    assert!(!log.contains(WRONG_TOKEN) && !log.contains(TOKEN), "no admin token in the log:\n{log}");
    assert!(log.contains("The connector `hubspot-main` is paused"), "{log}");

    // The daemon has stopped: the same verbs read the store, and say so.
    let offline = handoffd(&daemon.config, &["dlq", "list"]);
    assert!(offline.status.success(), "{}", text(&offline.stderr));
    assert!(text(&offline.stderr).contains("is not running on admin.listen"), "{}", text(&offline.stderr));
    // A pause is kept in the store: with no daemon running it is written there, for the next start.
    let offline_pause = handoffd(&daemon.config, &["connector", "pause", "hubspot-main"]);
    assert!(offline_pause.status.success(), "{}", text(&offline_pause.stderr));
    assert!(text(&offline_pause.stdout).contains("is paused (in the store)"), "{}", text(&offline_pause.stdout));
    assert_eq!(store.paused_connectors().await.unwrap(), ["hubspot-main"], "kept for the next start");
    let offline_webhook = handoffd(&daemon.config, &["connector", "pause", "wa-main"]);
    assert!(!offline_webhook.status.success(), "a webhook source is not paused, daemon or not");
}
