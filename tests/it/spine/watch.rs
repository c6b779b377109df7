//! The SLA watcher against the mock CRM and the WhatsApp mock: tasks written by the daemon, then checked by a
//! watcher the test drives with its own clock (`SlaWatcher::check(now)`), so the ladder's timing is exact.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd::config::schema::SlaConfig;
use handoffd::deliver::{MeteredCrm, StoreVault};
use handoffd::lease::Lease;
use handoffd::registry::Connectors;
use handoffd::watch::{RouterReassigner, SlaWatcher};
use handoffd_contract::kind::BuildContext;
use handoffd_mocks::MockOptions;
use handoffd_mocks::compliance::CrmMock;
use hmac::{Hmac, KeyInit, Mac};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::harness::*;

const WAIT: Duration = Duration::from_secs(40);
const MANAGER_SECRET: &str = "manager-hook-secret";
const READ: &str = "POST /hubspot/crm/v3/objects/tasks/batch/read";
const UPDATE: &str = "POST /hubspot/crm/v3/objects/tasks/batch/update";

fn sla(manager_url: &str) -> SlaConfig {
    let yaml = format!(
        r#"
check_every: 1m
ladder:
  - after: 20m
    action: remind
    note: "Past due by {{minutes}} min: call the customer now."
  - after: 60m
    action: reassign
  - after: 120m
    action: notify_manager
    manager: Priya
    webhook: {{url: "{manager_url}", secret: {MANAGER_SECRET}}}
confirm:
  messenger: wa-send
  template: callback_confirmation
  language: en
"#
    );
    serde_saphyr::from_str(&yaml).expect("the sla block parses")
}

/// A watcher over the daemon's store and the configuration's CRM and messengers: another instance's, or this
/// one's after a restart (its own lease holder, nothing in memory).
fn watcher(daemon: &handoffd::daemon::RunningDaemon, harness: &Harness, sla: SlaConfig, who: &str) -> SlaWatcher {
    let loaded = harness.loaded();
    let config = &loaded.config;
    let context =
        BuildContext { vault: Arc::new(StoreVault::new(daemon.store.clone(), None)), http: reqwest::Client::new() };
    let connectors = Connectors::build(&config.connectors, &context).expect("connectors build");
    let crm = MeteredCrm::wrap(connectors.crms["hubspot-main"].clone());
    let timezone: chrono_tz::Tz = config.business.timezone.parse().unwrap();
    SlaWatcher {
        store: daemon.store.clone(),
        account: Arc::new(Lease::new(daemon.store.clone(), "crm:hubspot-main", who, Duration::from_secs(60))),
        crm,
        sla,
        takes_lease: true,
        reassigner: Arc::new(RouterReassigner::fixed(Arc::new(
            handoffd::route::Router::from_config(config, Some(daemon.store.clone())).expect("router"),
        ))),
        messengers: connectors.messengers.clone(),
        http: reqwest::Client::new(),
        timezone,
    }
}

fn requests(mock: &handoffd_mocks::MockHandle, route: &str) -> u64 {
    mock.report().requests_per_endpoint.get(route).copied().unwrap_or(0)
}

async fn customer_task(
    daemon: &handoffd::daemon::RunningDaemon,
    mock: &handoffd_mocks::MockHandle,
    wa_id: &str,
    texts: &[&str],
) -> handoffd_mocks::MockTaskView {
    let before = mock.tasks().len();
    for (i, text) in texts.iter().enumerate() {
        let body = text_webhook(
            &format!("wamid.W{wa_id}{i}{}", uuid::Uuid::new_v4().simple()),
            wa_id,
            "Rahul Mehta",
            text,
            now_unix(),
        );
        assert_eq!(post_signed(daemon.addr, &body).await, 200);
    }
    let task = eventually(WAIT, "the customer's task", || async {
        let tasks = mock.tasks();
        (tasks.len() > before).then(|| tasks[before].clone())
    })
    .await;
    // The CRM answers before the daemon records the task: wait for the record too.
    let handoff = task.properties["handoffd_handoff_id"].clone();
    eventually(WAIT, "the task recorded", || async {
        let audit = daemon.store.audit_for_handoff(&handoff).await.unwrap();
        audit.iter().any(|entry| entry.event == "task_created").then_some(())
    })
    .await;
    task
}

fn due_of(task: &handoffd_mocks::MockTaskView) -> DateTime<Utc> {
    task.properties["hs_timestamp"].parse().expect("hs_timestamp is a time")
}

fn events(audit: &[handoffd::store::AuditEntry]) -> Vec<&str> {
    audit.iter().map(|entry| entry.event.as_str()).collect()
}

#[tokio::test]
async fn completed_tasks_close_overdue_ones_climb_the_ladder_once_and_customers_are_confirmed_once() {
    let mock = start_mock(MockOptions::default()).await;
    let manager = MockServer::start().await;
    Mock::given(method("POST")).and(path("/sla")).respond_with(ResponseTemplate::new(200)).mount(&manager).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.graph_base_url = mock.graph_base_url();
    // A second WhatsApp connector that may send (the harness's own has no access token).
    harness.extra_hubspot = format!(
        "  - id: wa-send\n    kind: whatsapp_cloud\n    app_secret: s2\n    verify_token: v2\n    \
         phone_number_id: \"106540352242999\"\n    access_token: graph-token\n    base_url: {}\n",
        mock.graph_base_url()
    );
    let daemon = harness.start().await;

    let done = customer_task(&daemon, &mock, "919820000001", &["Please call me about the 3BHK in Baner"]).await;
    let late = customer_task(&daemon, &mock, "919820000002", &["I want a site visit for the 2BHK, call me"]).await;
    let quiet = customer_task(&daemon, &mock, "919820000003", &["Call me about the 1BHK price", "STOP"]).await;
    let handoff = |task: &handoffd_mocks::MockTaskView| task.properties["handoffd_handoff_id"].clone();
    let sla = sla(&format!("{}/sla", manager.uri()));

    // First check, as the tasks are written: nothing is due; the customers get their confirmation, but the one
    // who sent STOP.
    let first = watcher(&daemon, &harness, sla.clone(), "first");
    let reads = requests(&mock, READ);
    let summary = first.check(Utc::now()).await.expect("a check");
    assert_eq!(summary.watched, 3);
    assert_eq!((summary.completed, summary.steps, summary.confirmations_sent), (0, 0, 2), "{summary:?}");
    assert_eq!(requests(&mock, READ) - reads, 1, "three tasks, one batch read");
    let sent = mock.whatsapp_messages();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|m| m.kind == "template" && m.template.as_deref() == Some("callback_confirmation")));
    assert!(sent.iter().all(|m| m.to != "+919820000003"), "the customer who sent STOP is not messaged: {sent:?}");
    let quiet_audit = daemon.store.audit_for_handoff(&handoff(&quiet)).await.unwrap();
    assert!(events(&quiet_audit).contains(&"confirmation_skipped"), "{quiet_audit:#?}");

    // The first task is done in the CRM; time passes the second's due time by an hour.
    assert!(mock.hubspot().complete_task(&done.id));
    let late_owner = late.properties["hubspot_owner_id"].clone();
    let at = due_of(&late).max(due_of(&quiet)) + chrono::Duration::minutes(61);
    let (reads, updates) = (requests(&mock, READ), requests(&mock, UPDATE));
    let summary = first.check(at).await.expect("a check");
    assert_eq!(summary.completed, 1, "{summary:?}");
    assert_eq!(summary.steps, 4, "reminded and reassigned, two tasks: {summary:?}");
    assert_eq!(summary.confirmations_sent, 0, "one confirmation per handoff");
    assert_eq!(requests(&mock, READ) - reads, 1);
    assert_eq!(requests(&mock, UPDATE) - updates, 1, "both overdue tasks rewritten in one batch call");
    assert_eq!(summary.crm_calls, 2);

    let done_audit = daemon.store.audit_for_handoff(&handoff(&done)).await.unwrap();
    assert_eq!(events(&done_audit).last(), Some(&"task_completed"), "{done_audit:#?}");
    let rewritten = mock.tasks().into_iter().find(|t| t.id == late.id).unwrap();
    assert_eq!(rewritten.properties["hs_task_priority"], "HIGH");
    assert_ne!(rewritten.properties["hubspot_owner_id"], late_owner, "reassigned to the pool's other owner");
    assert!(rewritten.properties["hs_task_body"].contains("call the customer now"), "{:?}", rewritten.properties);
    let late_audit = daemon.store.audit_for_handoff(&handoff(&late)).await.unwrap();
    let late_events = events(&late_audit);
    assert!(late_events.ends_with(&["sla_reminded", "sla_reassigned"]), "{late_events:?}");
    let reassigned = &late_audit.last().unwrap().detail;
    assert_eq!(reassigned["from"], late_owner.as_str());
    assert!(reassigned["summary"].as_str().unwrap().starts_with("reassigned from"), "{reassigned}");

    // A restart (another watcher over the same store, nothing in memory): the steps done stay done.
    let restarted = watcher(&daemon, &harness, sla.clone(), "restarted");
    let updates = requests(&mock, UPDATE);
    let again = restarted.check(at + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!((again.watched, again.steps, again.confirmations_sent), (2, 0, 0), "{again:?}");
    assert_eq!(requests(&mock, UPDATE), updates, "nothing written again");
    assert_eq!(mock.whatsapp_messages().len(), 2, "no confirmation twice");

    // Two hours past due: the manager is notified once, signed; a later check by another instance adds nothing.
    let later = restarted.check(at + chrono::Duration::minutes(60)).await.unwrap();
    assert_eq!(later.steps, 2, "{later:?}");
    let _ = first.check(at + chrono::Duration::minutes(90)).await.unwrap();
    let posts = manager.received_requests().await.unwrap();
    assert_eq!(posts.len(), 2, "one POST per overdue handoff: {posts:?}");
    for post in &posts {
        let header = post.headers.get("x-handoffd-signature").unwrap().to_str().unwrap();
        let (t, v1) = header.split_once(',').unwrap();
        let t = t.strip_prefix("t=").unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(MANAGER_SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&post.body);
        assert_eq!(v1.strip_prefix("v1=").unwrap(), hex::encode(mac.finalize().into_bytes()), "signed");
        let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body["event"], "sla.escalated");
        assert_eq!(body["manager"], "Priya");
        assert!(body["minutes_past_due"].as_i64().unwrap() >= 120, "{body}");
        let delivery = post.headers.get("x-handoffd-delivery").unwrap().to_str().unwrap();
        assert_eq!(delivery, format!("{}:2", body["handoff_id"].as_str().unwrap()));
    }
    let late_audit = daemon.store.audit_for_handoff(&handoff(&late)).await.unwrap();
    assert_eq!(events(&late_audit).iter().filter(|e| **e == "sla_manager_notified").count(), 1);

    // The reassigned customer writes again: the handoff's task is updated from the new brief, and keeps the owner
    // the watcher moved it to and the priority the reminder raised.
    let reassigned_to = rewritten.properties["hubspot_owner_id"].clone();
    let updates_before = events(&late_audit).iter().filter(|e| **e == "task_updated").count();
    let body = text_webhook(
        &format!("wamid.Wlate{}", uuid::Uuid::new_v4().simple()),
        "919820000002",
        "Rahul Mehta",
        "Also, is covered parking included?",
        now_unix(),
    );
    assert_eq!(post_signed(daemon.addr, &body).await, 200);
    let late_audit = eventually(WAIT, "the late task updated from the new brief", || async {
        let audit = daemon.store.audit_for_handoff(&handoff(&late)).await.unwrap();
        (events(&audit).iter().filter(|e| **e == "task_updated").count() > updates_before).then_some(audit)
    })
    .await;
    assert!(events(&late_audit).contains(&"escalation_kept"), "{:?}", events(&late_audit));
    let updated = mock.tasks().into_iter().find(|t| t.id == late.id).unwrap();
    assert_eq!(updated.properties["hubspot_owner_id"], reassigned_to, "the watcher's owner stays");
    assert_eq!(updated.properties["hs_task_priority"], "HIGH", "the raised priority stays");

    // The completed handoff is closed: the customer's next message starts a new handoff, with a task of its own.
    let next = customer_task(&daemon, &mock, "919820000001", &["One more question about the Baner flat"]).await;
    assert_ne!(handoff(&next), handoff(&done));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_the_holder_of_the_crm_accounts_lease_checks() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    // The daemon delivers for the account, so it holds the account's lease once it has looked for work.
    let _ = customer_task(&daemon, &mock, "919820000009", &["Call me about the 3BHK"]).await;
    let other = watcher(&daemon, &harness, sla("http://127.0.0.1:9/sla"), "other-instance");
    assert!(!other.our_turn(Utc::now()).await, "another instance holds the account");
    daemon.shutdown().await.unwrap();
    // Released at shutdown: this instance takes it, after the previous holder's rate window.
    let after = Utc::now() + chrono::Duration::seconds(11);
    assert!(other.our_turn(after).await);
}

#[tokio::test]
async fn the_daemons_own_watcher_closes_a_handoff_whose_task_is_done() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    // A top-level key after the connectors' list: the daemon runs its watcher every 10 s (the shortest allowed).
    harness.extra_hubspot = "sla:\n  check_every: 10s\n".to_owned();
    let daemon = harness.start().await;
    let task = customer_task(&daemon, &mock, "919820000011", &["Please call me about the 2BHK"]).await;
    assert!(mock.hubspot().complete_task(&task.id));
    let handoff = task.properties["handoffd_handoff_id"].clone();
    eventually(Duration::from_secs(40), "the handoff closed by the daemon's watcher", || async {
        let audit = daemon.store.audit_for_handoff(&handoff).await.unwrap();
        audit.iter().any(|entry| entry.event == "task_completed").then_some(())
    })
    .await;
    assert!(requests(&mock, READ) >= 1);
    daemon.shutdown().await.unwrap();
}
