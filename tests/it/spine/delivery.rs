//! From a burst of messages to one HubSpot task: coalescing, routing, updates, failures.

use std::time::Duration;

use handoffd_mocks::{FaultPlan, MockOptions};

use super::harness::*;

const WAIT: Duration = Duration::from_secs(15);

async fn send_burst(addr: std::net::SocketAddr, wa_id: &str, prefix: &str, texts: &[&str]) -> Vec<String> {
    let mut bodies = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let body = text_webhook(&format!("wamid.{prefix}{i}"), wa_id, "Rahul Mehta", text, now_unix());
        assert_eq!(post_signed(addr, &body).await, 200);
        bodies.push(body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bodies
}

#[tokio::test]
async fn a_burst_becomes_one_task_and_redelivery_is_ignored() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;

    let bodies = send_burst(
        daemon.addr,
        "919820012345",
        "BURST",
        &[
            "Hi, I saw your ad for the 3BHK in Baner",
            "what is the price?",
            "my budget is 1.2 crore",
            "can I visit this Saturday morning?",
            "please call me after 6 pm",
        ],
    )
    .await;
    // Meta redelivers: the same wamids again.
    assert_eq!(post_signed(daemon.addr, &bodies[1]).await, 200);
    assert_eq!(post_signed(daemon.addr, &bodies[4]).await, 200);

    let tasks =
        eventually(WAIT, "one task in the CRM", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) }).await;
    // Longer than another quiet period: nothing else may appear.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let tasks_after = mock.tasks();
    assert_eq!(tasks_after.len(), 1, "{tasks_after:#?}");
    let task = &tasks[0];
    let props = &task.properties;
    assert_eq!(props["hs_task_type"], "CALL");
    assert_eq!(props["hs_task_status"], "NOT_STARTED");
    assert!([OWNER_A, OWNER_B].contains(&props["hubspot_owner_id"].as_str()), "{props:?}");
    assert!(!props["hs_task_subject"].is_empty() && props["hs_task_subject"].chars().count() < 80, "{props:?}");
    assert!(props["hs_task_body"].contains("<strong>"), "the body is HTML labelled facts: {props:?}");
    assert!(props["hs_task_body"].contains("1.2 crore"), "the budget is a fact not to re-ask: {props:?}");
    assert!(props.contains_key("hs_timestamp"));
    assert!(props.contains_key("hs_task_priority"));
    let handoff_id = &props["handoffd_handoff_id"];
    assert!(!handoff_id.is_empty());
    assert_eq!(task.associations.len(), 1, "{task:?}");
    assert_eq!(task.associations[0].association_type_id, 204);

    let report = mock.report();
    assert_eq!(report.tasks_created, 1);
    assert_eq!(report.duplicate_tasks, 0);
    assert_eq!(report.contacts_created, 1);

    // The audit trail tells the story of the handoff.
    let audit = daemon.store.audit_for_handoff(handoff_id).await.unwrap();
    let events: Vec<&str> = audit.iter().map(|a| a.event.as_str()).collect();
    assert_eq!(events, ["classified", "routed", "task_created"], "{audit:#?}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_later_message_updates_the_open_task_instead_of_creating_another() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;

    send_burst(daemon.addr, "919820055555", "FIRST", &["I want a demo of your CRM"]).await;
    eventually(WAIT, "the first task", || async { Some(()).filter(|_| mock.report().tasks_created == 1) }).await;
    send_burst(daemon.addr, "919820055555", "LATER", &["actually, make it Wednesday afternoon"]).await;
    eventually(WAIT, "the task updated", || async { Some(()).filter(|_| mock.report().tasks_updated >= 1) }).await;

    let report = mock.report();
    assert_eq!(report.tasks_created, 1, "{report:?}");
    let tasks = mock.tasks();
    assert!(tasks[0].properties["hs_task_body"].contains("Wednesday"), "{:?}", tasks[0].properties);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_customers_are_shared_round_robin() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    send_burst(daemon.addr, "919820011111", "C1", &["price of the 2BHK please"]).await;
    send_burst(daemon.addr, "919820022222", "C2", &["price of the 3BHK please"]).await;
    let tasks = eventually(WAIT, "two tasks", || async { Some(mock.tasks()).filter(|t| t.len() == 2) }).await;
    let mut owners: Vec<String> = tasks.iter().map(|t| t.properties["hubspot_owner_id"].clone()).collect();
    owners.sort();
    assert_eq!(owners, [OWNER_A, OWNER_B]);
    assert_eq!(mock.report().contacts_created, 2);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_lost_response_is_found_again_not_duplicated() {
    let mock = start_mock(MockOptions::default()).await;
    mock.set_faults(FaultPlan {
        rate_lost: 1.0,
        lost_hang_ms: 0,
        paths: vec!["tasks/batch/create".to_owned()],
        ..FaultPlan::default()
    })
    .unwrap();
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    send_burst(daemon.addr, "919820033333", "LOST", &["I need a plumber today, urgent"]).await;

    eventually(WAIT, "a lost response", || async {
        Some(()).filter(|_| mock.report().faults_injected.lost_responses >= 1)
    })
    .await;
    mock.set_faults(FaultPlan::default()).unwrap();
    // The retry looks the task up by its handoff id and finds it: no second create.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let report = mock.report();
    assert_eq!(report.tasks_created, 1, "{report:?}");
    assert_eq!(report.duplicate_tasks, 0, "{report:?}");
    assert!(report.requests_per_endpoint.keys().any(|k| k.contains("tasks/search")), "{report:?}");
    assert_eq!(daemon.store.stage_counts().await.unwrap().outbox_pending, 0, "the job is finished");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_task_is_dead_lettered_with_hubspots_message() {
    let mock = start_mock(MockOptions::default()).await;
    // HubSpot refuses every task write for good (a 400 with its validation message).
    let refuse = FaultPlan { rate_400: 1.0, paths: vec!["objects/tasks/batch".into()], ..FaultPlan::default() };
    mock.set_faults(refuse).unwrap();
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    send_burst(daemon.addr, "919820044444", "DLQ", &["call me about the price"]).await;

    let store = daemon.store.clone();
    let dead = eventually(WAIT, "a dead letter", || {
        let store = store.clone();
        async move { store.list_dead_letters(10).await.ok().filter(|d| !d.is_empty()) }
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].last_error.contains(handoffd_mocks::faults::INJECTED_REJECTION),
        "HubSpot's message is kept: {}",
        dead[0].last_error
    );
    assert!(dead[0].attempts <= 1, "a 4xx is not retried: {:?}", dead[0]);
    assert_eq!(mock.report().tasks_created, 0);
    daemon.shutdown().await.unwrap();
}

/// An owner the CRM does not list (found at the owner sync the daemon runs at start) gets no task: with
/// nobody else in the pool the task is still written, unassigned, saying so, and the audit says why.
#[tokio::test]
async fn an_owner_the_crm_does_not_know_is_passed_over_and_the_task_still_written() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.owners = vec!["99999999"];
    let daemon = harness.start().await;
    // The sync at start lists the mock's owners before the handoff is routed.
    let store = daemon.store.clone();
    eventually(WAIT, "the CRM's owners synced", || {
        let store = store.clone();
        async move { store.crm_owners("hubspot-main").await.ok().filter(|o| !o.is_empty()) }
    })
    .await;
    send_burst(daemon.addr, "919820044445", "Nobody", &["call me about the price"]).await;

    let tasks = eventually(WAIT, "the task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) }).await;
    let props = &tasks[0].properties;
    assert!(!props.contains_key("hubspot_owner_id") || props["hubspot_owner_id"].is_empty(), "{props:?}");
    assert!(props["hs_task_body"].contains("Unassigned: nobody in pool `default` is available"), "{props:?}");
    let audit = daemon.store.audit_for_handoff(&props["handoffd_handoff_id"]).await.unwrap();
    let routed = audit.iter().find(|a| a.event == "routed").expect("a routed entry");
    let candidate = &routed.detail["decision"]["pools"][0]["candidates"][0];
    assert_eq!(candidate["owner"], "99999999");
    assert_eq!(candidate["excluded"], "unknown in the CRM: no user with id `99999999`");
    daemon.shutdown().await.unwrap();
}

/// Handoffs that become ready within `delivery.linger` of each other share their calls: one search for the new
/// customers, one batch of contacts, one batch of tasks.
#[tokio::test]
async fn handoffs_ready_together_share_one_batch_of_each_call() {
    const CUSTOMERS: usize = 6;
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.linger = "1500ms";
    let daemon = harness.start().await;

    for customer in 0..CUSTOMERS {
        let body = text_webhook(
            &format!("wamid.SHARE{customer}"),
            &format!("9198200{customer:05}"),
            "Asha Rao",
            "Hi, is the 2BHK in Wakad still available? Please call me",
            now_unix(),
        );
        assert_eq!(post_signed(daemon.addr, &body).await, 200);
        // Ready one after another, well within the linger.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eventually(WAIT, "a task per customer", || async { Some(()).filter(|_| mock.tasks().len() == CUSTOMERS) }).await;

    let report = mock.report();
    let calls = |route: &str| report.requests_per_endpoint.get(route).copied().unwrap_or(0);
    assert_eq!(calls("POST /hubspot/crm/v3/objects/tasks/batch/create"), 1, "{report:#?}");
    assert_eq!(calls("POST /hubspot/crm/v3/objects/contacts/batch/create"), 1, "{report:#?}");
    assert_eq!(calls("POST /hubspot/crm/v3/objects/contacts"), 0, "no contact created alone: {report:#?}");
    assert_eq!(calls("POST /hubspot/crm/v3/objects/contacts/search"), 1, "{report:#?}");
    assert_eq!((report.contacts_created, report.duplicate_contacts), (CUSTOMERS as u64, 0));
    // Every task is associated with its own customer's contact.
    let contacts: std::collections::BTreeSet<_> =
        mock.tasks().iter().map(|t| t.associations[0].to_id.clone()).collect();
    assert_eq!(contacts.len(), CUSTOMERS, "{:#?}", mock.tasks());
    daemon.shutdown().await.unwrap();
}
